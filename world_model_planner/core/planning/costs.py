# Copyright 2026 The world_model_planner Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""The planning cost of imagined futures, vectorised over samples and steps.

Terms (config: planner.cost): squared latent distance to the goal latent (image goals), tool
distance to the goal through the proprio head and forward kinematics, action smoothness, a
quadratic barrier inside the joint limits, and ensemble disagreement, which steers plans away
from states the model has not learned (where its imagination cannot be trusted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import CostWeights
from ..robot import Robot
from ..runtime import Rollout


@dataclass
class Goal:
    """A reach goal as the cost sees it. latent: only for image goals (the goal image's latent)."""

    tool_position: np.ndarray  # (3,)
    joints: np.ndarray | None = None  # (J,) when known or estimated
    latent: np.ndarray | None = None  # (D,)
    kind: str = "joints"  # image | joints | tool


class PlanningCost:
    def __init__(self, weights: CostWeights, robot: Robot, action_bound: np.ndarray,
                 horizon: int) -> None:
        self.w = weights
        self.robot = robot
        self.bound = np.asarray(action_bound, dtype=np.float32)
        self.lower = (robot.lower + weights.limit_margin).astype(np.float32)
        self.upper = (robot.upper - weights.limit_margin).astype(np.float32)
        steps = np.ones(horizon, dtype=np.float32)
        steps[-1] += weights.terminal
        self.step_weights = steps / steps.sum()

    def __call__(self, rollout: Rollout, actions: np.ndarray, previous_action: np.ndarray,
                 goal: Goal, use_latent: bool = True, joint_offset: np.ndarray | None = None
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Cost (N,) of N imagined futures, and each term (N,) for diagnostics.

        joint_offset: measured joints minus what the proprio head reads from the start latent;
        added to every imagined step, so the head's bias at the current state cancels and only
        the motion the model predicts counts."""
        w, sw = self.w, self.step_weights
        joints = rollout.joint_positions
        if joint_offset is not None:
            joints = joints + joint_offset
        tool = self.robot.tool_positions(joints)  # (N,H,3)
        terms: dict[str, np.ndarray] = {}
        terms["tool_goal"] = w.tool_goal * (np.linalg.norm(tool - goal.tool_position, axis=-1)
                                            @ sw)
        if goal.joints is not None and w.joint_goal > 0:
            d = joints - goal.joints
            terms["joint_goal"] = w.joint_goal * (np.mean(d * d, axis=-1) @ sw)
        if use_latent and goal.latent is not None and w.latent_goal > 0:
            diff = rollout.latent_mean - goal.latent
            terms["latent_goal"] = w.latent_goal * (np.mean(diff * diff, axis=-1) @ sw)
        scaled = actions / self.bound
        prev = (np.asarray(previous_action, dtype=np.float32) / self.bound)[None, None, :]
        delta = np.diff(np.concatenate([np.broadcast_to(prev, (len(actions), 1, prev.shape[-1])),
                                        scaled], axis=1), axis=1)
        terms["smoothness"] = w.smoothness * np.mean(np.sum(delta * delta, axis=-1), axis=-1)
        below = np.maximum(self.lower - joints, 0.0)
        above = np.maximum(joints - self.upper, 0.0)
        terms["joint_limit"] = w.joint_limit * np.sum(below * below + above * above, axis=(1, 2))
        terms["disagreement"] = w.disagreement * np.mean(rollout.disagreement, axis=-1)
        total = np.zeros(len(actions), dtype=np.float64)
        for value in terms.values():
            total += value
        return total, terms

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

Push goals (planner.push) replace the reach terms: the imagined object's distance (and turn)
to the goal object read from the goal image, and the tool's distance to where a push towards
the goal starts, behind the object as imagined at each step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import CostWeights, PushCostConfig
from ..robot import Robot
from ..runtime import Rollout


@dataclass
class Goal:
    """A reach goal as the cost sees it. latent: only for image goals (the goal image's latent)."""

    tool_position: np.ndarray | None  # (3,); None for push goals
    joints: np.ndarray | None = None  # (J,) when known or estimated
    latent: np.ndarray | None = None  # (D,)
    kind: str = "joints"  # image | joints | tool | push
    object: np.ndarray | None = None  # push: goal object features x, y, cos/sin(k yaw)


class PlanningCost:
    def __init__(self, weights: CostWeights, robot: Robot, action_bound: np.ndarray,
                 horizon: int, push: PushCostConfig | None = None) -> None:
        self.w = weights
        self.push = push or PushCostConfig()
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
        latent_weight = w.latent_goal
        if goal.kind == "push":
            terms.update(self.push_terms(rollout, tool, goal, actions))
            latent_weight = self.push.latent_goal
        else:
            assert goal.tool_position is not None
            terms["tool_goal"] = w.tool_goal * (
                np.linalg.norm(tool - goal.tool_position, axis=-1) @ sw)
            if goal.joints is not None and w.joint_goal > 0:
                d = joints - goal.joints
                terms["joint_goal"] = w.joint_goal * (np.mean(d * d, axis=-1) @ sw)
        if use_latent and goal.latent is not None and latent_weight > 0:
            diff = rollout.latent_mean - goal.latent
            terms["latent_goal"] = latent_weight * (np.mean(diff * diff, axis=-1) @ sw)
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

    def push_terms(self, rollout: Rollout, tool: np.ndarray, goal: Goal,
                   actions: np.ndarray) -> dict[str, np.ndarray]:
        """Object distance and turn to the goal, the tool's distance to where a push towards
        the goal starts (behind the imagined object, on the line through the goal), and, once
        the object is placed, the arm's motion."""
        if rollout.object is None or goal.object is None:
            raise ValueError("a push goal needs a push model (meta.json task: push) with an "
                             "object head, and a goal object")
        p, sw = self.push, self.step_weights
        obj = rollout.object  # (N,H,4)
        to_goal = goal.object[:2] - obj[..., :2]
        distance = np.linalg.norm(to_goal, axis=-1)
        terms = {"object_goal": p.object_goal * (distance @ sw)}
        if p.object_yaw > 0:
            turn = obj[..., 2:] / np.maximum(np.linalg.norm(obj[..., 2:], axis=-1,
                                                            keepdims=True), 1e-6)
            want = goal.object[2:] / max(float(np.linalg.norm(goal.object[2:])), 1e-6)
            terms["object_yaw"] = p.object_yaw * ((1.0 - turn @ want) @ sw)
        direction = to_goal / np.maximum(distance, 1e-6)[..., None]
        start = obj[..., :2] - p.contact_offset * direction
        gap = np.concatenate([tool[..., :2] - start, tool[..., 2:3] - p.tool_height], axis=-1)
        fade = np.minimum(distance / p.approach_fade, 1.0)
        terms["approach"] = p.approach * ((fade * np.linalg.norm(gap, axis=-1)) @ sw)
        if p.settle > 0:
            motion = np.sum((actions / self.bound) ** 2, axis=-1)
            terms["settle"] = p.settle * (((1.0 - fade) * motion) @ sw)
        return terms

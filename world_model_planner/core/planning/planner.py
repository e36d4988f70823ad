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
"""The latent MPC planner: one batched world-model call per optimiser iteration.

Given the current latent and a goal, the optimiser proposes N action sequences; the world model
rolls all of them forward for H steps with every ensemble member in a single call; the cost turns
the imagined futures into N numbers. No Python loop runs over samples or steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..config import PlannerConfig
from ..robot import Robot
from ..runtime import Rollout
from .costs import Goal, PlanningCost
from .optimizers import make_optimizer
from .push_prior import PushPrior


class WorldModelBackend(Protocol):
    """What the planner needs from a world model (ONNX Runtime or PyTorch)."""

    horizon: int
    latent_dim: int
    joints: int
    joint_names: list[str]
    action_bound: np.ndarray
    provider: str
    meta: dict

    def encode(self, image: np.ndarray, joint_state: np.ndarray,
               modality: np.ndarray) -> np.ndarray: ...

    def rollout(self, latent: np.ndarray, actions: np.ndarray) -> Rollout: ...

    def proprio(self, latent: np.ndarray) -> np.ndarray: ...

    def decode(self, latent: np.ndarray) -> np.ndarray: ...

    def object(self, latent: np.ndarray) -> np.ndarray: ...  # push models only


@dataclass
class Plan:
    action: np.ndarray  # (J,) first joint delta to execute
    actions: np.ndarray  # (H,J)
    cost: float
    predicted_joints: np.ndarray  # (H,J) of the chosen sequence
    predicted_tool: np.ndarray  # (H,3)
    predicted_latents: np.ndarray  # (H,D)
    disagreement: np.ndarray  # (H,)
    seconds: float
    terms: dict[str, float] = field(default_factory=dict)
    costs_per_iteration: list[float] = field(default_factory=list)


def check_horizon(cfg: PlannerConfig, model: WorldModelBackend) -> None:
    """The exported dynamics graph rolls a fixed number of steps; the planner must use it."""
    if cfg.horizon != model.horizon:
        raise ValueError(f"planner.horizon is {cfg.horizon} but the model was exported for "
                         f"{model.horizon} steps; set planner.horizon: {model.horizon} or "
                         f"re-export with 'wmp export --horizon {cfg.horizon}'")


def predict_next(model: WorldModelBackend, latent: np.ndarray, action: np.ndarray) -> np.ndarray:
    """The ensemble-mean latent one step after executing `action` from `latent`."""
    actions = np.zeros((1, model.horizon, len(action)), dtype=np.float32)
    actions[0, 0] = action
    return model.rollout(np.asarray(latent, np.float32)[None], actions).latent_mean[0, 0].copy()


class LatentPlanner:
    def __init__(self, model: WorldModelBackend, robot: Robot, cfg: PlannerConfig) -> None:
        check_horizon(cfg, model)
        self.model, self.robot, self.cfg = model, robot, cfg
        self.bound = np.asarray(model.action_bound, dtype=np.float32)
        self.cost = PlanningCost(cfg.cost, robot, self.bound, cfg.horizon, cfg.push)
        self.optimizer = make_optimizer(cfg.optimizer, self.bound, cfg.horizon)
        self.previous_action = np.zeros(len(self.bound), dtype=np.float32)
        self._latents = np.empty((cfg.optimizer.samples, model.latent_dim), dtype=np.float32)
        self.prior = (PushPrior(robot, self.bound, cfg.horizon, cfg.push.contact_offset)
                      if cfg.optimizer.prior_samples > 0
                      and getattr(model, "meta", {}).get("task") == "push" else None)

    def reset(self, seed: int | None = None) -> None:
        self.optimizer.reset(seed)
        self.previous_action[:] = 0.0
        if self.prior is not None:
            self.prior.reset()

    def _proposal(self, latent: np.ndarray, goal: Goal,
                  qpos: np.ndarray | None) -> np.ndarray | None:
        """The push primitive's sequence from the object the model reads from `latent`."""
        if self.prior is None or goal.kind != "push" or goal.object is None or qpos is None:
            return None
        obj = self.model.object(np.asarray(latent, np.float32)[None])[0]
        return self.prior.sequence(qpos, obj, goal.object)

    def plan(self, latent: np.ndarray, goal: Goal, use_latent_goal: bool = True,
             qpos: np.ndarray | None = None) -> Plan:
        """Optimise from `latent`; with the measured `qpos`, imagined joints are anchored to it
        (the proprio head's reading of the start latent is replaced by the measurement)."""
        started = time.perf_counter()
        offset = None
        if qpos is not None:
            head = self.model.proprio(np.asarray(latent, np.float32)[None])[0, : len(self.bound)]
            offset = (np.asarray(qpos, np.float32) - head).astype(np.float32)
        self._latents[:] = latent
        kept: dict[str, object] = {}

        def evaluate(samples: np.ndarray) -> np.ndarray:
            rollout = self.model.rollout(self._latents, samples)
            costs, terms = self.cost(rollout, samples, self.previous_action, goal,
                                     use_latent=use_latent_goal, joint_offset=offset)
            best = int(np.argmin(costs))
            kept.update(joints=rollout.joint_positions[best].copy(),
                        latents=rollout.latent_mean[best].copy(),
                        disagreement=rollout.disagreement[best].copy(),
                        terms={k: float(v[best]) for k, v in terms.items()})
            return costs

        result = self.optimizer.optimize(evaluate, self._proposal(latent, goal, qpos))
        if result.sampled:
            joints, latents = kept["joints"], kept["latents"]
            disagreement, terms = kept["disagreement"], kept["terms"]
        else:  # MPPI executes a weighted mean: show the imagined path of that mean
            rollout = self.model.rollout(self._latents[:1], result.actions[None])
            joints, latents = rollout.joint_positions[0].copy(), rollout.latent_mean[0].copy()
            disagreement, terms = rollout.disagreement[0].copy(), {}
        if offset is not None:
            joints = joints + offset
        action = result.actions[0].copy()
        self.previous_action = action
        return Plan(action=action, actions=result.actions, cost=result.cost,
                    predicted_joints=np.asarray(joints), predicted_tool=self.robot.tool_positions(
                        np.asarray(joints)), predicted_latents=np.asarray(latents),
                    disagreement=np.asarray(disagreement), seconds=time.perf_counter() - started,
                    terms=dict(terms), costs_per_iteration=result.costs_per_iteration)

    def predict_next(self, latent: np.ndarray, action: np.ndarray) -> np.ndarray:
        return predict_next(self.model, latent, action)

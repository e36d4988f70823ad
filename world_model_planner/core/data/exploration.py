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
"""The exploration policy that generates world-model training data.

A world model is only as good as the states and actions it has seen. Pure random motion dithers
near its start and rarely reaches the far workspace; pure goal-reaching never shows the model what
happens off the straight line. This policy alternates the two in segments: smooth correlated
random motion, and moves towards random reachable targets that decelerate and settle (the fine,
slow motion the planner needs near a goal).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..config import ExplorationConfig, PushExplorationConfig
from ..sim.pushing import ScriptedPusher


class ExplorationPolicy:
    """Joint-delta actions in [-bound, bound] that keep the arm inside [lower, upper]."""

    def __init__(self, config: ExplorationConfig, bound: np.ndarray, lower: np.ndarray,
                 upper: np.ndarray, sample_target: Callable[[np.random.Generator], np.ndarray],
                 rng: np.random.Generator) -> None:
        self.config = config
        self.bound = np.asarray(bound, dtype=float)
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)
        self.sample_target = sample_target
        self.rng = rng
        self._velocity = np.zeros_like(self.bound)
        self._left = 0
        self._target: np.ndarray | None = None

    def _new_segment(self) -> None:
        lo, hi = self.config.segment_steps
        self._left = int(self.rng.integers(lo, max(lo, hi) + 1))
        if self.rng.random() < self.config.goal_directed_fraction:
            self._target = self.sample_target(self.rng)
        else:
            self._target = None

    def restart(self) -> None:
        """Draw a new segment at the next step."""
        self._left = 0

    def act(self, q: np.ndarray) -> np.ndarray:
        if self._left <= 0:
            self._new_segment()
        self._left -= 1
        cfg, rng = self.config, self.rng
        noise = rng.standard_normal(self.bound.shape)
        if self._target is not None:
            step = cfg.goal_gain * (self._target - q) + cfg.goal_noise * self.bound * noise
        else:
            a = cfg.smoothness
            self._velocity = a * self._velocity + np.sqrt(1 - a * a) * noise
            step = cfg.random_scale * self.bound * self._velocity
            # Bounce off the limits instead of pressing into them for the rest of the segment.
            outside = (((q + step < self.lower) & (step < 0))
                       | ((q + step > self.upper) & (step > 0)))
            self._velocity[outside] *= -1.0
            step[outside] *= -1.0
        return np.clip(step, -self.bound, self.bound)


class PushExploration:
    """Push-task exploration: scripted pushes towards the goal or random points, with noise,
    alternating with the arm's own exploration (which mostly leaves the object alone, so the
    data shows both that pushed objects move and that untouched ones stay)."""

    def __init__(self, config: PushExplorationConfig, arm: ExplorationPolicy,
                 pusher: ScriptedPusher, sample_target: Callable[[np.random.Generator],
                                                                 np.ndarray],
                 goal: np.ndarray, rng: np.random.Generator) -> None:
        self.config, self.arm, self.pusher = config, arm, pusher
        self.sample_target, self.goal, self.rng = sample_target, np.asarray(goal, float), rng
        self._left = 0
        self._target: np.ndarray | None = None

    def _new_segment(self) -> None:
        cfg, rng = self.config, self.rng
        lo, hi = cfg.push_steps
        self._left = int(rng.integers(lo, max(lo, hi) + 1))
        self._target = None
        if rng.random() < cfg.push_fraction:
            self._target = (self.goal[:2] if rng.random() < cfg.goal_fraction
                            else self.sample_target(rng)[:2])
            self.pusher.reset()
        else:
            self.arm.restart()

    def act(self, q: np.ndarray, object_pose: np.ndarray) -> np.ndarray:
        if self._left <= 0:
            self._new_segment()
        self._left -= 1
        if self._target is None:
            return self.arm.act(q)
        bound = self.pusher.bound
        step = self.pusher.act(q, object_pose, self._target)
        step = step + self.config.noise * bound * self.rng.standard_normal(bound.shape)
        return np.clip(step, -bound, bound)

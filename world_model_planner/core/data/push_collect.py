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
"""What `wmp collect --task push` adds to an episode: the object's look, start, goal and the
exploration that pushes it around (scripted pushes with noise, and the arm's own wandering)."""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..config import CollectConfig, RandomizationConfig, SimulationConfig
from ..sim.arm import ArmSim
from ..sim.push import PushGoal, PushTask
from ..sim.push_object import ObjectLook, bounding_radius
from ..sim.pushing import ScriptedPusher, ToolIK
from .exploration import ExplorationPolicy, PushExploration

# Heights (m) of the tool targets the arm's own exploration wanders between.
WANDER_HEIGHT = (0.02, 0.3)


def object_look(cfg: RandomizationConfig, base_rgba: tuple[float, ...],
                rng: np.random.Generator) -> ObjectLook:
    """One episode's object: size, mass, friction and hue drawn from the configured ranges.
    Nothing is drawn when randomisation is off."""
    if not cfg.enabled:
        return ObjectLook()
    size, mass, friction = (float(rng.uniform(*r)) for r in (
        cfg.object_size, cfg.object_mass, cfg.object_friction))
    h, s, v = colorsys.rgb_to_hsv(*base_rgba[:3])
    shift = float(rng.uniform(-cfg.object_hue, cfg.object_hue))
    rgba = (*colorsys.hsv_to_rgb((h + shift) % 1.0, s, v), base_rgba[3])
    return ObjectLook(size, mass, friction, tuple(float(c) for c in rgba))  # type: ignore[arg-type]


class PushCollector:
    """The push task's part of an episode, for :class:`EpisodeCollector`."""

    def __init__(self, sim: ArmSim, simulation: SimulationConfig, config: CollectConfig,
                 bound: np.ndarray) -> None:
        self.sim, self.config = sim, config
        self.task = PushTask(sim, simulation.push)
        lower, upper = sim.robot.limits_with_margin()
        self.ik = ToolIK(sim.robot, lower, upper)
        self.bound = bound
        self.object = simulation.push.object

    def _wander_target(self, rng: np.random.Generator) -> np.ndarray:
        """Joints putting the tool above a random point of the workspace."""
        x, y, _ = self.task.sample_pose(rng)
        point = np.array([x, y, rng.uniform(*WANDER_HEIGHT)])
        q, _ = self.ik.solve(point, self.task.rest_pose)
        return q

    def start(self, rng: np.random.Generator, explore_lower: np.ndarray,
              explore_upper: np.ndarray) -> tuple[Any, PushGoal, Callable[..., np.ndarray]]:
        """(first observation, goal, exploration step) of a new episode."""
        look = object_look(self.config.randomization, self.object.rgba, rng)
        episode, goal_pose = self.task.sample_episode(rng)
        obs = self.task.reset(episode)
        self.sim.set_object_look(look)
        obs = self.sim.observe()
        goal = self.task.make_goal(goal_pose)
        arm = ExplorationPolicy(self.config.exploration, self.bound, explore_lower,
                                explore_upper, self._wander_target, rng)
        radius = bounding_radius(self.object) * look.size_scale
        pusher = ScriptedPusher(self.sim.robot, self.ik, self.bound, radius)
        policy = PushExploration(self.config.push, arm, pusher, self.task.sample_pose,
                                 goal_pose, rng)
        return obs, goal, policy.act

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
"""The reach task: move the tool to where it is in a goal image.

Goals are seeded, reachable joint configurations whose tool is above the floor, inside the camera
image and clear of collisions; the goal image is a render of the arm at the goal, so the task can
be posed to a planner with nothing but pictures. Success is the tool within a radius of the goal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ReachTaskConfig
from ..robot import shrink_limits
from .arm import ArmSim
from .cell import workspace_limits

MAX_TRIES = 10_000


@dataclass(frozen=True)
class ReachGoal:
    joints: np.ndarray
    tool_position: np.ndarray
    image: np.ndarray


class ReachTask:
    def __init__(self, sim: ArmSim, config: ReachTaskConfig | None = None) -> None:
        self.sim = sim
        self.config = config or ReachTaskConfig()
        self.lower, self.upper = shrink_limits(*workspace_limits(sim.robot),
                                               self.config.joint_margin)
        # The first joint is the base yaw: keep goals on the camera's side of the arm.
        self.lower[0] = max(self.lower[0], -self.config.yaw_range)
        self.upper[0] = min(self.upper[0], self.config.yaw_range)

    def is_valid(self, q: np.ndarray) -> bool:
        """Inside the margins, tool above the floor and in the image, no collision."""
        cfg, sim = self.config, self.sim
        if np.any(q < self.lower) or np.any(q > self.upper):
            return False
        tool = sim.tool_position_at(q)
        if tool[2] < cfg.min_tool_height:
            return False
        u, v = sim.project(tool)
        w, h = sim.config.image_width, sim.config.image_height
        mu, mv = cfg.image_margin * w, cfg.image_margin * h
        if not (mu <= u <= w - mu and mv <= v <= h - mv):
            return False
        return not sim.in_collision(q)

    def sample_configuration(self, rng: np.random.Generator) -> np.ndarray:
        for _ in range(MAX_TRIES):
            q = rng.uniform(self.lower, self.upper)
            if self.is_valid(q):
                return q
        raise RuntimeError("no valid reach configuration found; reach.joint_margin, "
                           "reach.yaw_range or reach.min_tool_height in the sim config leave no "
                           "reachable space")

    def sample_episode(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(start, goal) joint configurations at least min_goal_distance apart at the tool."""
        for _ in range(MAX_TRIES):
            start, goal = self.sample_configuration(rng), self.sample_configuration(rng)
            distance = np.linalg.norm(self.sim.tool_position_at(start)
                                      - self.sim.tool_position_at(goal))
            if distance >= self.config.min_goal_distance:
                return start, goal
        raise RuntimeError("no start/goal pair far enough apart; lower reach.min_goal_distance")

    def make_goal(self, joints: np.ndarray) -> ReachGoal:
        """The goal at `joints`, with its image rendered in the scene as it looks now."""
        joints = np.asarray(joints, dtype=float)
        return ReachGoal(joints, self.sim.tool_position_at(joints), self.sim.render_at(joints))

    def error(self, goal: ReachGoal) -> float:
        """Tool distance to the goal now (m)."""
        return float(np.linalg.norm(self.sim.tool_position() - goal.tool_position))

    def success(self, goal: ReachGoal) -> bool:
        return self.error(goal) <= self.config.success_radius

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
"""The push task: move an object on the floor to where a goal image shows it.

Starts and goals are seeded object poses (x, y, yaw) in a band in front of the arm, inside the
camera's view; the arm starts each episode at a fixed rest pose, and the goal image shows the
object at its goal with the arm at that pose, so the task is posed with pictures alone. Success:
the object's centre within a radius of the goal (and its yaw within a tolerance for shapes whose
orientation matters). The config is checked at start-up: an object out of the camera's view,
out of the arm's pushing reach, or touching the resting arm is refused with the key named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import ConfigError, PushTaskConfig
from .arm import ArmSim
from .push_object import bounding_radius, footprint_corners, yaw_error
from .pushing import PusherSettings, ToolIK

MAX_TRIES = 10_000


@dataclass(frozen=True)
class PushGoal:
    object_pose: np.ndarray  # (x, y, yaw) in the world frame
    image: np.ndarray


@dataclass(frozen=True)
class PushEpisode:
    """Where one episode starts: the arm's joints and the object's pose."""

    joints: np.ndarray
    object_pose: np.ndarray


class PushTask:
    def __init__(self, sim: ArmSim, config: PushTaskConfig | None = None) -> None:
        if sim.push_object is None:
            raise ValueError("the push task needs a simulator with its object "
                             "(core.sim.arm.simulator_for with task: push)")
        self.sim = sim
        self.config = config or PushTaskConfig()
        self.radius = bounding_radius(self.config.object)
        self.rest_pose = self._checked_rest_pose()
        self._check_workspace()

    # -- start-up checks (each names the key to fix) -------------------------------------------

    def _checked_rest_pose(self) -> np.ndarray:
        robot, q = self.sim.robot, np.asarray(self.config.rest_pose, float)
        if q.shape != (robot.dof,):
            raise ConfigError(f"push.rest_pose: needs {robot.dof} joint positions "
                              f"({', '.join(robot.joint_names)}), got {len(q)}")
        lower, upper = robot.limits_with_margin()
        if np.any(q < lower) or np.any(q > upper):
            raise ConfigError(f"push.rest_pose: {q.tolist()} is outside the joint limits with "
                              f"margin [{lower.tolist()}, {upper.tolist()}]")
        if self.sim.in_collision(q):
            raise ConfigError(f"push.rest_pose: the arm at {q.tolist()} touches itself or the "
                              "floor; choose a pose clear of both")
        return q

    def band_corners(self) -> list[np.ndarray]:
        """Object poses at the corners and middles of the workspace band, each yaw quadrant."""
        cfg = self.config
        poses = []
        for r in cfg.radius:
            for bearing in (-cfg.bearing, 0.0, cfg.bearing):
                for yaw in (0.0, math.pi / 4, math.pi / 2, 3 * math.pi / 4):
                    poses.append(np.array([r * math.cos(bearing), r * math.sin(bearing), yaw]))
        return poses

    def _check_workspace(self) -> None:
        cfg = self.config
        if cfg.radius[0] >= cfg.radius[1]:
            raise ConfigError(f"push.radius: min {cfg.radius[0]} must be below max "
                              f"{cfg.radius[1]}")
        if cfg.min_goal_distance >= cfg.max_goal_distance:
            raise ConfigError("push.min_goal_distance must be below push.max_goal_distance")
        for pose in self.band_corners():
            if not self.in_view(pose):
                raise ConfigError(
                    f"push.radius / push.bearing / push.object: the object at {_fmt(pose)} is "
                    f"out of camera '{self.sim.camera_name}''s view (push.image_margin "
                    f"{cfg.image_margin}); shrink the workspace or the object, or move the camera")
            if self.sim.in_collision(self.rest_pose, pose):
                raise ConfigError(
                    f"push.radius / push.rest_pose: the object at {_fmt(pose)} touches the arm "
                    "at its rest pose; move the band out or the rest pose up")
        self._check_reach()

    def _check_reach(self) -> None:
        """The tool must get behind the object at the far edge of the band to push inwards,
        and beyond it to push outwards."""
        robot = self.sim.robot
        lower, upper = robot.limits_with_margin()
        ik = ToolIK(robot, lower, upper)
        height = PusherSettings().push_height
        far = self.config.radius[1] + self.radius + PusherSettings().standoff
        for bearing in (-self.config.bearing, 0.0, self.config.bearing):
            point = np.array([far * math.cos(bearing), far * math.sin(bearing), height])
            guess = self.rest_pose.copy()
            _, error = ik.solve(point, guess, iterations=40)
            if error > 0.01:
                raise ConfigError(
                    f"push.radius / push.object: to push the object at the band's far edge the "
                    f"tool must reach {_fmt(point)}, {error:.3f} m beyond what "
                    f"{robot.name} reaches; lower push.radius or use a smaller object")

    def in_view(self, pose: np.ndarray) -> bool:
        """Whether the object's whole footprint (top and bottom) is inside the image margins."""
        cfg, sim = self.config, self.sim
        corners = footprint_corners(cfg.object, pose)
        points = np.concatenate([np.column_stack([corners, np.full(len(corners), z)])
                                 for z in (0.0, cfg.object.height)])
        uv = sim.project(points)
        w, h = sim.config.image_width, sim.config.image_height
        mu, mv = cfg.image_margin * w, cfg.image_margin * h
        return bool(np.all((uv[:, 0] >= mu) & (uv[:, 0] <= w - mu)
                           & (uv[:, 1] >= mv) & (uv[:, 1] <= h - mv)))

    # -- episodes ------------------------------------------------------------------------------

    def sample_pose(self, rng: np.random.Generator) -> np.ndarray:
        """An object pose uniform over the band's area, with any yaw."""
        lo, hi = self.config.radius
        r = math.sqrt(rng.uniform(lo * lo, hi * hi))
        bearing = rng.uniform(-self.config.bearing, self.config.bearing)
        return np.array([r * math.cos(bearing), r * math.sin(bearing),
                         rng.uniform(-math.pi, math.pi)])

    def sample_episode(self, rng: np.random.Generator) -> tuple[PushEpisode, np.ndarray]:
        """(start, goal object pose): goals min..max_goal_distance from the start, both in the
        band and in view."""
        cfg = self.config
        for _ in range(MAX_TRIES):
            start, goal = self.sample_pose(rng), self.sample_pose(rng)
            distance = float(np.linalg.norm(goal[:2] - start[:2]))
            if cfg.min_goal_distance <= distance <= cfg.max_goal_distance:
                return PushEpisode(self.rest_pose.copy(), start), goal
        raise RuntimeError("no start/goal pair at push.min_goal_distance..max_goal_distance "
                           "inside push.radius and push.bearing; widen the band or the range")

    def reset(self, episode: PushEpisode):
        """Put the arm and the object where the episode starts; the first observation."""
        return self.sim.reset(episode.joints, object_pose=episode.object_pose)

    def make_goal(self, object_pose: np.ndarray) -> PushGoal:
        """The goal at `object_pose`, its image drawn with the arm at rest as the scene looks."""
        pose = np.asarray(object_pose, dtype=float)
        return PushGoal(pose, self.sim.render_at(self.rest_pose, object_pose=pose))

    def errors(self, goal: PushGoal) -> tuple[float, float]:
        """(distance in m, yaw error in degrees modulo the shape's symmetry) now."""
        pose = self.sim.object_pose()
        distance = float(np.linalg.norm(pose[:2] - goal.object_pose[:2]))
        yaw = math.degrees(float(yaw_error(pose[2], goal.object_pose[2],
                                           self.config.object.symmetry)))
        return distance, yaw

    def error(self, goal: PushGoal) -> float:
        """Object distance to the goal now (m)."""
        return self.errors(goal)[0]

    def success(self, goal: PushGoal) -> bool:
        distance, yaw = self.errors(goal)
        if distance > self.config.success_radius:
            return False
        return self.config.object.symmetry > 1 or yaw <= self.config.success_yaw


def _fmt(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"

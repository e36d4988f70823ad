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
"""A scripted pusher that knows the object's true pose: tool IK and a push state machine.

It is the push task's no-learning reference (perfect state, hand-written strategy) and the core of
the exploration that collects push data: go around the object at a safe height, drop behind it on
the line through the target, and push along that line, re-aiming as the object turns and slides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..robot import Robot

DOWN = np.array([0.0, 0.0, -1.0])


class ToolIK:
    """Joint positions putting the tool at a point, its z axis pointing down (Gauss-Newton on the
    URDF's forward kinematics; any arm with a tool frame and at least three joints)."""

    def __init__(self, robot: Robot, lower: np.ndarray, upper: np.ndarray,
                 orientation_weight: float = 0.3) -> None:
        self.robot = robot
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)
        self.weight = orientation_weight

    def _residual(self, q: np.ndarray, target: np.ndarray) -> np.ndarray:
        t = self.robot.kinematics.transforms(self.robot.to_description_order(q))
        pos, axis = t[..., :3, 3], t[..., :3, 2]
        return np.concatenate([pos - target, self.weight * (axis - DOWN)], axis=-1)

    def solve(self, target: np.ndarray, q0: np.ndarray, iterations: int = 12,
              damping: float = 1e-3) -> tuple[np.ndarray, float]:
        """(joints, tool position error in m) from the start guess q0."""
        q = np.clip(np.asarray(q0, float), self.lower, self.upper)
        eps, n = 1e-4, len(q)
        for _ in range(iterations):
            probe = np.vstack([q, q + eps * np.eye(n)])
            r = self._residual(probe, target)
            jac = (r[1:] - r[0]).T / eps  # (6, n)
            step = np.linalg.solve(jac.T @ jac + damping * np.eye(n), -jac.T @ r[0])
            q = np.clip(q + step, self.lower, self.upper)
        error = float(np.linalg.norm(self._residual(q, target)[:3]))
        return q, error


@dataclass(frozen=True)
class PusherSettings:
    """Geometry and speeds of the scripted push (m, m per control step)."""

    push_height: float = 0.025  # tool height while pushing (the object's middle)
    travel_height: float = 0.12  # tool height when going around the object
    standoff: float = 0.035  # gap between the object's edge and the tool before a push
    speed: float = 0.025  # tool travel per control step while pushing
    travel_speed: float = 0.05  # and while going around
    aim_tolerance: float = 0.025  # sideways miss of the push line that restarts the approach
    arrive: float = 0.012  # how close a waypoint counts as reached


class ScriptedPusher:
    """Joint deltas that push an object of bounding radius `reach` to a target point.

    Phases: `lift` (rise to travel height), `over` (move above the point behind the object),
    `drop` (descend there), `push` (advance along the line to the target, steering the contact
    point to keep the object on it). A push that loses the line starts over from `lift`."""

    def __init__(self, robot: Robot, ik: ToolIK, bound: np.ndarray, radius: float,
                 settings: PusherSettings | None = None) -> None:
        self.robot, self.ik = robot, ik
        self.bound = np.asarray(bound, float)
        self.radius = radius
        self.s = settings or PusherSettings()
        self.phase = "lift"

    def reset(self) -> None:
        self.phase = "lift"

    @property
    def contact(self) -> float:
        """How far behind the object's centre a push aims the tool (m)."""
        return self.radius + 0.01

    def _behind(self, obj: np.ndarray, target: np.ndarray, extra: float) -> np.ndarray:
        d = target - obj[:2]
        d = d / max(np.linalg.norm(d), 1e-9)
        return obj[:2] - d * (self.radius + self.s.standoff + extra)

    def waypoint(self, tool: np.ndarray, obj: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Where the tool should be after this step (world xyz), advancing the phase."""
        s = self.s
        behind = self._behind(obj, target, 0.0)
        line = target - obj[:2]
        dist = np.linalg.norm(line)
        d = line / max(dist, 1e-9)
        off = tool[:2] - obj[:2]
        lateral = abs(float(d[0] * off[1] - d[1] * off[0]))
        if self.phase == "push" and (lateral > s.aim_tolerance + self.radius * 0.3
                                     or np.dot(tool[:2] - obj[:2], d) > 0.0):
            self.phase = "lift"
        if self.phase == "lift":
            if tool[2] >= s.travel_height - s.arrive:
                self.phase = "over"
            return np.array([tool[0], tool[1], s.travel_height])
        if self.phase == "over":
            goal = np.array([*behind, s.travel_height])
            if np.linalg.norm(goal[:2] - tool[:2]) < s.arrive:
                self.phase = "drop"
            return _toward(tool, goal, s.travel_speed)
        if self.phase == "drop":
            goal = np.array([*behind, s.push_height])
            if abs(tool[2] - s.push_height) < s.arrive:
                self.phase = "push"
            return _toward(tool, goal, s.travel_speed)
        # push: aim the contact point behind the object's centre, on the line to the target
        aim = obj[:2] - d * self.contact
        advance = min(s.speed, dist)
        goal = np.array([*(aim + d * advance + 0.5 * (aim - tool[:2])), s.push_height])
        return _toward(tool, goal, s.speed * 1.5)

    def act(self, q: np.ndarray, obj: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Joint delta (within the action bound) for this control step."""
        tool = self.robot.tool_positions(q)
        goal = self.waypoint(tool, obj, np.asarray(target, float)[:2])
        q_goal, _ = self.ik.solve(goal, q)
        return np.clip(q_goal - q, -self.bound, self.bound)


def _toward(point: np.ndarray, goal: np.ndarray, step: float) -> np.ndarray:
    delta = goal - point
    dist = float(np.linalg.norm(delta))
    return goal if dist <= step else point + delta * (step / dist)

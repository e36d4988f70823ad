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
"""Proposals for the push planner from a push primitive, scored by the world model.

Random action sequences rarely contain a push: the tool has to travel around the object, drop
behind it and advance along the line to the goal, and a few hundred samples over 8 steps seldom
line that up. Like a policy prior in TD-MPC2, a primitive proposes the sequence that does: the
scripted pusher of the push task, run on the object the model reads from its belief (never the
true pose) and on the goal the model reads from the goal image. The optimiser draws part of its
samples around that sequence and the world model's cost decides, so the primitive only helps
where the model predicts that its push works.
"""

from __future__ import annotations

import numpy as np

from ..robot import Robot
from ..sim.pushing import PusherSettings, ScriptedPusher, ToolIK


class PushPrior:
    """H-step joint-delta sequences of the push primitive, imagined kinematically.

    The imagined object stays put until the tool reaches the contact point behind it, then
    moves ahead of the tool along the push line (a quasi-static push), so the sequence keeps
    pushing over the horizon. The primitive's phase advances by the first step only: that is
    the step the controller sends. Near the goal the primitive keeps pushing (and would go
    round to push again after an overshoot): whether to stop there is the cost's to decide,
    with standing still always among the samples."""

    def __init__(self, robot: Robot, bound: np.ndarray, horizon: int, contact_offset: float,
                 settings: PusherSettings | None = None) -> None:
        self.settings = settings or PusherSettings()
        lower, upper = robot.limits_with_margin()
        # contact_offset is the object's footprint radius plus the pusher's standoff
        radius = max(contact_offset - self.settings.standoff, 0.01)
        self.pusher = ScriptedPusher(robot, ToolIK(robot, lower, upper), bound, radius,
                                     self.settings)
        self.robot, self.horizon = robot, horizon

    def reset(self) -> None:
        self.pusher.reset()

    def sequence(self, qpos: np.ndarray, obj: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """(H, J) joint deltas from joints `qpos`, object at obj[:2], goal object at goal[:2]."""
        q = np.asarray(qpos, dtype=np.float64).copy()
        obj_xy = np.asarray(obj, dtype=np.float64)[:2].copy()
        goal_xy = np.asarray(goal, dtype=np.float64)[:2]
        actions = np.empty((self.horizon, len(q)), dtype=np.float32)
        phase_after_first = self.pusher.phase
        for t in range(self.horizon):
            actions[t] = self.pusher.act(q, obj_xy, goal_xy)
            if t == 0:
                phase_after_first = self.pusher.phase
            q = q + actions[t]
            if self.pusher.phase == "push":
                obj_xy = self._pushed(obj_xy, self.robot.tool_positions(q), goal_xy)
        self.pusher.phase = phase_after_first
        return actions

    def _pushed(self, obj_xy: np.ndarray, tool: np.ndarray, goal_xy: np.ndarray) -> np.ndarray:
        """Where the object goes when the tool advances into its back edge."""
        line = goal_xy - obj_xy
        dist = float(np.linalg.norm(line))
        if dist < 1e-6:
            return obj_xy
        d = line / dist
        ahead = float(np.dot(tool[:2] - obj_xy, d)) + self.pusher.contact
        return obj_xy + d * min(max(ahead, 0.0), dist)

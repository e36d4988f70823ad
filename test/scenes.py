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
"""Seeded reach episodes for tests that need a real frame, joint state and goal."""

from __future__ import annotations

from typing import Any

import numpy as np


def reach_episode(seed: int) -> tuple[Any, Any, Any, Any]:
    """(sim, task, start observation, goal) of the seeded episode; the caller closes sim."""
    from world_model_planner.core.sim.arm import ArmSim
    from world_model_planner.core.sim.reach import ReachTask

    sim = ArmSim()
    task = ReachTask(sim)
    start, goal_q = task.sample_episode(np.random.default_rng(seed))
    obs = sim.reset(start)
    return sim, task, obs, task.make_goal(goal_q)

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
"""launch_testing: `ros2 launch world_model_planner bringup.launch.py mode:=mujoco` drives the
embedded arm to its goals and shuts down cleanly.

From the repository root, on a ROS 2 install (Jazzy/Kilted) with this package built and sourced:
    launch_test test/test_mujoco_launch.py
Without a ROS 2 install (launch from ../shared/ros2-launch-jazzy):
    .venv/bin/python tools/launch_env.py launch_test test/test_mujoco_launch.py
`make test` runs it the second way (test_launch_testing.py); plain pytest skips this module.
"""

from __future__ import annotations

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # launch_commands, launch_harness

import launch_commands  # noqa: E402

launch_commands.skip_unless_run_by_launch_testing(__file__)

import launch  # noqa: E402
import launch_harness  # noqa: E402
import launch_testing  # noqa: E402
import launch_testing.asserts  # noqa: E402
import pytest  # noqa: E402

from world_model_planner.core.robot import Robot  # noqa: E402

STARTUP_S = 120.0  # model load and verification on a slow CI machine
GOAL_S = 300.0  # a few goals of 60 steps at 10 Hz, with margin


@pytest.mark.launch_test
@pytest.mark.rostest
def generate_test_description() -> launch.LaunchDescription:
    return launch_harness.launch_description(launch_commands.MUJOCO)


class TestMujocoBringup(launch_harness.BringupTest):
    node_name = "test_mujoco_bringup"

    def test_1_planner_reaches_active(self) -> None:
        self.assert_planner_active(STARTUP_S)

    def test_2_commands_flow(self) -> None:
        self.assert_commands_flow(STARTUP_S, Robot.load().dof)

    def test_3_arm_reaches_a_goal(self) -> None:
        self.assert_goal_reached(GOAL_S)


@launch_testing.post_shutdown_test()
class TestMujocoShutdown(unittest.TestCase):
    def test_nodes_exit_cleanly(self, proc_info) -> None:
        # The nodes handle launch's SIGINT and exit 0 (a signal's negative status, or SIGTERM
        # after launch's timeout, would mean they did not).
        launch_testing.asserts.assertExitCodes(proc_info)

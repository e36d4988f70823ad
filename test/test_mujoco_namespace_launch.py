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
"""launch_testing: mode:=mujoco with namespace:=arm1, command_interface:=trajectory and another
shipped model: the whole graph moves into /arm1, the planner commands trajectories there, and
shuts down cleanly. (test_mujoco_launch.py shows goals reached; here the namespace is the point.)

    launch_test test/test_mujoco_namespace_launch.py                              (ROS 2 install)
    .venv/bin/python tools/launch_env.py launch_test test/test_mujoco_namespace_launch.py
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
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from world_model_planner import graph  # noqa: E402
from world_model_planner.core.robot import Robot  # noqa: E402

STARTUP_S = 120.0
COMMAND = launch_commands.MUJOCO_NAMESPACED


@pytest.mark.launch_test
@pytest.mark.rostest
def generate_test_description() -> launch.LaunchDescription:
    return launch_harness.launch_description(COMMAND)


class TestNamespacedBringup(launch_harness.BringupTest):
    node_name = "test_namespaced_bringup"
    namespace = launch_commands.split(COMMAND)[1]["namespace"]

    def test_1_planner_is_active_in_the_namespace(self) -> None:
        self.assert_planner_active(STARTUP_S)

    def test_2_trajectories_flow_in_the_namespace(self) -> None:
        trajectories = self.assert_messages_flow(JointTrajectory, graph.TRAJECTORY_COMMANDS,
                                                 STARTUP_S)
        self.assertEqual(list(trajectories[-1].joint_names), list(Robot.load().joint_names))


@launch_testing.post_shutdown_test()
class TestNamespacedShutdown(unittest.TestCase):
    def test_nodes_exit_cleanly(self, proc_info) -> None:
        launch_testing.asserts.assertExitCodes(proc_info)

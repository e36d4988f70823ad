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
"""launch_testing: bringup.launch.py mode:=mujoco drives the embedded arm to its goals.

Runs on a ROS 2 install (Jazzy/Kilted) with this package built:
    colcon test --packages-select world_model_planner
    launch_test test/test_mujoco_launch.py
Without launch_testing / launch_ros (plain `make test`), the module is skipped with the reason.
"""

from __future__ import annotations

import json
import unittest

import pytest

pytest.importorskip("launch_testing", reason="launch_testing is not installed: this launch test "
                    "needs a ROS 2 install (Jazzy/Kilted); run it with colcon test or launch_test")
pytest.importorskip("launch_ros", reason="launch_ros is not installed: this launch test needs a "
                    "ROS 2 install (Jazzy/Kilted); run it with colcon test or launch_test")

import launch  # noqa: E402
import launch_harness  # noqa: E402
import launch_testing.asserts  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from world_model_planner import graph  # noqa: E402
from world_model_planner.core.robot import Robot  # noqa: E402
from world_model_planner.nodes import messages as m  # noqa: E402

STARTUP_S = 120.0  # model load and verification on a slow CI machine
GOAL_S = 300.0  # a few goals of 60 steps at 10 Hz, with margin


@pytest.mark.launch_test
@pytest.mark.rostest
def generate_test_description() -> launch.LaunchDescription:
    return launch_harness.bringup("mujoco")


class TestMujocoBringup(launch_harness.BringupTest):
    node_name = "test_mujoco_bringup"

    def test_1_planner_reaches_active(self) -> None:
        self.assert_planner_active(STARTUP_S)

    def test_2_commands_flow(self) -> None:
        self.assert_commands_flow(STARTUP_S, Robot.load().dof)

    def test_3_arm_reaches_a_goal(self) -> None:
        results: list[dict] = []
        sub = self.node.create_subscription(String, graph.TASK_RESULT,
                                            lambda msg: results.append(json.loads(msg.data)),
                                            m.RELIABLE_QOS)
        try:
            self.spin_until(lambda: any(r.get("success") for r in results), GOAL_S)
            self.assertTrue(results, f"no result on {graph.TASK_RESULT}")
            self.assertTrue(any(r.get("success") for r in results),
                            f"no goal reached: {results}")
        finally:
            self.node.destroy_subscription(sub)


@launch_testing.post_shutdown_test()
class TestMujocoShutdown(unittest.TestCase):
    def test_nodes_exit_cleanly(self, proc_info) -> None:
        # 0: clean rclpy shutdown; -2 / -15: stopped by launch's SIGINT / SIGTERM.
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0, -2, -15])

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
import os
import time
import unittest
from collections.abc import Callable

import pytest

pytest.importorskip("launch_testing", reason="launch_testing is not installed: this launch test "
                    "needs a ROS 2 install (Jazzy/Kilted); run it with colcon test or launch_test")
pytest.importorskip("launch_ros", reason="launch_ros is not installed: this launch test needs a "
                    "ROS 2 install (Jazzy/Kilted); run it with colcon test or launch_test")

import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import rclpy  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from lifecycle_msgs.msg import State  # noqa: E402
from lifecycle_msgs.srv import GetState  # noqa: E402
from std_msgs.msg import Float64MultiArray, String  # noqa: E402

from world_model_planner import graph  # noqa: E402
from world_model_planner.core.robot import Robot  # noqa: E402
from world_model_planner.nodes import messages as m  # noqa: E402

STARTUP_S = 120.0  # model load and verification on a slow CI machine
GOAL_S = 300.0  # a few goals of 60 steps at 10 Hz, with margin


@pytest.mark.launch_test
@pytest.mark.rostest
def generate_test_description() -> launch.LaunchDescription:
    bringup = os.path.join(get_package_share_directory(graph.PACKAGE), graph.BRINGUP_LAUNCH)
    return launch.LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(bringup),
                                 launch_arguments={"mode": "mujoco", "headless": "true"}.items()),
        launch_testing.actions.ReadyToTest(),
    ])


def planner_state(node: rclpy.node.Node, timeout: float) -> int:
    """The planner's lifecycle state id (lifecycle_msgs/State), waiting for its service."""
    client = node.create_client(GetState, f"/{graph.PLANNER_NODE}/get_state")
    try:
        if not client.wait_for_service(timeout_sec=timeout):
            return State.PRIMARY_STATE_UNKNOWN
        future = client.call_async(GetState.Request())
        rclpy.spin_until_future_complete(node, future, timeout_sec=10.0)
        result = future.result()
        return result.current_state.id if result is not None else State.PRIMARY_STATE_UNKNOWN
    finally:
        node.destroy_client(client)


class TestMujocoBringup(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        rclpy.init()
        cls.node = rclpy.create_node("test_mujoco_bringup")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.node.destroy_node()
        rclpy.shutdown()

    def spin_until(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=0.1)
            if done():
                return True
        return False

    def test_1_planner_reaches_active(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        state = State.PRIMARY_STATE_UNKNOWN
        while time.monotonic() < deadline and state != State.PRIMARY_STATE_ACTIVE:
            state = planner_state(self.node, timeout=5.0)
            time.sleep(0.5)
        self.assertEqual(state, State.PRIMARY_STATE_ACTIVE,
                         f"planner lifecycle state {state}, expected active")

    def test_2_commands_flow(self) -> None:
        commands: list[Float64MultiArray] = []
        sub = self.node.create_subscription(Float64MultiArray, graph.POSITION_COMMANDS,
                                            commands.append, m.RELIABLE_QOS)
        try:
            self.assertTrue(self.spin_until(lambda: len(commands) >= 10, STARTUP_S),
                            f"{len(commands)} commands on {graph.POSITION_COMMANDS}")
            self.assertEqual(len(commands[-1].data), Robot.load().dof)
        finally:
            self.node.destroy_subscription(sub)

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

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
"""Shared pieces of the launch_testing tests (imported only once launch_testing is present)."""

from __future__ import annotations

import os
import time
import unittest
from collections.abc import Callable

import launch
import launch_testing.actions
import rclpy
from ament_index_python.packages import get_package_share_directory
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
from std_msgs.msg import Float64MultiArray

from world_model_planner import graph
from world_model_planner.nodes import messages as m


def bringup(mode: str, **arguments: str) -> launch.LaunchDescription:
    """bringup.launch.py in `mode` (headless), then ReadyToTest."""
    path = os.path.join(get_package_share_directory(graph.PACKAGE), graph.BRINGUP_LAUNCH)
    args = {"mode": mode, "headless": "true", **arguments}
    return launch.LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(path),
                                 launch_arguments=args.items()),
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


class BringupTest(unittest.TestCase):
    """A test node for the class; spin_until and wait_until_active for the tests."""

    node_name = "test_bringup"

    @classmethod
    def setUpClass(cls) -> None:
        rclpy.init()
        cls.node = rclpy.create_node(cls.node_name)

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

    def assert_planner_active(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = State.PRIMARY_STATE_UNKNOWN
        while time.monotonic() < deadline and state != State.PRIMARY_STATE_ACTIVE:
            state = planner_state(self.node, timeout=5.0)
            time.sleep(0.5)
        self.assertEqual(state, State.PRIMARY_STATE_ACTIVE,
                         f"planner lifecycle state {state}, expected active")

    def assert_commands_flow(self, timeout: float, dof: int, count: int = 10) -> None:
        """At least `count` position commands arrive, each naming every joint."""
        commands: list[Float64MultiArray] = []
        sub = self.node.create_subscription(Float64MultiArray, graph.POSITION_COMMANDS,
                                            commands.append, m.RELIABLE_QOS)
        try:
            self.assertTrue(self.spin_until(lambda: len(commands) >= count, timeout),
                            f"{len(commands)} commands on {graph.POSITION_COMMANDS}")
            self.assertEqual(len(commands[-1].data), dof)
        finally:
            self.node.destroy_subscription(sub)

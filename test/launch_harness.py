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

import json
import os
import time
import unittest
from collections.abc import Callable
from typing import Any

import launch
import launch_testing.actions
import rclpy
from ament_index_python.packages import get_package_share_directory
from launch.actions import IncludeLaunchDescription, SetLaunchConfiguration
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch_commands import split
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from std_msgs.msg import Float64MultiArray, String

from world_model_planner import graph
from world_model_planner.nodes import messages as m


# Seconds launch gives a node to exit after its SIGINT before escalating to SIGTERM (ros2 launch:
# 5). The shutdown tests assert the nodes exit by themselves with status 0, not how fast: on a
# loaded 2-core CI machine the planner has taken 4.5 s and more.
SIGTERM_TIMEOUT_S = 30


def launch_description(command: str) -> launch.LaunchDescription:
    """`ros2 launch world_model_planner <command>` (a launch_commands string), then
    ReadyToTest."""
    launch_file, arguments = split(command)
    path = os.path.join(get_package_share_directory(graph.PACKAGE), "launch", launch_file)
    return launch.LaunchDescription([
        SetLaunchConfiguration("sigterm_timeout", str(SIGTERM_TIMEOUT_S)),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(path),
                                 launch_arguments=list(arguments.items())),
        launch_testing.actions.ReadyToTest(),
    ])


def in_namespace(namespace: str, name: str) -> str:
    """The absolute name of a relative topic or node name in `namespace`."""
    namespace = namespace.strip("/")
    return f"/{namespace}/{name}" if namespace else f"/{name}"


def planner_state(node: rclpy.node.Node, timeout: float, namespace: str = "") -> int:
    """The planner's lifecycle state id (lifecycle_msgs/State), waiting for its service."""
    client = node.create_client(GetState,
                                f"{in_namespace(namespace, graph.PLANNER_NODE)}/get_state")
    try:
        if not client.wait_for_service(timeout_sec=timeout):
            return State.PRIMARY_STATE_UNKNOWN
        future = client.call_async(GetState.Request())
        rclpy.spin_until_future_complete(node, future, timeout_sec=10.0)
        result = future.result()
        return result.current_state.id if result is not None else State.PRIMARY_STATE_UNKNOWN
    finally:
        node.destroy_client(client)


def change_planner_state(node: rclpy.node.Node, transition: int, namespace: str = "",
                         timeout: float = 60.0) -> bool:
    """Asks the planner for a lifecycle transition, as `ros2 lifecycle set` does."""
    client = node.create_client(ChangeState,
                                f"{in_namespace(namespace, graph.PLANNER_NODE)}/change_state")
    try:
        if not client.wait_for_service(timeout_sec=timeout):
            return False
        future = client.call_async(ChangeState.Request(transition=Transition(id=transition)))
        rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
        result = future.result()
        return bool(result is not None and result.success)
    finally:
        node.destroy_client(client)


class BringupTest(unittest.TestCase):
    """A test node for the class; spin_until and wait_until_active for the tests."""

    node_name = "test_bringup"
    namespace = ""  # the launch's namespace:=

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

    def topic(self, name: str) -> str:
        return in_namespace(self.namespace, name)

    def assert_planner_state(self, expected: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = State.PRIMARY_STATE_UNKNOWN
        while time.monotonic() < deadline and state != expected:
            state = planner_state(self.node, 5.0, self.namespace)
            if state != expected:
                time.sleep(0.5)
        self.assertEqual(state, expected, f"planner lifecycle state {state}, expected {expected}")

    def assert_planner_active(self, timeout: float) -> None:
        self.assert_planner_state(State.PRIMARY_STATE_ACTIVE, timeout)

    def assert_messages_flow(self, msg_type: Any, topic: str, timeout: float,
                             count: int = 10) -> list[Any]:
        """At least `count` messages on `topic` (relative: in the namespace); returns them."""
        received: list[Any] = []
        name = self.topic(topic)
        sub = self.node.create_subscription(msg_type, name, received.append, m.RELIABLE_QOS)
        try:
            self.assertTrue(self.spin_until(lambda: len(received) >= count, timeout),
                            f"{len(received)} messages on {name}")
            return received
        finally:
            self.node.destroy_subscription(sub)

    def assert_commands_flow(self, timeout: float, dof: int, count: int = 10) -> None:
        """At least `count` position commands arrive, each naming every joint."""
        commands = self.assert_messages_flow(Float64MultiArray, graph.POSITION_COMMANDS, timeout,
                                             count)
        self.assertEqual(len(commands[-1].data), dof)

    def assert_goal_reached(self, timeout: float) -> list[dict]:
        """A task/result reporting success arrives; returns the results seen."""
        results: list[dict] = []
        name = self.topic(graph.TASK_RESULT)
        sub = self.node.create_subscription(String, name,
                                            lambda msg: results.append(json.loads(msg.data)),
                                            m.RELIABLE_QOS)
        try:
            self.spin_until(lambda: any(r.get("success") for r in results), timeout)
            self.assertTrue(results, f"no result on {name}")
            self.assertTrue(any(r.get("success") for r in results), f"no goal reached: {results}")
            return results
        finally:
            self.node.destroy_subscription(sub)

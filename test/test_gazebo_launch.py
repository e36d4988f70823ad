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
"""launch_testing: bringup.launch.py mode:=gazebo headless:=true moves the arm towards a goal.

Runs on a ROS 2 install (Jazzy/Kilted) with Gazebo Harmonic, ros_gz and gz_ros2_control:
    colcon test --packages-select world_model_planner
    launch_test test/test_gazebo_launch.py
Without launch_testing / launch_ros (plain `make test`), the module is skipped with the reason.
"""

from __future__ import annotations

import os
import time
import unittest
from collections.abc import Callable

import numpy as np
import pytest

pytest.importorskip("launch_testing", reason="launch_testing is not installed: this launch test "
                    "needs a ROS 2 install (Jazzy/Kilted) with Gazebo and ros_gz; run it with "
                    "colcon test or launch_test")
pytest.importorskip("launch_ros", reason="launch_ros is not installed: this launch test needs a "
                    "ROS 2 install (Jazzy/Kilted) with Gazebo and ros_gz; run it with colcon test "
                    "or launch_test")

import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import rclpy  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from lifecycle_msgs.msg import State  # noqa: E402
from lifecycle_msgs.srv import GetState  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from world_model_planner import graph  # noqa: E402
from world_model_planner.core.robot import Robot  # noqa: E402
from world_model_planner.nodes import messages as m  # noqa: E402

# Gazebo's first start compiles shaders; then spawn, two controller spawners, model load.
STARTUP_S = 240.0
MOTION_S = 120.0
GOAL_OFFSET = np.array([0.5, -0.3, 0.4, 0.3])  # rad, per joint in URDF order
GOAL_JOINTS = f"/{graph.PLANNER_NODE}/{graph.GOAL_JOINTS.removeprefix('~/')}"


@pytest.mark.launch_test
@pytest.mark.rostest
def generate_test_description() -> launch.LaunchDescription:
    bringup = os.path.join(get_package_share_directory(graph.PACKAGE), graph.BRINGUP_LAUNCH)
    return launch.LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(bringup),
                                 launch_arguments={"mode": "gazebo", "headless": "true"}.items()),
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


class TestGazeboBringup(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        rclpy.init()
        cls.node = rclpy.create_node("test_gazebo_bringup")
        cls.robot = Robot.load()

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
        """Active only after the spawn -> joint_state_broadcaster -> controller chain worked."""
        deadline = time.monotonic() + STARTUP_S
        state = State.PRIMARY_STATE_UNKNOWN
        while time.monotonic() < deadline and state != State.PRIMARY_STATE_ACTIVE:
            state = planner_state(self.node, timeout=5.0)
            time.sleep(1.0)
        self.assertEqual(state, State.PRIMARY_STATE_ACTIVE,
                         f"planner lifecycle state {state}, expected active")

    def test_2_commands_flow(self) -> None:
        commands: list[Float64MultiArray] = []
        sub = self.node.create_subscription(Float64MultiArray, graph.POSITION_COMMANDS,
                                            commands.append, m.RELIABLE_QOS)
        try:
            self.assertTrue(self.spin_until(lambda: len(commands) >= 10, STARTUP_S),
                            f"{len(commands)} commands on {graph.POSITION_COMMANDS}")
            self.assertEqual(len(commands[-1].data), self.robot.dof)
        finally:
            self.node.destroy_subscription(sub)

    def test_3_joint_states_move_towards_goal_joints(self) -> None:
        latest: list[np.ndarray] = []

        def on_state(msg: JointState) -> None:  # matched by name, never by index
            latest.append(self.robot.reorder(list(msg.name), list(msg.position)))

        sub = self.node.create_subscription(JointState, graph.JOINT_STATES, on_state,
                                            m.RELIABLE_QOS)
        pub = self.node.create_publisher(JointState, GOAL_JOINTS, m.LATCHED_QOS)
        try:
            self.assertTrue(self.spin_until(lambda: bool(latest), STARTUP_S),
                            f"no {graph.JOINT_STATES} from joint_state_broadcaster")
            start = latest[-1]
            lower, upper = self.robot.limits_with_margin(0.3)
            goal = np.clip(start + GOAL_OFFSET, lower, upper)
            pub.publish(JointState(name=list(self.robot.joint_names),
                                   position=[float(v) for v in goal]))
            initial = float(np.linalg.norm(goal - start))

            def closer() -> bool:
                return float(np.linalg.norm(goal - latest[-1])) < 0.75 * initial

            moved = self.spin_until(closer, MOTION_S)
            final = float(np.linalg.norm(goal - latest[-1]))
            self.assertTrue(moved, f"joint distance to the goal went from {initial:.3f} to "
                                   f"{final:.3f} rad in {MOTION_S:.0f} s")
        finally:
            self.node.destroy_publisher(pub)
            self.node.destroy_subscription(sub)

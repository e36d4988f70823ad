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
"""launch_testing: mode:=mujoco task:=push: the simulator poses pushes, the planner loads the
push model (models/wmp_arm_push) and commands the arm, the object's true pose is published for
evaluation, and everything shuts down cleanly. (test_mujoco_launch.py shows reach goals reached;
pushes reached are measured by wmp eval --task push, docs/push/EVAL.md.)

    launch_test test/test_mujoco_push_launch.py                                   (ROS 2 install)
    .venv/bin/python tools/launch_env.py launch_test test/test_mujoco_push_launch.py
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
from geometry_msgs.msg import PoseStamped  # noqa: E402

from world_model_planner import graph  # noqa: E402
from world_model_planner.core.robot import Robot  # noqa: E402

STARTUP_S = 120.0
COMMAND = launch_commands.MUJOCO_PUSH


@pytest.mark.launch_test
@pytest.mark.rostest
def generate_test_description() -> launch.LaunchDescription:
    return launch_harness.launch_description(COMMAND)


class TestPushBringup(launch_harness.BringupTest):
    node_name = "test_push_bringup"

    def test_1_planner_is_active(self) -> None:
        self.assert_planner_active(STARTUP_S)

    def test_2_commands_flow(self) -> None:
        self.assert_commands_flow(STARTUP_S, len(Robot.load().joint_names))

    def test_3_the_object_pose_is_published_in_the_world_frame(self) -> None:
        poses = self.assert_messages_flow(PoseStamped, graph.TASK_OBJECT_POSE, STARTUP_S)
        self.assertEqual(poses[-1].header.frame_id, "world")


@launch_testing.post_shutdown_test()
class TestPushShutdown(unittest.TestCase):
    def test_nodes_exit_cleanly(self, proc_info) -> None:
        launch_testing.asserts.assertExitCodes(proc_info)

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
"""launch_testing: mode:=real with the reference arm, as far as it goes without an arm: the
planner comes up unconfigured, and an operator's configure loads and verifies the model and
opens the command topic of the robot config's active controller, without activating anything.

    launch_test test/test_real_launch.py                              (ROS 2 install)
    .venv/bin/python tools/launch_env.py launch_test test/test_real_launch.py

robot_state_publisher:=false keeps the graph to our own planner, so this runs where
robot_state_publisher is not installed; test_launch_testing.py checks the refusal without it.
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
from lifecycle_msgs.msg import State, Transition  # noqa: E402

from world_model_planner import graph  # noqa: E402

STARTUP_S = 60.0
CONFIGURE_S = 120.0  # model load and verification on a slow CI machine


@pytest.mark.launch_test
@pytest.mark.rostest
def generate_test_description() -> launch.LaunchDescription:
    return launch_harness.launch_description(launch_commands.REAL_REFERENCE_ARM)


class TestRealBringup(launch_harness.BringupTest):
    node_name = "test_real_bringup"

    def test_1_planner_waits_unconfigured(self) -> None:
        self.assert_planner_state(State.PRIMARY_STATE_UNCONFIGURED, STARTUP_S)

    def test_2_configure_opens_the_active_controllers_topic(self) -> None:
        self.assertTrue(launch_harness.change_planner_state(
            self.node, Transition.TRANSITION_CONFIGURE, timeout=CONFIGURE_S),
            "configure failed: see the planner's log above")
        self.assert_planner_state(State.PRIMARY_STATE_INACTIVE, STARTUP_S)
        # wmp_arm.yaml: controllers.active is position (forward_position_controller/commands).
        topic = self.topic(graph.POSITION_COMMANDS)
        self.assertTrue(self.spin_until(lambda: self.node.count_publishers(topic) > 0, STARTUP_S),
                        f"no publisher on {topic} after configure")


@launch_testing.post_shutdown_test()
class TestRealShutdown(unittest.TestCase):
    def test_planner_exits_cleanly(self, proc_info) -> None:
        launch_testing.asserts.assertExitCodes(proc_info)

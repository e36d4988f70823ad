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
"""How our nodes end: a launch shutdown that lands while a callback runs is a clean exit (a
launch test's exit-code check failed on it), a failure while running is not."""

import subprocess
import sys

import pytest

pytest.importorskip("rclpy", reason="the node entry point needs rclpy (the ros extra)")

# A node whose timer callback is running when the shutdown begins, then publishes on the closed
# context (what a plan that took its time does when launch sends SIGINT), or fails on its own.
NODE = """
import sys
import rclpy
from std_msgs.msg import String
from world_model_planner.nodes.entry import run

class Busy(rclpy.node.Node):
    def __init__(self):
        super().__init__("busy")
        self.pub = self.create_publisher(String, "busy", 10)
        self.create_timer(0.05, self.tick)

    def tick(self):
        if sys.argv[1] == "shutdown":
            rclpy.shutdown()  # as the signal handler does while the callback runs
            self.pub.publish(String(data="late"))
        else:
            raise RuntimeError("a bug in a callback")

sys.exit(run(Busy, "busy", []))
"""


@pytest.mark.parametrize("case, code", [("shutdown", 0), ("bug", 1)])
def test_a_shutdown_during_a_callback_exits_cleanly_and_a_bug_does_not(case, code, ros_domain):
    done = subprocess.run([sys.executable, "-c", NODE, case], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == code, done.stderr[-2000:]
    if case == "bug":
        assert "a bug in a callback" in done.stderr

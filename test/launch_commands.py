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
"""The `ros2 launch world_model_planner ...` commands the tests run, as docs/SIM_TO_REAL.md
writes them, and how a launch_testing file tells pytest it is not a pytest module.

Pure Python (no launch import): test_launch_docs.py checks that every launch command of the doc
is one of TESTED or is marked there as needing what this machine lacks, and the launch tests
build their launch descriptions from these same strings.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROS2_LAUNCH = "ros2 launch world_model_planner "

MUJOCO = "bringup.launch.py mode:=mujoco"
MUJOCO_NAMESPACED = ("bringup.launch.py mode:=mujoco command_interface:=trajectory "
                     "model:=models/wmp_arm_reach_hardened namespace:=arm1")
MUJOCO_PUSH = "bringup.launch.py mode:=mujoco task:=push"
REAL_REFERENCE_ARM = "bringup.launch.py mode:=real confirm_real:=true robot_state_publisher:=false"
GAZEBO_HEADLESS = "bringup.launch.py mode:=gazebo headless:=true"

# command -> the test file that runs it (test_gazebo_launch.py needs Gazebo, ros_gz and
# gz_ros2_control; test_launch_testing.py runs it where they are installed).
TESTED = {
    MUJOCO: "test_mujoco_launch.py",
    MUJOCO_NAMESPACED: "test_mujoco_namespace_launch.py",
    MUJOCO_PUSH: "test_mujoco_push_launch.py",
    REAL_REFERENCE_ARM: "test_real_launch.py",
    GAZEBO_HEADLESS: "test_gazebo_launch.py",
}


def split(command: str) -> tuple[str, dict[str, str]]:
    """'bringup.launch.py a:=1 b:=2' -> ('bringup.launch.py', {'a': '1', 'b': '2'})."""
    launch_file, *arguments = command.split()
    pairs = dict(argument.split(":=", 1) for argument in arguments)
    return launch_file, pairs


def skip_unless_run_by_launch_testing(module_file: str) -> None:
    """Skips the module when plain pytest collects it: its test cases need the launch it
    describes, which only launch_testing runs (`launch_test FILE`, or its pytest plugin, which
    pytest.ini blocks because pytest 9 rejects it). Both of those import launch_testing.loader
    before they load the file; plain pytest does not."""
    if "launch_testing.loader" in sys.modules:
        return
    import pytest

    name = Path(module_file).name
    pytest.skip(f"{name} is a launch_testing test: `make test` runs it under launch_test "
                f"(test_launch_testing.py); by hand: launch_test test/{name} (ROS 2 install) or "
                f".venv/bin/python tools/launch_env.py launch_test test/{name}",
                allow_module_level=True)

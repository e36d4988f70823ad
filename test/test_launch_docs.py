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
"""docs/SIM_TO_REAL.md's launch commands: each is run by a test or says what it needs.

A command is a line of a fenced code block that starts `ros2 launch world_model_planner`. It is
either one of launch_commands.TESTED (the strings the launch tests launch), or it ends in a
`# needs ...` comment naming what it needs that a test machine lacks (an arm, Gazebo, a display),
and it is then at least a graph graph.launch_graph accepts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import launch_commands
from world_model_planner import graph

ROOT = Path(__file__).resolve().parents[1]
SIM_TO_REAL = ROOT / "docs" / "SIM_TO_REAL.md"
README = ROOT / "README.md"


def launch_commands_of(path: Path) -> list[tuple[str, str]]:
    """(command after `ros2 launch world_model_planner `, its trailing comment) per command."""
    blocks = re.findall(r"^```(?:bash)?\n(.*?)^```", path.read_text(), flags=re.M | re.S)
    found = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith(launch_commands.ROS2_LAUNCH):
                command, _, comment = line[len(launch_commands.ROS2_LAUNCH):].partition("#")
                found.append((" ".join(command.split()), comment.strip()))
    return found


def same(a: str, b: str) -> bool:
    return launch_commands.split(a) == launch_commands.split(b)


def test_every_sim_to_real_command_is_tested_or_says_what_it_needs():
    commands = launch_commands_of(SIM_TO_REAL)
    assert commands
    for command, comment in commands:
        tested = [t for t in launch_commands.TESTED if same(t, command)]
        if comment:
            assert comment.startswith("needs ") and len(comment) > 12, (command, comment)
            assert not tested, f"`{command}` is tested: drop its '# {comment}'"
        else:
            assert tested, f"`{command}`: no test runs it; add one or mark it '# needs ...'"


def test_every_tested_command_is_on_the_page():
    on_page = [c for c, _ in launch_commands_of(SIM_TO_REAL)]
    for command in launch_commands.TESTED:
        assert any(same(command, c) for c in on_page), command


@pytest.mark.parametrize("arm, robot", [("## The reference arm", None),
                                        ("## Universal Robots UR5e", "ur5e.yaml"),
                                        ("## Franka Research 3", "fr3.yaml")])
def test_each_arm_has_its_launch_commands(arm, robot):
    text = SIM_TO_REAL.read_text()
    section = text[text.index(arm):].split("\n## ", 1)[0]
    commands = launch_commands_of_text(section)
    assert commands, arm
    if robot is not None:
        assert any(f"robot:={robot}" in c and "mode:=real" in c for c in commands), arm


def launch_commands_of_text(text: str) -> list[str]:
    return [line.strip()[len(launch_commands.ROS2_LAUNCH):] for line in text.splitlines()
            if line.strip().startswith(launch_commands.ROS2_LAUNCH)]


def test_marked_commands_are_graphs_the_launch_accepts():
    """What this machine cannot run is still a valid graph (arguments, robot, mode), so a typo
    in the doc shows here; only Gazebo's description check needs the xacro, which is here."""
    for command, comment in launch_commands_of(SIM_TO_REAL) + launch_commands_of(README):
        launch_file, arguments = launch_commands.split(command)
        if launch_file != "bringup.launch.py":
            arguments["mode"] = launch_file.removesuffix(".launch.py")
        graph.launch_graph(arguments, ROOT)


def test_readme_real_arm_command_is_the_pages():
    readme = [c for c, _ in launch_commands_of(README)]
    page = [c for c, _ in launch_commands_of(SIM_TO_REAL)]
    for command in readme:
        assert any(same(command, c) for c in page), f"README's `{command}` is not in SIM_TO_REAL"

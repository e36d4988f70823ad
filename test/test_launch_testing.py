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
"""The launch_testing tests under the real launch_testing, and `ros2 launch` as a user runs it,
wherever launch is here: a sourced ROS 2 install or ../shared/ros2-launch-jazzy.

Each launch test runs as its documented command, `launch_test test/<file>` from the repository
root (`python -m launch_testing.launch_test`, what the `launch_test` script runs), in a process
of its own with launch importable and an ament prefix for this checkout (tools/launch_env.py).
launch_testing's pytest plugin is not used: pytest 9 rejects it, and pytest.ini blocks it where
an install registers it. The refusals run `ros2 launch` (tools/ros2_launch.py) and check that
nothing started. Elsewhere every test here skips, saying why.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import launch_commands
from world_model_planner import graph

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import launch_env  # noqa: E402

LAUNCH_TEST_S = 540  # under pytest's 600 s: the mujoco test waits up to 300 s for a goal
REFUSAL_S = 120
STARTED = "process started with pid"  # launch's log line for each process it starts


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if launch_env.launch_pythonpath() is None:
        pytest.skip(launch_env.unavailable_reason())
    return launch_env.make_ament_prefix(tmp_path_factory.mktemp("ament_prefix"))


@pytest.fixture
def env(prefix: Path, ros_domain: int, tmp_path: Path) -> dict[str, str]:
    """launch importable, this checkout as the package, a private ROS domain, logs in tmp."""
    environment = launch_env.launch_environment(prefix)
    environment["ROS_LOG_DIR"] = str(tmp_path / "ros_log")
    return environment


def run(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Runs `command` from the repository root in a process group of its own; on timeout the
    whole group (launch and the nodes it started) is stopped and the test fails."""
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
        pytest.fail(f"{' '.join(command)} still running after {timeout} s:\n{tail(output)}")
    return proc.returncode, output


def tail(output: str, lines: int = 80) -> str:
    return "\n".join(output.splitlines()[-lines:])


def plan_of(command: str, env: dict[str, str],
            monkeypatch: pytest.MonkeyPatch) -> graph.LaunchGraph:
    """graph's plan for a launch_commands string, with env's ament prefixes in effect."""
    launch_file, arguments = launch_commands.split(command)
    if launch_file != "bringup.launch.py":
        arguments["mode"] = launch_file.removesuffix(".launch.py")
    monkeypatch.setenv("AMENT_PREFIX_PATH", env["AMENT_PREFIX_PATH"])
    return graph.launch_graph(arguments, ROOT)


def missing_here(command: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    plan = plan_of(command, env, monkeypatch)
    return "; ".join(what for _, what in graph.missing_installs(plan))


# --------------------------------------------------------------------------------------------
# The launch tests, as documented


@pytest.mark.launch_test
@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("command", list(launch_commands.TESTED),
                         ids=lambda c: launch_commands.TESTED[c].removesuffix(".py"))
def test_launch_test_passes_from_the_repository_root(command, env, monkeypatch):
    missing = missing_here(command, env, monkeypatch)
    if missing:
        pytest.skip(f"`{launch_commands.ROS2_LAUNCH}{command}` needs what is not installed "
                    f"here: {missing}")
    test_file = f"test/{launch_commands.TESTED[command]}"
    code, output = run(launch_env.launch_test_command(test_file), env, LAUNCH_TEST_S)
    assert code == 0, f"launch_test {test_file} exited {code}:\n{tail(output)}"
    assert "Ran " in output and "FAILED" not in output, tail(output)


# --------------------------------------------------------------------------------------------
# What ros2 launch refuses: a message naming the problem and the fix, and nothing started

MISMATCH = ("real.launch.py robot:=ur5e.yaml model:=models/wmp_arm_reach confirm_real:=true")
REFUSALS = {
    "bringup.launch.py mode:=real": ("confirm_real:=true",),
    # The reference arm has no driver of its own, so robot_state_publisher:=auto starts one.
    "bringup.launch.py mode:=real confirm_real:=true": (
        "robot_state_publisher/robot_state_publisher", "robot_state_publisher:=false",
        "ros-$ROS_DISTRO-robot-state-publisher", "Nothing was started"),
    "mujoco.launch.py use_rviz:=true": ("rviz2/rviz2", "use_rviz:=false", "Nothing was started"),
    "gazebo.launch.py headless:=true": ("ros_gz_sim/create", "launch/gz_sim.launch.py",
                                        "gz_ros2_control", "Nothing was started"),
    MISMATCH: ("wmp_arm_reach (from model:=)", "robot 'ur5e'", "'shoulder_pan_joint'",
               "'base_yaw'", "pass model:=", "`model` of", "BRING_YOUR_OWN_ARM.md"),
}


@pytest.mark.launch_test
@pytest.mark.parametrize("command", list(REFUSALS))
def test_ros2_launch_refuses_before_starting_anything(command, env, monkeypatch):
    needs_missing = "Nothing was started" in REFUSALS[command]
    if needs_missing and not missing_here(command, env, monkeypatch):
        pytest.skip(f"everything `{command}` needs is installed here: nothing to refuse")
    launch_file, arguments = launch_commands.split(command)
    cli = [sys.executable, str(ROOT / "tools" / "launch_env.py"), "--prefix",
           env["AMENT_PREFIX_PATH"].split(os.pathsep)[0], "launch", launch_file,
           *(f"{k}:={v}" for k, v in arguments.items())]
    code, output = run(cli, env, REFUSAL_S)
    assert code != 0, f"ros2 launch {command} started:\n{tail(output)}"
    assert STARTED not in output, f"something started before the refusal:\n{tail(output)}"
    for words in REFUSALS[command]:
        assert words in output, f"{words!r} not in:\n{tail(output)}"


# --------------------------------------------------------------------------------------------
# pytest itself where launch_testing is installed (a ROS 2 install registers its plugin)


def test_pytest_runs_where_launch_testing_registers_its_pytest_plugin(env, tmp_path):
    """An install of launch_testing (pip, colcon or apt) registers launch_testing.pytest.hooks
    as a pytest11 entry point, which pytest 9 rejects at start-up; pytest.ini blocks it."""
    site = tmp_path / "site"
    dist = site / "launch_testing-3.4.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: launch_testing\n"
                                   "Version: 3.4.3\n")
    (dist / "entry_points.txt").write_text(
        "[pytest11]\nlaunch_testing = launch_testing.pytest.hooks\n")
    env = dict(env, PYTHONPATH=os.pathsep.join([str(site), env["PYTHONPATH"]]))
    collect = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
               "test/test_launch_docs.py"]
    code, output = run(collect, env, REFUSAL_S)
    assert code == 0, tail(output)
    code, output = run(collect + ["-o", "addopts="], env, REFUSAL_S)
    if int(pytest.__version__.split(".")[0]) >= 9:  # the plugin is registered, and rejected
        assert code != 0 and "pytest_pycollect_makemodule" in output, tail(output)

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
"""The UR5e in the embedded simulator: its cell (camera, workspace) from the robot config, the
URDF's kinematics unchanged, and the real arm's safety limits on every command."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from world_model_planner.core.config import ConfigError, ReachTaskConfig, SimConfig
from world_model_planner.core.robot import Robot, shrink_limits
from world_model_planner.core.safety import CommandFilter, CommandLimits
from world_model_planner.core.sim.arm import ArmSim
from world_model_planner.core.sim.cell import scene_description, workspace_limits
from world_model_planner.core.sim.reach import ReachTask

UR5E = "config/robots/ur5e.yaml"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ur5e_sim():
    arm = ArmSim(SimConfig(robot=UR5E))
    yield arm
    arm.close()


def test_the_camera_sits_where_the_robot_config_places_it(ur5e_sim):
    placed = yaml.safe_load((ROOT / UR5E).read_text())["sim"]["camera"]
    position, _ = ur5e_sim.camera_pose()
    np.testing.assert_allclose(position, placed["xyz"], atol=1e-9)  # base_link is the world
    look = ur5e_sim.camera_pose()[1] @ np.array([0.0, 0.0, -1.0])  # MuJoCo looks along -z
    roll, pitch, yaw = placed["rpy"]
    forward = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw),
                        -math.sin(pitch)])  # the camera body's x axis (REP-103)
    np.testing.assert_allclose(look, forward, atol=1e-6)


def test_the_simulated_tool_is_where_the_urdf_puts_it(ur5e_sim):
    robot = ur5e_sim.robot
    lower, upper = workspace_limits(robot)
    for q in np.random.default_rng(3).uniform(lower, upper, (20, robot.dof)):
        np.testing.assert_allclose(ur5e_sim.tool_position_at(q), robot.tool_positions(q),
                                   atol=1e-3)


def test_the_camera_sees_each_joint_move_the_arm(ur5e_sim):
    q = sum(workspace_limits(ur5e_sim.robot)) / 2
    base = ur5e_sim.render_at(q).astype(int)
    assert base.std() > 10
    for joint in range(ur5e_sim.robot.dof):
        moved = q.copy()
        moved[joint] += 0.4
        changed = np.abs(ur5e_sim.render_at(moved).astype(int) - base).sum(axis=2) > 30
        assert changed.sum() >= 3, f"turning {ur5e_sim.robot.joint_names[joint]} changed " \
                                   f"{changed.sum()} pixels"


def test_reach_goals_lie_in_the_cells_workspace_and_are_reachable(ur5e_sim):
    task = ReachTask(ur5e_sim, ReachTaskConfig())
    lower, upper = shrink_limits(*workspace_limits(ur5e_sim.robot), task.config.joint_margin)
    np.testing.assert_allclose(task.lower[1:], lower[1:])
    np.testing.assert_allclose(task.upper[1:], upper[1:])
    assert task.lower[0] == max(lower[0], -task.config.yaw_range)
    rng = np.random.default_rng(4)
    bound = ur5e_sim.robot.action_bound(ur5e_sim.config.control_period)
    for _ in range(3):
        start, goal_q = task.sample_episode(rng)
        assert np.all(goal_q >= lower) and np.all(goal_q <= upper)
        goal = task.make_goal(goal_q)
        u, v = ur5e_sim.project(goal.tool_position)
        assert 0 <= u < 64 and 0 <= v < 64
        ur5e_sim.reset(start)
        for _ in range(task.config.episode_steps):
            ur5e_sim.step(ur5e_sim.qpos + np.clip(goal.joints - ur5e_sim.qpos, -bound, bound))
        assert task.success(goal), f"goal {goal.joints} missed by {task.error(goal):.3f} m"


def test_commands_keep_the_real_arms_limits_not_the_workspace(ur5e_sim):
    robot = Robot.load(UR5E)
    limits = CommandLimits.from_robot(ur5e_sim.robot)
    np.testing.assert_allclose(limits.upper, robot.upper - robot.config.position_margin)
    np.testing.assert_allclose(limits.upper[[0, 1, 3, 4, 5]], 2 * math.pi - 0.1)  # +-360 deg
    np.testing.assert_allclose(limits.max_velocity, 0.3 * math.pi)  # 0.3 x 180 deg/s
    np.testing.assert_allclose(limits.max_acceleration, 2.0)
    # The workspace bounds where tasks are drawn, not where the arm may go.
    _, ws_upper = workspace_limits(robot)
    beyond = ws_upper + 0.05
    filt = CommandFilter(limits, 0.1)
    filt.reset(ws_upper)
    command = ws_upper
    for _ in range(20):
        command = filt.filter(beyond, command).command
    np.testing.assert_allclose(command, beyond, atol=1e-9)


def test_the_reference_arm_is_unchanged_by_the_cell():
    robot = Robot.load()
    scene = scene_description(robot)
    assert scene.root == "world" and set(scene.cameras) == set(robot.description.cameras)
    lower, upper = workspace_limits(robot)
    np.testing.assert_array_equal(lower, robot.lower)
    np.testing.assert_array_equal(upper, robot.upper)


def _edited_config(tmp_path: Path, **sim: object) -> Robot:
    data = yaml.safe_load((ROOT / UR5E).read_text())
    data["description"] = str(ROOT / data["description"])
    for key, value in sim.items():
        data["sim"][key] = value
    path = tmp_path / "arm.yaml"
    path.write_text(yaml.safe_dump(data))
    return Robot.load(path)


@pytest.mark.parametrize("sim, words", [
    ({"workspace": {"lower": [0.0] * 5, "upper": [1.0] * 5}}, ["sim.workspace", "6 values"]),
    ({"workspace": {"lower": [0.0] * 6, "upper": [7.0] * 6}}, ["sim.workspace", "outside"]),
    ({"camera": {"parent": "tripod"}}, ["sim.camera.parent", "tripod", "base_link"]),
])
def test_a_wrong_cell_names_the_key(tmp_path, sim, words):
    robot = _edited_config(tmp_path, **sim)
    with pytest.raises(ConfigError) as err:
        scene_description(robot)
        workspace_limits(robot)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_a_workspace_bound_the_wrong_way_round_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="lower >= upper"):
        _edited_config(tmp_path, workspace={"lower": [1.0] * 6, "upper": [0.0] * 6})


def _wmp(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "world_model_planner.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_wmp_collect_records_the_ur5e_and_train_refuses_another_arm_for_it(tmp_path):
    out = tmp_path / "ur5e"
    done = _wmp("collect", "--robot", str(ROOT / UR5E), "--episodes", "2", "--image-size", "32",
                "--out", str(out), "--quiet", "--json", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["robot"]["name"] == "ur5e"
    assert manifest["robot"]["joint_names"] == list(Robot.load(UR5E).joint_names)
    assert manifest["camera"]["name"] == "scene_camera"
    np.testing.assert_allclose(manifest["action_bound"], 0.3 * math.pi * 0.1)
    refused = _wmp("train", "--robot", "config/robots/wmp_arm.yaml", "--data", str(out),
                   "--out", str(tmp_path / "run"), cwd=ROOT)
    assert refused.returncode == 2
    assert "shoulder_pan_joint" in refused.stderr and "--robot" in refused.stderr

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
"""The URDF is the single source of kinematics: our FK, MuJoCo and xacro must agree with it."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from world_model_planner.core.paths import share_path
from world_model_planner.core.robot import (ForwardKinematics, Robot, RobotDescription,
                                            RobotDescriptionError)


def test_arm_has_four_named_joints_with_limits(robot):
    assert robot.joint_names == ("base_yaw", "shoulder_pitch", "elbow_pitch", "wrist_pitch")
    assert np.all(robot.lower < 0) and np.all(robot.upper > 0)
    assert np.all(robot.velocity_limits > 0) and np.all(np.isfinite(robot.velocity_limits))
    assert np.all(robot.effort_limits > 0) and np.all(np.isfinite(robot.effort_limits))
    desc = robot.description
    assert "tool_link" in desc.links
    assert "scene_camera" in desc.cameras
    assert "wrist_camera_optical_frame" in desc.links
    for name in ("base_link", "shoulder_link", "upper_arm_link", "forearm_link", "wrist_link"):
        inertial = desc.links[name].inertial
        assert inertial is not None and 0.1 < inertial.mass < 10
        ixx, iyy, izz = inertial.inertia[:3]
        # Triangle inequality of principal moments: physically realisable inertia.
        assert ixx + iyy >= izz and iyy + izz >= ixx and ixx + izz >= iyy


def test_ros2_control_block_names_every_joint_with_both_plugins():
    urdf = ET.parse(share_path("description", "wmp_arm.urdf")).getroot()
    block = urdf.find("ros2_control")
    assert block is not None
    assert block.findtext("hardware/plugin") == "mock_components/GenericSystem"
    names = [j.get("name") for j in block.findall("joint")]
    assert names == ["base_yaw", "shoulder_pitch", "elbow_pitch", "wrist_pitch"]
    xacro_text = share_path("description", "wmp_arm.urdf.xacro").read_text()
    assert "gz_ros2_control/GazeboSimSystem" in xacro_text


def test_batched_fk_matches_transforms3d_reference(robot):
    rng = np.random.default_rng(0)
    q = rng.uniform(robot.lower, robot.upper, size=(50, robot.dof))
    fast = robot.tool_positions(q)
    for qi, pi in zip(q, fast):
        ref = robot.description.frame_transform(robot.to_description_order(qi), "tool_link")
        np.testing.assert_allclose(pi, ref[:3, 3], atol=1e-12)


@pytest.mark.parametrize("config", ["wmp_arm.yaml", "ur5e.yaml", "fr3.yaml"])
def test_batched_fk_matches_the_reference_on_every_shipped_arm(config):
    arm = Robot.load(f"config/robots/{config}")
    q = np.random.default_rng(1).uniform(arm.lower, arm.upper, size=(40, arm.dof))
    for qi, pi in zip(q, arm.tool_positions(q)):
        ref = arm.description.frame_transform(arm.to_description_order(qi), arm.config.tool_frame)
        np.testing.assert_allclose(pi, ref[:3, 3], atol=1e-12)


def test_batched_fk_handles_tilted_and_reversed_joint_axes(tmp_path):
    urdf = tmp_path / "tilted.urdf"
    urdf.write_text("""<robot name="tilted">
  <link name="base"/><link name="a"/><link name="b"/><link name="tool"/>
  <joint name="j1" type="revolute"><parent link="base"/><child link="a"/>
    <origin xyz="0.1 0 0.2" rpy="0.3 0 0.2"/><axis xyz="1 1 0"/>
    <limit lower="-3" upper="3" effort="1" velocity="1"/></joint>
  <joint name="j2" type="revolute"><parent link="a"/><child link="b"/>
    <origin xyz="0 0.05 0.3" rpy="0 0.4 0"/><axis xyz="0 -1 0"/>
    <limit lower="-3" upper="3" effort="1" velocity="1"/></joint>
  <joint name="tip" type="fixed"><parent link="b"/><child link="tool"/>
    <origin xyz="0.2 0 0.1" rpy="0 0 0"/></joint>
</robot>""")
    description = RobotDescription.from_file(urdf)
    fk = ForwardKinematics(description, "tool")
    q = np.random.default_rng(2).uniform(-3, 3, size=(30, 2))
    for qi, pi in zip(q, fk.positions(q)):
        np.testing.assert_allclose(pi, description.frame_transform(qi, "tool")[:3, 3],
                                   atol=1e-12)


def test_float32_joints_give_float32_tool_positions_within_a_micrometre(robot):
    # The planner hands the kinematics float32 imagined joints for (samples, horizon) at once.
    rng = np.random.default_rng(2)
    q = rng.uniform(robot.lower, robot.upper, size=(64, 8, robot.dof))
    exact = robot.kinematics.transforms(robot.to_description_order(q))[..., :3, 3]
    fast = robot.tool_positions(q.astype(np.float32))
    assert fast.dtype == np.float32 and fast.shape == (64, 8, 3)
    np.testing.assert_allclose(fast, exact, atol=1e-6)


def test_mujoco_tool_position_equals_forward_kinematics_within_1mm(sim):
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(100):
        q = rng.uniform(sim.robot.lower, sim.robot.upper)
        worst = max(worst, float(np.linalg.norm(sim.tool_position_at(q)
                                                - sim.robot.tool_positions(q))))
    assert worst < 1e-3, f"MuJoCo and FK disagree by {worst * 1000:.3f} mm"


def test_mujoco_camera_sits_at_the_urdf_optical_frame(sim):
    desc = sim.robot.description
    pose = desc.frame_transform(np.zeros(sim.robot.dof), "scene_camera_optical_frame")
    pos, rot = sim.camera_pose()
    np.testing.assert_allclose(pos, pose[:3, 3], atol=1e-6)
    # MuJoCo looks along its -z; the optical frame looks along +z.
    np.testing.assert_allclose(-rot[:, 2], pose[:3, 2], atol=1e-6)


def test_joint_order_from_config_is_respected(robot, tmp_path):
    from world_model_planner.core.config import RobotConfig

    shuffled = ["wrist_pitch", "base_yaw", "elbow_pitch", "shoulder_pitch"]
    other = Robot(RobotConfig(joints=shuffled), robot.description)
    q = np.array([0.1, 0.2, 0.3, 0.4])
    by_name = dict(zip(robot.joint_names, q))
    q_other = np.array([by_name[n] for n in shuffled])
    np.testing.assert_allclose(other.tool_positions(q_other), robot.tool_positions(q))
    with pytest.raises(RobotDescriptionError, match="nonexistent"):
        Robot(RobotConfig(joints=["nonexistent", "base_yaw", "elbow_pitch", "wrist_pitch"]),
              robot.description)


def test_reorder_matches_joints_by_name(robot):
    names = ["elbow_pitch", "base_yaw", "wrist_pitch", "shoulder_pitch"]
    out = robot.reorder(names, [3.0, 1.0, 4.0, 2.0])
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(RobotDescriptionError, match="wrist_pitch"):
        robot.reorder(names[:3], [3.0, 1.0, 2.0])


def test_malformed_urdf_errors_name_the_problem():
    with pytest.raises(RobotDescriptionError, match="not well-formed"):
        RobotDescription.from_urdf_string("<robot><link", "bad.urdf")
    text = ('<robot name="r"><link name="a"/><link name="b"/>'
            '<joint name="j" type="revolute"><parent link="a"/><child link="b"/></joint></robot>')
    with pytest.raises(RobotDescriptionError, match="j.*needs <limit>"):
        RobotDescription.from_urdf_string(text, "bad.urdf")
    with pytest.raises(RobotDescriptionError, match="nowhere"):
        ForwardKinematics(RobotDescription.from_urdf_string(
            '<robot name="r"><link name="a"/></robot>'), "nowhere")


def test_pre_expanded_urdf_is_the_xacro_expanded():
    pytest.importorskip("xacro", reason="xacro is not installed (pip install xacro)")
    expand = "import sys, xacro; sys.argv[0] = 'xacro'; sys.exit(xacro.main())"
    out = subprocess.run([sys.executable, "-c", expand,
                          str(share_path("description", "wmp_arm.urdf.xacro"))],
                         check=True, capture_output=True, text=True).stdout
    shipped = share_path("description", "wmp_arm.urdf").read_text()
    strip = lambda s: [ln for ln in s.splitlines() if "autogenerated" not in ln  # noqa: E731
                       and "EDITING THIS FILE" not in ln]
    assert strip(out) == strip(shipped), "run 'make urdf' after editing the xacro"

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
"""Message conversions (nodes/messages.py) and ROS parameters from config classes
(nodes/ros_params.py): what every node relies on to read other people's messages safely."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("rclpy", reason="rclpy is not installed (pip install "
                    "'world_model_planner[ros]'); the node helpers need it")

from builtin_interfaces.msg import Duration  # noqa: E402
from rcl_interfaces.msg import ParameterType  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

from world_model_planner.core import config as cfg  # noqa: E402
from world_model_planner.core.data.mcap_import import interpolate_trajectory  # noqa: E402
from world_model_planner.core.paths import share_path  # noqa: E402
from world_model_planner.core.sim.arm import CameraIntrinsics  # noqa: E402
from world_model_planner.nodes import messages as m  # noqa: E402

JOINTS = ("base_yaw", "shoulder_pitch", "elbow_pitch", "wrist_pitch")


# -- time ------------------------------------------------------------------------------------


@given(st.floats(min_value=0.0, max_value=2.0e9, allow_nan=False))
def test_time_round_trips_to_the_nanosecond(seconds):
    stamp = m.seconds_to_time(seconds)
    assert 0 <= stamp.nanosec < 1_000_000_000
    assert m.time_to_seconds(stamp) == pytest.approx(seconds, abs=1e-9 + seconds * 1e-15)


def test_time_carries_rounded_nanoseconds_into_seconds():
    stamp = m.seconds_to_time(1.9999999999)
    assert (stamp.sec, stamp.nanosec) == (2, 0)
    assert m.time_to_seconds(Duration(sec=1, nanosec=500_000_000)) == 1.5
    with pytest.raises(ValueError, match=">= 0"):
        m.seconds_to_time(-1.0)
    with pytest.raises(ValueError, match="finite"):
        m.seconds_to_time(float("nan"))


# -- images ----------------------------------------------------------------------------------


def raw_image(encoding: str, pixels: np.ndarray, pad: int = 0) -> Image:
    h, w = pixels.shape[:2]
    rows = pixels.reshape(h, -1)
    padded = np.concatenate([rows, np.full((h, pad), 7, np.uint8)], axis=1)
    return Image(height=h, width=w, encoding=encoding, step=padded.shape[1],
                 data=padded.tobytes())


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 5), st.integers(0, 2 ** 32 - 1))
def test_rgb_images_round_trip_whatever_the_row_padding(height, width, pad, seed):
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    msg = m.rgb_to_image(rgb, stamp=m.seconds_to_time(3.25), frame_id="cam")
    assert (msg.encoding, msg.step, msg.header.frame_id) == ("rgb8", width * 3, "cam")
    np.testing.assert_array_equal(m.image_to_rgb(msg), rgb)
    np.testing.assert_array_equal(m.image_to_rgb(raw_image("rgb8", rgb, pad)), rgb)


def test_other_encodings_become_rgb():
    rgb = np.random.default_rng(1).integers(0, 256, (3, 4, 3), dtype=np.uint8)
    alpha = np.full((3, 4, 1), 200, np.uint8)
    cases = {"bgr8": rgb[..., ::-1], "rgba8": np.concatenate([rgb, alpha], axis=2),
             "bgra8": np.concatenate([rgb[..., ::-1], alpha], axis=2)}
    for encoding, pixels in cases.items():
        np.testing.assert_array_equal(m.image_to_rgb(raw_image(encoding, pixels, pad=2)), rgb,
                                      err_msg=encoding)
    grey = rgb[..., 0]
    np.testing.assert_array_equal(m.image_to_rgb(raw_image("mono8", grey[..., None])),
                                  np.repeat(grey[..., None], 3, axis=2))


@pytest.mark.parametrize("change, words", [
    (dict(encoding="16UC1"), "encoding '16UC1' is not supported"),
    (dict(step=5), "step 5 is less than width"),
    (dict(data=bytes(10)), "10 bytes, expected step * height"),
    (dict(height=0, data=b""), "must be positive"),
])
def test_malformed_images_say_what_is_wrong(change, words):
    msg = raw_image("rgb8", np.zeros((2, 3, 3), np.uint8))
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ValueError, match=words.replace("*", r"\*")):
        m.image_to_rgb(msg)


def test_only_uint8_rgb_arrays_become_images():
    with pytest.raises(ValueError, match="uint8 RGB"):
        m.rgb_to_image(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="uint8 RGB"):
        m.rgb_to_image(np.zeros((4, 4), np.uint8))


def test_camera_info_describes_the_pinhole():
    k = CameraIntrinsics(64, 48, 50.0, 50.0, 32.0, 24.0)
    info = m.camera_info_message(k, stamp=m.seconds_to_time(2.0), frame_id="optical")
    assert (info.width, info.height, info.header.frame_id) == (64, 48, "optical")
    assert list(info.k) == k.k and info.p[0] == 50.0 and info.p[2] == 32.0
    assert info.distortion_model == "plumb_bob" and list(info.d) == [0.0] * 5


# -- joints and commands ---------------------------------------------------------------------


def joint_state(names, position, velocity=()) -> JointState:
    return JointState(name=list(names), position=[float(v) for v in position],
                      velocity=[float(v) for v in velocity])


def test_joint_states_are_matched_by_name():
    msg = joint_state(JOINTS[::-1], [4.0, 3.0, 2.0, 1.0], [40.0, 30.0, 20.0, 10.0])
    q, v = m.joint_state_vectors(msg, JOINTS)
    np.testing.assert_array_equal(q, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(v, [10.0, 20.0, 30.0, 40.0])
    q, v = m.joint_state_vectors(joint_state(JOINTS, [1, 2, 3, 4]), JOINTS)
    assert v is None  # JointState allows an empty velocity field
    extra = joint_state(JOINTS + ("gripper",), [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(m.joint_state_to_vector(extra, JOINTS, allow_extra=True),
                                  [1, 2, 3, 4])


@pytest.mark.parametrize("names, values, words", [
    (JOINTS[:3], [1, 2, 3], r"joint\(s\) \['wrist_pitch'\] missing"),
    (JOINTS + ("base_yaw",), [1, 2, 3, 4, 5], r"duplicate joint name\(s\) \['base_yaw'\]"),
    (JOINTS + ("gripper",), [1, 2, 3, 4, 5], r"unknown joint\(s\) \['gripper'\]"),
    (JOINTS, [1, float("nan"), 3, 4], r"position of joint\(s\) \['shoulder_pitch'\] is NaN"),
    (JOINTS, [1, 2, float("inf"), 4], "NaN or infinite"),
    (JOINTS, [1, 2, 3], "4 joint names but 3 position values"),
    (JOINTS, [], "no position values"),
])
def test_bad_joint_states_say_why(names, values, words):
    with pytest.raises(ValueError, match=words):
        m.joint_state_to_vector(joint_state(names, values), JOINTS)


def test_position_commands_need_one_finite_value_per_joint():
    np.testing.assert_array_equal(
        m.position_command_to_vector(m.position_command_message(np.arange(4.0)), JOINTS),
        np.arange(4.0))
    with pytest.raises(ValueError, match="3 values, expected 4"):
        m.position_command_to_vector(Float64MultiArray(data=[0.0, 1.0, 2.0]), JOINTS)
    with pytest.raises(ValueError, match=r"\['elbow_pitch'\] is NaN"):
        m.position_command_to_vector(Float64MultiArray(data=[0.0, 1.0, np.nan, 2.0]), JOINTS)


def test_trajectories_are_matched_by_name_and_checked():
    positions = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    msg = m.trajectory_message(JOINTS[::-1], [0.5, 1.0], positions[:, ::-1])
    times, out = m.trajectory_to_arrays(msg, JOINTS)
    np.testing.assert_array_equal(times, [0.5, 1.0])
    np.testing.assert_array_equal(out, positions)
    assert m.trajectory_to_arrays(JointTrajectory(joint_names=list(JOINTS)), JOINTS)[0].size == 0
    msg.points[1].time_from_start = Duration(sec=0, nanosec=400_000_000)
    with pytest.raises(ValueError, match="must increase"):
        m.trajectory_to_arrays(msg, JOINTS)
    short = JointTrajectory(joint_names=list(JOINTS), points=[JointTrajectoryPoint(
        positions=[1.0, 2.0], time_from_start=Duration(sec=1))])
    with pytest.raises(ValueError, match="4 joint names but 2 point 0 position values"):
        m.trajectory_to_arrays(short, JOINTS)


def test_trajectory_interpolation_starts_from_the_arm_and_holds_the_end():
    start = np.zeros(2)
    times = np.array([1.0, 2.0])
    points = np.array([[1.0, -1.0], [3.0, 1.0]])
    np.testing.assert_allclose(interpolate_trajectory(times, points, start, 0.5), [0.5, -0.5])
    np.testing.assert_allclose(interpolate_trajectory(times, points, start, 1.5), [2.0, 0.0])
    np.testing.assert_allclose(interpolate_trajectory(times, points, start, 9.0), [3.0, 1.0])
    np.testing.assert_allclose(interpolate_trajectory(np.array([0.0, 1.0]), points, start, 0.0),
                               [1.0, -1.0])


# -- ROS parameters from config classes ------------------------------------------------------

@pytest.fixture
def make_node(ros_domain):
    """Nodes in a private context; arguments as on a command line (--params-file, -p)."""
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node

    made = []

    def make(name: str, *ros_args: str) -> Node:
        ctx = Context()
        rclpy.init(args=["test", "--ros-args", *ros_args], context=ctx, domain_id=ros_domain)
        node = Node(name, context=ctx)
        made.append((node, ctx))
        return node

    yield make
    for node, ctx in made:
        node.destroy_node()
        rclpy.shutdown(context=ctx)


def test_a_params_file_gives_the_same_config_as_the_yaml_loader(make_node):
    from world_model_planner.nodes.ros_params import declare_config, read_config

    path = share_path("config", "sim.yaml")
    node = make_node("mujoco_sim", "--params-file", str(path), "-p", "node.camera_rate:=5",
                     "-p", "perturbations.push.force:=[1, 2, 3]")
    config = declare_config(node, cfg.SimulationConfig)
    expected = cfg.load(cfg.SimulationConfig, path, node="mujoco_sim",
                        overrides={"node.camera_rate": 5.0,
                                   "perturbations.push.force": [1.0, 2.0, 3.0]})
    assert config == expected
    assert read_config(node, cfg.SimulationConfig) == expected
    # integers where floats belong are accepted (as in YAML) and declared as doubles
    rate = node.get_parameter("node.camera_rate")
    assert rate.type_ == rate.Type.DOUBLE and rate.value == 5.0
    assert list(node.get_parameter("perturbations.push.force").value) == [1.0, 2.0, 3.0]


def test_parameters_carry_description_range_and_type(make_node):
    from world_model_planner.nodes.ros_params import declare_config

    node = make_node("mujoco_sim")
    declare_config(node, cfg.SimulationConfig)
    width = node.describe_parameter("sim.image_width")
    assert width.type == ParameterType.PARAMETER_INTEGER and width.read_only
    assert width.description == cfg.doc_of(cfg.SimConfig, "image_width")
    assert (width.integer_range[0].from_value, width.integer_range[0].to_value) == (8, 4096)
    period = node.describe_parameter("sim.control_period")
    assert period.floating_point_range[0].to_value == 1.0
    assert "> 0.0" in period.additional_constraints
    tint = node.describe_parameter("perturbations.lighting.tint")
    assert tint.type == ParameterType.PARAMETER_DOUBLE_ARRAY
    assert "each value >= 0.0, <= 2.0" in tint.additional_constraints
    assert node.describe_parameter("perturbations.push.link").type == \
        ParameterType.PARAMETER_STRING


def test_literals_and_empty_lists_get_their_ros_types(make_node):
    from world_model_planner.nodes.ros_params import declare_config

    node = make_node("recorder", "-p", "compression:=lz4")
    assert declare_config(node, cfg.RecorderConfig).compression == "lz4"
    assert "one of 'zstd', 'lz4', 'none'" in \
        node.describe_parameter("compression").additional_constraints
    robot = make_node("robot_user", "-p", "joints:=[a, b]")
    assert declare_config(robot, cfg.RobotConfig).joints == ["a", "b"]
    empty = make_node("robot_default")
    assert declare_config(empty, cfg.RobotConfig).joints == []
    assert empty.describe_parameter("joints").type == ParameterType.PARAMETER_STRING_ARRAY


@pytest.mark.parametrize("args, words", [
    (("-p", "sim.image_width:=-5"), "ROS parameters of /mujoco_sim: sim.image_width: must be "
                                    ">= 8, got -5"),
    (("-p", "sim.image_widht:=32"), "unknown key sim.image_widht"),
    (("-p", "node.camera_rate:=fast"), "node.camera_rate: expected float, got 'fast'"),
    (("-p", "perturbations.lighting.tint:=[1.0, 1.0]"), "perturbations.lighting.tint: "
                                                        "expected 3 values, got 2"),
])
def test_bad_values_stop_with_the_key_named(make_node, args, words):
    from world_model_planner.nodes.ros_params import declare_config

    node = make_node("mujoco_sim", *args)
    with pytest.raises(cfg.ConfigError, match=words.replace("[", r"\[")):
        declare_config(node, cfg.SimulationConfig)


def test_writable_parameters_are_validated_on_every_change(make_node):
    from rclpy.parameter import Parameter

    from world_model_planner.nodes.ros_params import declare_config, read_config

    node = make_node("mujoco_sim")
    declare_config(node, cfg.SimulationConfig, read_only=False)
    ok = node.set_parameters([Parameter("node.camera_rate", value=30.0)])[0]
    assert ok.successful and read_config(node, cfg.SimulationConfig).node.camera_rate == 30.0
    # outside the ROS range: rclpy itself refuses, naming the parameter
    bad = node.set_parameters([Parameter("sim.image_width", value=2)])[0]
    assert not bad.successful and "sim.image_width" in bad.reason
    # inside the (inclusive) ROS range but not allowed by the config: the config check refuses
    bad = node.set_parameters([Parameter("sim.control_period", value=0.0)])[0]
    assert not bad.successful and "sim.control_period: must be > 0.0, got 0.0" in bad.reason
    bad = node.set_parameters([Parameter("sim.control_period", value=0.015)])[0]
    assert not bad.successful and "whole multiple of physics_timestep" in bad.reason
    assert read_config(node, cfg.SimulationConfig).sim.control_period == 0.1

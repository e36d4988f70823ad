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
"""Conversions between ROS messages and the core's numpy arrays, shared by every node.

Incoming messages come from other people's drivers, so every conversion checks what it reads and
raises ValueError with the reason (a node logs it and drops the message). Joint vectors are always
matched by name (REP-103 units, the robot's joint order), never by index. The decoding rules for
image and joint-state content live in core/data/mcap_import.py, so a recording reads the same as
the live topic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import PoseStamped
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from ..core.data.mcap_import import (IMAGE_CHANNELS, decode_image, match_joint_names,
                                     planar_pose, yaw_quaternion)

if TYPE_CHECKING:  # the simulator (MuJoCo) is not needed to convert its intrinsics
    from ..core.sim.arm import CameraIntrinsics

SUPPORTED_ENCODINGS = tuple(IMAGE_CHANNELS)
NS = 1_000_000_000

# QoS of the topic contract (DESIGN.md "Interfaces"); publishers and subscribers both use these.
# Camera: SensorDataQoS with depth 1 (a stale frame is worse than none).
SENSOR_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                        reliability=ReliabilityPolicy.BEST_EFFORT,
                        durability=DurabilityPolicy.VOLATILE)
# Goals: the last one stays available to late joiners (a planner started after the sim).
LATCHED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Joint states, commands, results: the ros2_control default (SystemDefaultsQoS, depth 10).
RELIABLE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                          reliability=ReliabilityPolicy.RELIABLE,
                          durability=DurabilityPolicy.VOLATILE)
# /clock, as Gazebo and the ros_gz bridge publish it (rclpy subscribes best effort, depth 1).
CLOCK_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                       reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.VOLATILE)


# -- time ------------------------------------------------------------------------------------


def time_to_seconds(stamp: Time | Duration) -> float:
    """builtin_interfaces Time (or Duration) as float seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def seconds_to_time(seconds: float) -> Time:
    """float seconds (>= 0) as builtin_interfaces Time, rounded to the nanosecond."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a ROS time must be finite and >= 0 s, got {seconds}")
    sec, nanosec = divmod(int(round(seconds * NS)), NS)
    return Time(sec=sec, nanosec=nanosec)


def seconds_to_duration(seconds: float) -> Duration:
    """float seconds as builtin_interfaces Duration (nanosec always in [0, 1e9))."""
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be finite, got {seconds}")
    sec, nanosec = divmod(int(round(seconds * NS)), NS)
    return Duration(sec=sec, nanosec=nanosec)


# -- images ----------------------------------------------------------------------------------


def image_to_rgb(msg: Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an Image in rgb8, bgr8, rgba8, bgra8 or mono8.

    Height, width, step and data length are checked; ValueError names what does not add up.
    """
    return decode_image(msg.encoding, int(msg.height), int(msg.width), int(msg.step), msg.data)


def rgb_to_image(image: np.ndarray, *, stamp: Time | None = None, frame_id: str = "") -> Image:
    """An rgb8 Image from an (H, W, 3) uint8 array."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got {image.dtype} {image.shape}")
    msg = Image(height=image.shape[0], width=image.shape[1], encoding="rgb8", is_bigendian=0,
                step=image.shape[1] * 3)
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    msg.data = np.ascontiguousarray(image).tobytes()
    return msg


def camera_info_message(intrinsics: CameraIntrinsics, *, stamp: Time | None = None,
                        frame_id: str = "") -> CameraInfo:
    """CameraInfo of an undistorted pinhole camera (the rendered one)."""
    k = intrinsics
    msg = CameraInfo(width=k.width, height=k.height, distortion_model="plumb_bob",
                     d=[0.0] * 5, k=k.k, r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                     p=[k.fx, 0.0, k.cx, 0.0, 0.0, k.fy, k.cy, 0.0, 0.0, 0.0, 1.0, 0.0])
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    return msg


# -- joints ----------------------------------------------------------------------------------


def joint_state_to_vector(msg: JointState, joint_names: Sequence[str], *,
                          field: str = "position", allow_extra: bool = False) -> np.ndarray:
    """One field (position, velocity or effort) of a JointState in `joint_names` order.

    Matched by name. Missing, duplicate or (unless allow_extra) unknown names, an empty or
    short field and NaN/inf are a ValueError with the reason.
    """
    if field not in ("position", "velocity", "effort"):
        raise ValueError(f"field must be position, velocity or effort, got '{field}'")
    values = getattr(msg, field)
    if len(values) == 0:
        raise ValueError(f"joint state has no {field} values")
    return match_joint_names(msg.name, values, joint_names, what=field, allow_extra=allow_extra)


def joint_state_vectors(msg: JointState, joint_names: Sequence[str], *,
                        allow_extra: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(position, velocity) in `joint_names` order; velocity is None when the message has none
    (JointState allows empty fields), so the caller decides how to fill it in."""
    position = joint_state_to_vector(msg, joint_names, allow_extra=allow_extra)
    if len(msg.velocity) == 0:
        return position, None
    return position, joint_state_to_vector(msg, joint_names, field="velocity",
                                           allow_extra=allow_extra)


def joint_state_message(joint_names: Sequence[str], position: np.ndarray,
                        velocity: np.ndarray | None = None, *, stamp: Time | None = None,
                        frame_id: str = "") -> JointState:
    """A JointState naming every joint (position and, when given, velocity)."""
    msg = JointState(name=list(joint_names))
    msg.position = [float(v) for v in position]
    if velocity is not None:
        msg.velocity = [float(v) for v in velocity]
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    return msg


def planar_pose_message(pose: np.ndarray, *, stamp: Time | None = None, frame_id: str = ""
                        ) -> PoseStamped:
    """A PoseStamped of an object on the floor at (x, y, yaw) (z 0: where it touches it)."""
    msg = PoseStamped()
    msg.pose.position.x, msg.pose.position.y = float(pose[0]), float(pose[1])
    q = msg.pose.orientation
    q.x, q.y, q.z, q.w = yaw_quaternion(float(pose[2]))
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    return msg


def pose_to_planar(msg: PoseStamped) -> np.ndarray:
    """(x, y, yaw) of a PoseStamped; a ValueError if a value is NaN or infinite."""
    p, q = msg.pose.position, msg.pose.orientation
    return planar_pose(p.x, p.y, q.x, q.y, q.z, q.w)


# -- commands --------------------------------------------------------------------------------


def position_command_to_vector(msg: Float64MultiArray, joint_names: Sequence[str]) -> np.ndarray:
    """A forward_position_controller command: one finite value per joint, in the robot's order
    (the controller's `joints` parameter order; this message carries no names)."""
    values = np.asarray(msg.data, dtype=np.float64)
    if values.shape != (len(joint_names),):
        raise ValueError(f"position command has {values.size} values, expected "
                         f"{len(joint_names)} ({', '.join(joint_names)})")
    if not np.all(np.isfinite(values)):
        bad = [n for n, v in zip(joint_names, values) if not np.isfinite(v)]
        raise ValueError(f"position command for joint(s) {bad} is NaN or infinite")
    return values


def position_command_message(values: np.ndarray) -> Float64MultiArray:
    return Float64MultiArray(data=[float(v) for v in values])


def trajectory_to_arrays(msg: JointTrajectory, joint_names: Sequence[str]
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(time_from_start (P,) seconds, positions (P, J) in `joint_names` order).

    Like joint_trajectory_controller: every joint named once, each point with a position per
    joint, times strictly increasing and not negative. An empty trajectory gives P = 0.
    """
    if not msg.points:
        return np.zeros(0), np.zeros((0, len(joint_names)))
    times = np.array([time_to_seconds(p.time_from_start) for p in msg.points])
    if times[0] < 0 or np.any(np.diff(times) <= 0):
        raise ValueError(f"trajectory time_from_start must increase strictly from >= 0, got "
                         f"{times.tolist()}")
    positions = np.stack([
        match_joint_names(msg.joint_names, p.positions, joint_names, what=f"point {i} position")
        for i, p in enumerate(msg.points)])
    return times, positions


def trajectory_message(joint_names: Sequence[str], times: Sequence[float],
                       positions: np.ndarray, velocities: np.ndarray | None = None, *,
                       stamp: Time | None = None) -> JointTrajectory:
    """A JointTrajectory; stamp None (zero) means 'start on arrival' to the controller."""
    msg = JointTrajectory(joint_names=list(joint_names))
    if stamp is not None:
        msg.header.stamp = stamp
    for i, t in enumerate(times):
        point = JointTrajectoryPoint(positions=[float(v) for v in positions[i]],
                                     time_from_start=seconds_to_duration(float(t)))
        if velocities is not None:
            point.velocities = [float(v) for v in velocities[i]]
        msg.points.append(point)
    return msg


__all__ = [
    "CLOCK_QOS", "LATCHED_QOS", "RELIABLE_QOS", "SENSOR_QOS", "SUPPORTED_ENCODINGS",
    "camera_info_message", "image_to_rgb", "joint_state_message",
    "joint_state_to_vector", "joint_state_vectors", "position_command_message",
    "position_command_to_vector", "rgb_to_image", "seconds_to_duration", "seconds_to_time",
    "time_to_seconds", "trajectory_message", "trajectory_to_arrays",
]

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
"""Recordings of the recorder node (MCAP, ros2msg schemas, CDR) turned into training episodes.

A real arm gives no episodes, only streams: camera frames, joint states and the commands a planner
or a teleoperator sent. An episode step here is one camera frame, paired with the joint state
nearest in time and with the command sent after that frame (the one the frame caused), so
`action = command - qpos` means what it means in simulated data. Episodes end at task results, at
new goals and wherever the camera or the joint states fall silent for more than a second.

A push session (the simulator publishing task/object_pose) gives push episodes: each frame gets
the object pose sent nearest to it, and each episode the goal pose of its task/result (see
:func:`_goal_object` for why that one).

Everything is decoded from the recorded schemas with mcap-ros2-support, so no ROS install is
needed. Times are the publishers' send times (MCAP publish_time: the DDS source timestamp the
recorder node stores), not the recorder's receive times (log_time): a recorder whose executor
falls behind receives a burst of messages at once, in whatever order it services its
subscriptions, and receive times then pair frames with the wrong commands and cut episodes in
the wrong place. Header stamps are no better: different sources may stamp with different clocks
(sim time, a camera's own clock). Send times share the publishers' system clock, one clock on one
machine (keep machines in sync with NTP/PTP when recording across them). Recordings without a
publish time (0) fall back to log_time. How far behind the recorder was is reported (a warning
past half a control period, and `receive_delay_s` in the manifest).

The small decoders at the top (images, joint names) are shared with the ROS nodes' message
conversions, so a frame means the same thing live and from a recording.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import topics
from .shards import (FORMAT, MANIFEST, VERSION, Dataset, DatasetError, Episode, content_digest,
                     dataset_digest, pack_episodes, write_manifest, write_shard)

log = logging.getLogger(__name__)

IMAGE_CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
CACHE_SUFFIX = ".episodes"
IMPORT_VERSION = 3  # bump when the import rules change, so cached imports are redone
NS = 1_000_000_000


# --------------------------------------------------------------------------------------------
# Message content (no ROS import: works on rclpy messages and on decoded MCAP records alike)


def decode_image(encoding: str, height: int, width: int, step: int, data: Any) -> np.ndarray:
    """(H, W, 3) uint8 RGB from the fields of a sensor_msgs/Image.

    Accepts rgb8, bgr8, rgba8, bgra8 and mono8; anything else, or sizes that do not add up, is a
    ValueError that says which field is wrong.
    """
    channels = IMAGE_CHANNELS.get(str(encoding).lower())
    if channels is None:
        raise ValueError(f"image encoding '{encoding}' is not supported (use one of "
                         f"{', '.join(IMAGE_CHANNELS)})")
    if height <= 0 or width <= 0:
        raise ValueError(f"image is {width}x{height} px; width and height must be positive")
    if step < width * channels:
        raise ValueError(f"image step {step} is less than width * {channels} bytes "
                         f"({width * channels}) for {encoding}")
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer.size != step * height:
        raise ValueError(f"image data has {buffer.size} bytes, expected step * height = "
                         f"{step} * {height} = {step * height}")
    pixels = buffer.reshape(height, step)[:, :width * channels].reshape(height, width, channels)
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    if encoding.lower().startswith("bgr"):
        pixels = pixels[..., 2::-1]
    return np.ascontiguousarray(pixels[..., :3])


def match_joint_names(names: Sequence[str], values: Sequence[float], joint_names: Sequence[str],
                      *, what: str = "position", allow_extra: bool = False) -> np.ndarray:
    """`values` given per name in `names` as a float vector in `joint_names` order.

    Missing or duplicate names, names the robot lacks (unless allow_extra) and NaN or inf are a
    ValueError that says which.
    """
    names = list(names)
    if len(values) != len(names):
        raise ValueError(f"{len(names)} joint names but {len(values)} {what} values")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate joint name(s) {duplicates}")
    seen = set(names)
    missing = [n for n in joint_names if n not in seen]
    if missing:
        raise ValueError(f"joint(s) {missing} missing (got {names}; expected {list(joint_names)})")
    if not allow_extra:
        unknown = [n for n in names if n not in set(joint_names)]
        if unknown:
            raise ValueError(f"unknown joint(s) {unknown} (the robot has {list(joint_names)})")
    lookup = dict(zip(names, values))
    out = np.array([lookup[n] for n in joint_names], dtype=np.float64)
    if not np.all(np.isfinite(out)):
        bad = [n for n, v in zip(joint_names, out) if not np.isfinite(v)]
        raise ValueError(f"{what} of joint(s) {bad} is NaN or infinite")
    return out


def planar_pose(x: float, y: float, qx: float, qy: float, qz: float, qw: float) -> np.ndarray:
    """(x, y, yaw) of a geometry_msgs/Pose on the floor (the push task's object): its heading
    about z, from the quaternion's fields."""
    yaw = math.atan2(2.0 * (qw * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
    pose = np.array([x, y, yaw], dtype=np.float64)
    if not np.all(np.isfinite(pose)):
        raise ValueError(f"object pose {pose.tolist()} is NaN or infinite")
    return pose


def yaw_quaternion(yaw: float) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a turn by `yaw` about z, as geometry_msgs/Quaternion orders them."""
    return 0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)


def interpolate_trajectory(times: np.ndarray, positions: np.ndarray, start: np.ndarray,
                           t: float) -> np.ndarray:
    """Joint targets `t` seconds after a trajectory arrived, moving linearly from `start`.

    times (P,) strictly increasing time_from_start; positions (P, J). Before the first point the
    target moves from `start` to it; after the last it holds (joint_trajectory_controller).
    """
    knots = np.concatenate([[0.0], times]) if times[0] > 0 else times
    values = np.vstack([start, positions]) if times[0] > 0 else positions
    if t >= knots[-1]:
        return values[-1].copy()
    if t <= knots[0]:
        return values[0].copy()
    i = int(np.searchsorted(knots, t, side="right")) - 1
    w = (t - knots[i]) / (knots[i + 1] - knots[i])
    return (1.0 - w) * values[i] + w * values[i + 1]


# --------------------------------------------------------------------------------------------
# Reading


@dataclass
class Recording:
    """The streams an import needs, sorted by publish time (ns); joints in the robot's order.
    receive_delays: log_time - publish_time of every message used (ns), the recorder's lag."""

    joint_names: tuple[str, ...]
    joint_times: list[int] = field(default_factory=list)
    qpos: list[np.ndarray] = field(default_factory=list)
    qvel: list[np.ndarray] = field(default_factory=list)
    image_times: list[int] = field(default_factory=list)
    image_stamps: list[int] = field(default_factory=list)  # header stamps: the camera's clock
    images: list[np.ndarray] = field(default_factory=list)
    position_commands: list[tuple[int, np.ndarray]] = field(default_factory=list)
    trajectories: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)
    goal_joints: list[tuple[int, np.ndarray]] = field(default_factory=list)
    goal_images: list[tuple[int, np.ndarray]] = field(default_factory=list)
    results: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    object_poses: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (x, y, yaw)
    camera_info: dict[str, Any] | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    receive_delays: list[int] = field(default_factory=list)

    def drop(self, topic: str, where: str, reason: str) -> None:
        if topic not in self.dropped:
            log.warning("%s: dropping malformed %s message(s): %s", where, topic, reason)
        self.dropped[topic] = self.dropped.get(topic, 0) + 1


ROLES = {
    topics.JOINT_STATES: "joint_states",
    topics.CAMERA_IMAGE: "image",
    topics.CAMERA_INFO: "camera_info",
    topics.POSITION_COMMANDS: "position",
    topics.TRAJECTORY_COMMANDS: "trajectory",
    topics.TASK_GOAL_IMAGE: "goal_image",
    topics.TASK_GOAL_JOINTS: "goal_joints",
    topics.TASK_RESULT: "result",
    topics.TASK_OBJECT_POSE: "object_pose",
}


def role_of(topic: str, namespace: str = "") -> str | None:
    """Which stream a recorded topic is: its name ends with one of the contract's names."""
    prefix = "/" + namespace.strip("/") if namespace.strip("/") else ""
    for name, role in ROLES.items():
        if topic == f"{prefix}/{name}" or (not prefix and topic.endswith("/" + name)):
            return role
    return None


def list_recordings(source: str | Path) -> list[Path]:
    """The .mcap files of `source` (one file, or a folder's *.mcap in name order)."""
    path = Path(source)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.glob("*.mcap") if p.is_file())
        if files:
            return files
        raise DatasetError(f"{path}: holds no .mcap files (record with 'ros2 run "
                           "world_model_planner recorder_node')")
    raise DatasetError(f"{path}: no such file or folder")


def iter_decoded(files: Iterable[Path]) -> Iterator[tuple[str, int, int, Any, Path]]:
    """(topic, publish_time_ns, log_time_ns, decoded message, file) of each file in turn, in
    file order; publish_time is log_time where the recording has none (0).

    Files are read front to back (no summary needed), so a file cut short (a recorder killed
    without a chance to finish it) yields the chunks it holds, with a warning.
    """
    from mcap.exceptions import McapError
    from mcap.reader import NonSeekingReader
    from mcap_ros2.decoder import DecoderFactory

    for path in files:
        with open(path, "rb") as stream:
            reader = NonSeekingReader(stream, decoder_factories=[DecoderFactory()])
            try:
                for _schema, channel, message, decoded in reader.iter_decoded_messages(
                        log_time_order=False):
                    sent = message.publish_time or message.log_time
                    yield channel.topic, sent, message.log_time, decoded, path
            except (McapError, EOFError, ValueError, AssertionError) as exc:
                log.warning("%s: recording ends early (%s: %s); using the messages before that",
                            path, type(exc).__name__, exc)


def _seconds(duration: Any) -> float:
    return float(duration.sec) + float(duration.nanosec) * 1e-9


def read_recordings(files: Sequence[Path], joint_names: Sequence[str], *,
                    namespace: str = "") -> Recording:
    """Decode and sort the streams of `files` (split parts of one session, or several sessions)."""
    rec = Recording(tuple(joint_names))
    joints: list[tuple[int, np.ndarray, np.ndarray]] = []
    frames: list[tuple[int, np.ndarray, int]] = []
    for topic, stamp, received, msg, path in iter_decoded(files):
        role = role_of(topic, namespace)
        if role is None:
            continue
        rec.receive_delays.append(received - stamp)
        try:
            if role == "joint_states":
                q = match_joint_names(msg.name, msg.position, joint_names, allow_extra=True)
                v = (match_joint_names(msg.name, msg.velocity, joint_names, what="velocity",
                                       allow_extra=True)
                     if len(msg.velocity) else np.zeros(len(joint_names)))
                joints.append((stamp, q, v))
            elif role == "image":
                frames.append((stamp, decode_image(msg.encoding, msg.height, msg.width, msg.step,
                                                   msg.data),
                               int(msg.header.stamp.sec) * NS + int(msg.header.stamp.nanosec)))
            elif role == "camera_info":
                rec.camera_info = {"frame_id": msg.header.frame_id, "width": int(msg.width),
                                   "height": int(msg.height),
                                   "intrinsics": [float(v) for v in msg.k]}
            elif role == "position":
                values = np.asarray(msg.data, dtype=np.float64)
                if values.shape != (len(joint_names),) or not np.all(np.isfinite(values)):
                    raise ValueError(f"expected {len(joint_names)} finite values, got "
                                     f"{values.tolist()}")
                rec.position_commands.append((stamp, values))
            elif role == "trajectory":
                if not msg.points:
                    continue
                times = np.array([_seconds(p.time_from_start) for p in msg.points])
                if np.any(np.diff(times) <= 0) or times[0] < 0:
                    raise ValueError(f"time_from_start must increase, got {times.tolist()}")
                pos = np.stack([match_joint_names(msg.joint_names, p.positions, joint_names)
                                for p in msg.points])
                rec.trajectories.append((stamp, times, pos))
            elif role == "goal_joints":
                rec.goal_joints.append((stamp, match_joint_names(msg.name, msg.position,
                                                                 joint_names, allow_extra=True)))
            elif role == "goal_image":
                rec.goal_images.append((stamp, decode_image(msg.encoding, msg.height, msg.width,
                                                            msg.step, msg.data)))
            elif role == "result":
                result = json.loads(msg.data)
                rec.results.append((stamp, result if isinstance(result, dict) else {}))
            elif role == "object_pose":
                p, q = msg.pose.position, msg.pose.orientation
                rec.object_poses.append((stamp, planar_pose(p.x, p.y, q.x, q.y, q.z, q.w)))
        except (ValueError, TypeError, AttributeError) as exc:
            rec.drop(topic, str(path), str(exc))
    joints.sort(key=lambda r: r[0])
    frames.sort(key=lambda r: r[0])
    rec.joint_times = [r[0] for r in joints]
    rec.qpos = [r[1] for r in joints]
    rec.qvel = [r[2] for r in joints]
    rec.image_times = [r[0] for r in frames]
    rec.images = [r[1] for r in frames]
    rec.image_stamps = [r[2] for r in frames]
    for stream in (rec.position_commands, rec.trajectories, rec.goal_joints, rec.goal_images,
                   rec.results, rec.object_poses):
        stream.sort(key=lambda r: r[0])
    return rec


# --------------------------------------------------------------------------------------------
# Episodes


@dataclass(frozen=True)
class ImportSettings:
    """How streams become episodes."""

    gap_seconds: float = 1.0  # silence (camera or joint states) that ends an episode
    max_joint_skew: float = 0.1  # a frame needs a joint state this close in time (s)
    min_steps: int = 2  # shorter episodes are dropped
    control_period: float | None = None  # None: the median camera frame interval


def estimate_control_period(rec: Recording) -> float:
    """Median camera frame interval (s), rounded to 1 ms: the rate the planner ran at.

    Measured on the frames' header stamps where they increase (the camera's own clock: a
    simulator's sim time, which the send times only follow when it runs in real time), else on
    their send times."""
    if len(rec.image_times) < 2:
        raise DatasetError("a recording needs at least two camera frames to tell the control "
                           "period")
    for times in (rec.image_stamps, rec.image_times):
        gaps = np.diff(np.asarray(times, dtype=np.int64)) / NS
        if len(times) == len(rec.image_times) and np.median(gaps) > 0:
            break
    gaps = gaps[gaps > 0]
    return max(round(float(np.median(gaps)), 3), 0.001)


def receive_delay(rec: Recording) -> dict[str, float]:
    """How long after sending the recorder received messages (s): median, p99 and max."""
    if not rec.receive_delays:
        return {"median": 0.0, "p99": 0.0, "max": 0.0}
    d = np.asarray(rec.receive_delays, dtype=np.float64) / NS
    return {"median": round(float(np.median(d)), 6), "p99": round(float(np.percentile(d, 99)), 6),
            "max": round(float(d.max()), 6)}


def _commands(rec: Recording, control_period: float) -> tuple[np.ndarray, np.ndarray]:
    """(times, absolute joint targets) of every command; a trajectory counts as its target one
    control period after it arrived, starting from the joint state when it arrived."""
    out = list(rec.position_commands)
    jt = np.asarray(rec.joint_times, dtype=np.int64)
    for stamp, times, positions in rec.trajectories:
        if len(jt):
            k = int(np.clip(np.searchsorted(jt, stamp), 1, len(jt)) - 1)
            start = rec.qpos[k]
        else:
            start = positions[0]
        out.append((stamp, interpolate_trajectory(times, positions, start, control_period)))
    out.sort(key=lambda r: r[0])
    dof = len(rec.joint_names)
    return (np.array([r[0] for r in out], dtype=np.int64),
            np.array([r[1] for r in out], dtype=np.float64).reshape(-1, dof))


def _segments(rec: Recording, settings: ImportSettings) -> list[list[int]]:
    """Runs of frame indices with no episode boundary or gap between neighbours."""
    times = np.asarray(rec.image_times, dtype=np.int64)
    jt = np.asarray(rec.joint_times, dtype=np.int64)
    cuts = np.array(sorted([t for t, _ in rec.results] + [t for t, _ in rec.goal_joints]
                           + [t for t, _ in rec.goal_images]), dtype=np.int64)
    gap = int(settings.gap_seconds * NS)
    skew = int(settings.max_joint_skew * NS)
    segments: list[list[int]] = []
    current: list[int] = []
    for i, t in enumerate(times.tolist()):
        k = int(np.searchsorted(jt, t))
        near = [abs(int(jt[j]) - t) for j in (k - 1, k) if 0 <= j < len(jt)]
        if not near or min(near) > skew:
            if current:
                segments.append(current)
            current = []
            continue
        if current:
            prev = int(times[current[-1]])
            cut = np.any((cuts > prev) & (cuts <= t))
            joints_gap = np.any(np.diff(jt[(jt >= prev) & (jt <= t)]) > gap)
            if t - prev > gap or cut or joints_gap:
                segments.append(current)
                current = []
        current.append(i)
    if current:
        segments.append(current)
    return segments


def _nearest(times: np.ndarray, t: int) -> int:
    k = int(np.searchsorted(times, t))
    if k == 0:
        return 0
    if k == len(times):
        return len(times) - 1
    return k if times[k] - t < t - times[k - 1] else k - 1


def build_episodes(rec: Recording, robot: Any, settings: ImportSettings = ImportSettings()
                   ) -> list[Episode]:
    """Episodes of a recording (see the module docstring for the rules)."""
    if not rec.image_times or not rec.joint_times:
        return []
    period = settings.control_period or estimate_control_period(rec)
    cmd_t, cmd_v = _commands(rec, period)
    jt = np.asarray(rec.joint_times, dtype=np.int64)
    result_t = np.array([t for t, _ in rec.results], dtype=np.int64)
    episodes: list[Episode] = []
    for segment in _segments(rec, settings):
        times = [rec.image_times[i] for i in segment]
        start_t = times[0]
        # Commands sent before the segment began belong to another episode (the arm was reset).
        earlier = result_t[result_t < start_t]
        floor = int(earlier[-1]) if len(earlier) else -1
        seg_first = max(floor, start_t - int(settings.gap_seconds * NS))
        commands: list[np.ndarray | None] = []
        for k in range(len(times) - 1):
            lo, hi = times[k], times[k + 1]
            after = np.flatnonzero((cmd_t > lo) & (cmd_t <= hi))
            if len(after):
                commands.append(cmd_v[after[0]])
                continue
            held = np.flatnonzero((cmd_t > seg_first) & (cmd_t <= lo))
            commands.append(cmd_v[held[-1]] if len(held) else None)
        first = next((k for k, c in enumerate(commands) if c is not None), None)
        if first is None or len(commands) - first < settings.min_steps:
            continue
        frames = segment[first:]
        steps = np.stack([c for c in commands[first:] if c is not None])
        nearest = [_nearest(jt, rec.image_times[i]) for i in frames]
        qpos = np.stack([rec.qpos[j] for j in nearest])
        qvel = np.stack([rec.qvel[j] for j in nearest])
        images = np.stack([rec.images[i] for i in frames])
        last_t = rec.image_times[frames[-1]]
        goal_q, goal_image = _goal(rec, floor, last_t, images.shape[1:])
        if goal_q is None:  # no goal was posed: the episode's end is its goal (hindsight)
            goal_q, goal_image = qpos[-1], images[-1]
        object_pose = goal_object = None
        if rec.object_poses:
            object_pose = _object_poses(rec, [rec.image_times[i] for i in frames])
            goal_object = _goal_object(rec, last_t)
            if goal_object is None:  # hindsight, the goal image with it
                goal_object, goal_image = object_pose[-1], images[-1]
        tool = robot.tool_positions(qpos)
        episodes.append(Episode(
            images=images, qpos=qpos, qvel=qvel, tool=tool,
            stamps=np.array([rec.image_times[i] / NS for i in frames]),
            actions=steps - qpos[:-1], commands=steps, goal_qpos=goal_q,
            goal_tool=robot.tool_positions(goal_q), goal_image=goal_image,
            seed=0, index=len(episodes), object_pose=object_pose, goal_object=goal_object))
    return episodes


def _object_poses(rec: Recording, times: Sequence[int]) -> np.ndarray:
    """(T+1, 3) the object pose sent nearest each frame (the simulator sends one per frame)."""
    sent = np.array([t for t, _ in rec.object_poses], dtype=np.int64)
    return np.stack([rec.object_poses[_nearest(sent, t)][1] for t in times])


def _goal_object(rec: Recording, last_t: int) -> np.ndarray | None:
    """The goal pose of the episode whose last frame was sent at `last_t`: `goal_object` of the
    first task/result after it, unless a new goal was posed in between (that result is another
    episode's); None without one.

    Not the object's final pose: `goal_object` must be where the episode's goal image shows the
    object (the shards' contract, and what the object head is checked against), and in a missed
    episode the object ends elsewhere. Only an episode without a result (cut by a silence, a
    recording without the simulator's task) falls back to hindsight: its final pose, with its
    last frame as the goal image, which then shows exactly that."""
    posed = [t for t, _ in rec.goal_images] + [t for t, _ in rec.goal_joints]
    for t, result in rec.results:
        if t <= last_t:
            continue
        if any(last_t < g < t for g in posed) or "goal_object" not in result:
            return None
        try:
            goal = np.asarray(result["goal_object"], dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return goal if goal.shape == (3,) and np.all(np.isfinite(goal)) else None
    return None


def _goal(rec: Recording, after: int, until: int, shape: tuple[int, ...]
          ) -> tuple[np.ndarray | None, np.ndarray]:
    """The goal posed after the previous result and before the episode's last frame."""
    joints = [q for t, q in rec.goal_joints if after < t <= until]
    images = [im for t, im in rec.goal_images if after < t <= until and im.shape == shape]
    image = images[-1] if images else np.zeros(shape, np.uint8)
    return (joints[-1] if joints else None), image


# --------------------------------------------------------------------------------------------
# Dataset folders


def _recordings_listing(files: Sequence[Path]) -> list[dict[str, Any]]:
    out = []
    for path in files:
        st = path.stat()
        out.append({"file": path.name, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns})
    return out


def convert_recordings(source: str | Path, out: str | Path, *, robot: str | Path | None = None,
                       settings: ImportSettings = ImportSettings(), episodes_per_shard: int = 20,
                       compression: int = 6, namespace: str = "") -> dict[str, Any]:
    """Write the episodes of the recordings in `source` as a dataset folder `out`.

    `out` gets shards and a manifest exactly like `wmp collect` writes, so `wmp train --data out`
    and :class:`Dataset` read it. Returns the manifest.
    """
    from ... import __version__
    from ..robot import DEFAULT_ROBOT, Robot

    files = list_recordings(source)
    arm = Robot.load(robot or DEFAULT_ROBOT)
    rec = read_recordings(files, arm.joint_names, namespace=namespace)
    missing = [what for what, stream in (("camera/image_raw", rec.image_times),
                                         ("joint_states", rec.joint_times)) if not stream]
    if not (rec.position_commands or rec.trajectories):
        missing.append(f"{topics.POSITION_COMMANDS} or {topics.TRAJECTORY_COMMANDS}")
    if missing:
        raise DatasetError(f"{source}: the recording has no {', '.join(missing)} messages; "
                           "record them with the recorder node while the arm is commanded")
    period = settings.control_period or estimate_control_period(rec)
    settings = ImportSettings(settings.gap_seconds, settings.max_joint_skew, settings.min_steps,
                              period)
    delay = receive_delay(rec)
    if delay["p99"] > period / 2:
        log.warning("%s: the recorder received messages up to %.3f s after they were sent (p99 "
                    "%.3f s; the control period is %.3f s): its executor fell behind. Episodes "
                    "are timed by send time, so they are still cut and paired where the "
                    "publishers put them; record fewer topics or smaller images to keep up",
                    source, delay["max"], delay["p99"], period)
    episodes = build_episodes(rec, arm, settings)
    if not episodes:
        raise DatasetError(f"{source}: no episode of at least {settings.min_steps} steps (frames "
                           "with a joint state within max_joint_skew and a command after them)")
    shape = episodes[0].images.shape[1:]
    odd = [e.index for e in episodes if e.images.shape[1:] != shape]
    if odd:
        raise DatasetError(f"{source}: camera frames change size ({shape} then "
                           f"{episodes[odd[0]].images.shape[1:]}); record one camera setup per "
                           "dataset")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shards = []
    for k, first in enumerate(range(0, len(episodes), episodes_per_shard)):
        chunk = episodes[first:first + episodes_per_shard]
        arrays = pack_episodes(chunk)
        name = f"shard-{k:05d}.npz"
        sha = write_shard(out / name, arrays, compression)
        shards.append({"file": name, "episodes": len(chunk), "first_episode": first,
                       "frames": int(len(arrays["images"])), "steps": int(len(arrays["actions"])),
                       "sha256": sha, "content_digest": content_digest(arrays)})
    for stale in set(p.name for p in out.glob("shard-*.npz")) - {s["file"] for s in shards}:
        (out / stale).unlink()
    info = rec.camera_info or {}
    manifest = {
        "format": FORMAT, "version": VERSION, "source": "mcap",
        "created_with": f"world_model_planner {__version__}", "seed": 0,
        "episodes": len(episodes), "frames": sum(s["frames"] for s in shards),
        "steps": sum(s["steps"] for s in shards), "shards": shards,
        "digest": dataset_digest(shards),
        "config": {"import": {"version": IMPORT_VERSION, "gap_seconds": settings.gap_seconds,
                              "max_joint_skew": settings.max_joint_skew,
                              "min_steps": settings.min_steps, "namespace": namespace}},
        "recordings": _recordings_listing(files),
        "dropped_messages": rec.dropped,
        "receive_delay_s": delay,
        "robot": {"name": arm.name, "joint_names": list(arm.joint_names),
                  "lower": arm.lower.tolist(), "upper": arm.upper.tolist()},
        "camera": {"name": info.get("frame_id", ""), "width": int(shape[1]),
                   "height": int(shape[0]), "intrinsics": info.get("intrinsics", [])},
        "control_period": period,
        "action_bound": arm.action_bound(period).tolist(),
    }
    if episodes[0].object_pose is not None:
        manifest["task"] = "push"
    write_manifest(out, manifest)
    return manifest


def cache_folder(source: str | Path) -> Path:
    """Where an imported recording is kept: `<source>.episodes/` next to it."""
    path = Path(source)
    return path.with_name(path.name + CACHE_SUFFIX)


def is_recording(path: str | Path) -> bool:
    """A .mcap file, or a folder with .mcap files and no dataset manifest."""
    p = Path(path)
    if p.is_file():
        return p.suffix == ".mcap"
    return p.is_dir() and not (p / MANIFEST).exists() and any(p.glob("*.mcap"))


def _up_to_date(cache: Path, files: Sequence[Path]) -> bool:
    try:
        manifest = Dataset(cache).manifest
    except DatasetError:
        return False
    imported = manifest.get("config", {}).get("import", {})
    return (manifest.get("recordings") == _recordings_listing(files)
            and imported.get("version") == IMPORT_VERSION
            and all((cache / s["file"]).is_file() for s in manifest.get("shards", [])))


def import_cached(source: str | Path, **kwargs: Any) -> Path:
    """The dataset folder of recording `source`, imported now unless a current import exists."""
    source = Path(source)
    files = list_recordings(source)
    cache = cache_folder(source)
    if _up_to_date(cache, files):
        return cache
    log.info("importing %d recording(s) from %s into %s", len(files), source, cache)
    tmp = cache.with_name(f".{cache.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        convert_recordings(source, tmp, **kwargs)
        if cache.exists():
            shutil.rmtree(cache)
        os.replace(tmp, cache)
    except OSError as exc:
        if not _up_to_date(cache, files):  # another process may have just finished the same
            raise DatasetError(f"{cache}: cannot write the imported episodes ({exc}); make the "
                               f"folder next to {source} writable") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cache


def dataset_root(path: str | Path, robot: str | Path | None = None) -> Path:
    """A dataset folder for `path`: itself, or the (cached) import of a recording of `robot`
    (default: the package's arm)."""
    return import_cached(path, robot=robot) if is_recording(path) else Path(path)

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
"""Record what a world model trains on (camera, joints, commands, task) to MCAP files.

Files are written the way `ros2 bag record -s mcap` writes them: profile ros2, CDR messages as
they came off the wire (raw subscriptions, nothing is decoded), ros2msg schemas holding the full
concatenated message definitions and each channel's offered_qos_profiles. So `ros2 bag info` and
`ros2 bag play` (mcap storage plugin), Foxglove and `wmp train` (core/data/mcap_import.py) all
read them. In the push task the simulator's true object pose (task/object_pose) is recorded
too, for training and evaluation. The node publishes only its /diagnostics (once a second: the
open file and how many messages of each topic it holds). On SIGINT or SIGTERM the open file is
finished properly; with split_seconds a new file starts every so many seconds.

Run: ros2 run world_model_planner recorder_node --ros-args --params-file config/recorder.yaml
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory

from .. import graph
from ..core.config import ConfigError, RecorderConfig
from .entry import run
from .ros_params import declare_config

PRIMITIVES = {"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
              "int32", "uint32", "int64", "uint64", "string", "wstring"}
DELIMITER = "=" * 80
LOG_EVERY = 5.0
DIAGNOSTICS_PERIOD = 1.0  # s (wall) between /diagnostics messages


# -- message definitions ---------------------------------------------------------------------


def type_name(msg_class: type) -> str:
    """'sensor_msgs/msg/Image' for the rclpy class sensor_msgs.msg.Image."""
    return f"{msg_class.__module__.split('.')[0]}/msg/{msg_class.__name__}"


def _share_folder(package: str) -> Path:
    """share/<package> from the ament index; without one (no sourced ROS setup, e.g. the PyPI
    wheels), the environment's own share/ folder, where those wheels put it."""
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        return Path(get_package_share_directory(package))
    except (PackageNotFoundError, OSError, LookupError, ValueError):
        for prefix in (sys.prefix, sys.base_prefix):
            candidate = Path(prefix) / "share" / package
            if candidate.is_dir():
                return candidate
        raise FileNotFoundError(f"package {package} is not installed (not in the ament index "
                                f"nor under {sys.prefix}/share); source your ROS setup or "
                                f"install it") from None


@lru_cache(maxsize=None)
def _msg_text(name: str) -> str:
    package, _, message = name.split("/")
    path = _share_folder(package) / "msg" / f"{message}.msg"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(f"{path}: message definition of {name} not found ({exc}); "
                                f"install the {package} package") from exc


def _field_types(package: str, text: str) -> list[str]:
    """Full names of the non-primitive field types of a .msg text, in order of appearance."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        token = re.sub(r"(\[.*?\]|<=\d+)", "", line.split()[0])
        if token in PRIMITIVES:
            continue
        if token == "Header":
            token = "std_msgs/Header"
        parts = token.split("/")
        pkg, msg = (package, parts[0]) if len(parts) == 1 else (parts[0], parts[-1])
        out.append(f"{pkg}/msg/{msg}")
    return out


@lru_cache(maxsize=None)
def message_definition(name: str) -> str:
    """The complete ros2msg definition of `name` (pkg/msg/Type) as rosbag2 stores it: the
    type's own .msg text, then each dependency once, after a line of 80 '=' and 'MSG: <type>'."""
    seen = [name]
    queue = [name]
    while queue:
        current = queue.pop(0)
        for dep in _field_types(current.split("/")[0], _msg_text(current)):
            if dep not in seen:
                seen.append(dep)
                queue.append(dep)
    parts = [_msg_text(name).rstrip("\n")]
    for dep in seen[1:]:
        parts.append(f"{DELIMITER}\nMSG: {dep}\n{_msg_text(dep).rstrip(chr(10))}")
    return "\n".join(parts) + "\n"


def qos_yaml(profiles: list[QoSProfile]) -> str:
    """offered_qos_profiles as rosbag2 (metadata version 9, Jazzy and later) writes them."""
    def duration(ns: int) -> str:
        sec, nsec = divmod(int(ns), 1_000_000_000)
        return f"\n    sec: {sec}\n    nsec: {nsec}"

    items = []
    for p in profiles:
        items.append(
            f"- history: {p.history.name.lower()}\n  depth: {p.depth}\n"
            f"  reliability: {p.reliability.name.lower()}\n"
            f"  durability: {p.durability.name.lower()}\n"
            f"  deadline:{duration(p.deadline.nanoseconds)}\n"
            f"  lifespan:{duration(p.lifespan.nanoseconds)}\n"
            f"  liveliness: {p.liveliness.name.lower()}\n"
            f"  liveliness_lease_duration:{duration(p.liveliness_lease_duration.nanoseconds)}\n"
            f"  avoid_ros_namespace_conventions: "
            f"{str(p.avoid_ros_namespace_conventions).lower()}")
    return "\n".join(items) + ("\n" if items else "")


# -- files -----------------------------------------------------------------------------------


@dataclass
class Channel:
    topic: str
    type_name: str
    qos: str  # offered_qos_profiles YAML


class McapRecorder:
    """MCAP files of raw CDR messages in one folder, one file per split; ROS-free apart from
    reading message definitions, so tests and tools can write recordings the same way."""

    def __init__(self, config: RecorderConfig, *, now: Callable[[], dt.datetime] | None = None,
                 on_file: Callable[[Path], None] | None = None) -> None:
        from mcap.writer import CompressionType

        self.config = config
        self.folder = Path(config.output_dir).expanduser()
        self._compression = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4,
                             "none": CompressionType.NONE}[config.compression]
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self._on_file = on_file
        self._channels: dict[str, Channel] = {}
        self._file: BinaryIO | None = None
        self._writer: Any = None
        self._ids: dict[str, int] = {}
        self._schemas: dict[str, int] = {}
        self._file_start = 0
        self._sequence: dict[str, int] = {}
        self.path: Path | None = None
        self.files: list[Path] = []
        self.counts: dict[str, int] = {}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"output_dir: cannot create '{self.folder}' ({exc.strerror}); "
                              "choose a writable folder") from exc

    def add_channel(self, topic: str, type_name: str, qos: str = "") -> None:
        self._channels[topic] = Channel(topic, type_name, qos)

    def has_channel(self, topic: str) -> bool:
        return topic in self._channels

    def write(self, topic: str, data: bytes, log_time: int, publish_time: int | None = None
              ) -> None:
        """One serialized message of a channel added before; opens or splits files as needed."""
        split = self.config.split_seconds
        if (self._writer is not None and split > 0
                and log_time - self._file_start >= int(split * 1e9)):
            self.close()
        if self._writer is None:
            self._open(log_time)
        channel_id = self._ids.get(topic)
        if channel_id is None:
            channel_id = self._register(self._channels[topic])
        sequence = self._sequence.get(topic, 0)
        self._sequence[topic] = sequence + 1
        self._writer.add_message(channel_id=channel_id, log_time=log_time, data=bytes(data),
                                 publish_time=log_time if publish_time is None else publish_time,
                                 sequence=sequence)
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def _open(self, log_time: int) -> None:
        from mcap.writer import Writer

        from .. import __version__

        stamp = self._now().astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%S_%fZ")
        path = self.folder / f"{self.config.prefix}_{stamp}.mcap"
        k = 1
        while path.exists():
            path = self.folder / f"{self.config.prefix}_{stamp}_{k}.mcap"
            k += 1
        self._file = open(path, "wb")
        self._writer = Writer(self._file, chunk_size=self.config.chunk_size,
                              compression=self._compression)
        self._writer.start(profile="ros2",
                           library=f"world_model_planner {__version__} recorder")
        self._ids, self._schemas = {}, {}
        self._file_start = log_time
        self.path = path
        self.files.append(path)
        if self._on_file is not None:
            self._on_file(path)

    def _register(self, channel: Channel) -> int:
        schema_id = self._schemas.get(channel.type_name)
        if schema_id is None:
            schema_id = self._writer.register_schema(
                name=channel.type_name, encoding="ros2msg",
                data=message_definition(channel.type_name).encode())
            self._schemas[channel.type_name] = schema_id
        channel_id = self._writer.register_channel(
            topic=channel.topic, message_encoding="cdr", schema_id=schema_id,
            metadata={"offered_qos_profiles": channel.qos})
        self._ids[channel.topic] = channel_id
        return channel_id

    def close(self) -> None:
        """Finish the open file (summary, index, footer) so every reader can open it."""
        if self._writer is not None:
            self._writer.finish()
            self._writer = None
        if self._file is not None:
            self._file.close()
            self._file = None


# -- node ------------------------------------------------------------------------------------

# What the recorder asks for: best effort for the camera (matches every publisher), reliable
# elsewhere, transient local for the latched goals; deep queues so a slow disk drops nothing.
RECORD_SENSOR_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50,
                               reliability=ReliabilityPolicy.BEST_EFFORT,
                               durability=DurabilityPolicy.VOLATILE)
RECORD_RELIABLE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=200,
                                 reliability=ReliabilityPolicy.RELIABLE,
                                 durability=DurabilityPolicy.VOLATILE)
# Transient local so a goal posed before the recorder started is still recorded, but a deep
# queue on our side: the publishers keep only the last goal, and two goals posed within one
# executor turn would otherwise overwrite each other here.
RECORD_LATCHED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50,
                                reliability=ReliabilityPolicy.RELIABLE,
                                durability=DurabilityPolicy.TRANSIENT_LOCAL)

TOPICS: tuple[tuple[str, type, QoSProfile], ...] = (
    (graph.JOINT_STATES, JointState, RECORD_RELIABLE_QOS),
    (graph.CAMERA_IMAGE, Image, RECORD_SENSOR_QOS),
    (graph.CAMERA_INFO, CameraInfo, RECORD_SENSOR_QOS),
    (graph.POSITION_COMMANDS, Float64MultiArray, RECORD_RELIABLE_QOS),
    (graph.TRAJECTORY_COMMANDS, JointTrajectory, RECORD_RELIABLE_QOS),
    (graph.TASK_GOAL_IMAGE, Image, RECORD_LATCHED_QOS),
    (graph.TASK_GOAL_JOINTS, JointState, RECORD_LATCHED_QOS),
    (graph.TASK_RESULT, String, RECORD_RELIABLE_QOS),
    # The push task's true object pose (simulator only): a channel only where it is published,
    # so `wmp train --task push` can learn the object from a recorded session.
    (graph.TASK_OBJECT_POSE, PoseStamped, RECORD_RELIABLE_QOS),
)


class RecorderNode(Node):
    """rclpy node `recorder`: raw subscriptions straight into :class:`McapRecorder`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(graph.RECORDER_NODE, **kwargs)
        self.config: RecorderConfig = declare_config(self, RecorderConfig)
        self.recorder = McapRecorder(self.config, on_file=lambda p: self.get_logger().info(
            f"recording to {p}"))
        self.subs = []
        for topic, msg_class, qos in TOPICS:
            if topic == graph.CAMERA_IMAGE and not self.config.record_images:
                continue
            name = type_name(msg_class)
            message_definition(name)  # a missing .msg fails now, not at the first message
            resolved = self.resolve_topic_name(topic)
            self.subs.append(self.create_subscription(
                msg_class, topic, self._callback(resolved, name, qos), qos, raw=True,
                event_callbacks=self._events(resolved)))
        self.diagnostics = self.create_publisher(DiagnosticArray, graph.DIAGNOSTICS, 10)
        self.create_timer(DIAGNOSTICS_PERIOD, self._publish_diagnostics,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(
            f"recording {', '.join(s.topic_name for s in self.subs)} to "
            f"{self.recorder.folder.resolve()}")

    def _publish_diagnostics(self) -> None:
        """What is recorded so far: the open file and the messages of each topic."""
        counts = self.recorder.counts
        status = DiagnosticStatus(
            level=DiagnosticStatus.OK, name=f"{self.get_fully_qualified_name()}: recorder",
            message=f"recording to {self.recorder.path}" if self.recorder.path
            else "waiting for messages")
        status.values = [KeyValue(key="file", value=str(self.recorder.path or ""))] + [
            KeyValue(key=f"messages {topic}", value=str(n)) for topic, n in sorted(counts.items())]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics.publish(array)

    def _callback(self, topic: str, name: str, qos: QoSProfile
                  ) -> Callable[[bytes, Any], None]:
        def record(data: bytes, info: Any) -> None:
            try:
                if not self.recorder.has_channel(topic):
                    self.recorder.add_channel(topic, name, self._offered_qos(topic, qos))
                log_time = self.get_clock().now().nanoseconds
                source = info.get("source_timestamp") if isinstance(info, dict) else None
                self.recorder.write(topic, data, log_time, source or log_time)
            except Exception as exc:  # never raise into the executor; the recording goes on
                self.get_logger().error(f"cannot record a message on {topic}: {exc}",
                                        throttle_duration_sec=LOG_EVERY)
        return record

    def _events(self, topic: str) -> SubscriptionEventCallbacks:
        """Say when publishers come and go (tests wait for it) and when one cannot match."""
        def matched(status: Any) -> None:
            self.get_logger().info(f"{topic}: {status.current_count} publisher(s) matched")

        def incompatible(status: Any) -> None:
            self.get_logger().warning(
                f"{topic}: a publisher's QoS is incompatible with the recorder's (policy "
                f"{status.last_policy_kind}); its messages are not recorded",
                throttle_duration_sec=LOG_EVERY)

        return SubscriptionEventCallbacks(matched=matched, incompatible_qos=incompatible)

    def _offered_qos(self, topic: str, fallback: QoSProfile) -> str:
        """The publishers' QoS (what `ros2 bag play` offers again), else what we asked for."""
        profiles = [info.qos_profile for info in self.get_publishers_info_by_topic(topic)]
        return qos_yaml(profiles or [fallback])

    def close(self) -> None:
        self.recorder.close()
        counts = ", ".join(f"{t}: {n}" for t, n in sorted(self.recorder.counts.items()))
        files = ", ".join(str(p) for p in self.recorder.files) or "no file"
        text = f"recorded {counts or 'nothing'} in {files}"
        if self.context.ok():
            self.get_logger().info(text)
        else:  # after SIGINT the context is gone and /rosout with it
            print(f"[INFO] [{self.get_name()}]: {text}", file=sys.stderr, flush=True)


def main(args: list[str] | None = None) -> int:
    """Entry point of `ros2 run world_model_planner recorder_node`."""
    return run(RecorderNode, graph.RECORDER_NODE, args)


if __name__ == "__main__":
    sys.exit(main())

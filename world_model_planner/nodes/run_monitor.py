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
"""What `wmp run` watches while the graph runs: task results, the planner's diagnostics, and
each goal's goal image and last camera frame for the report."""

from __future__ import annotations

import json

import numpy as np

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import String

from .. import graph
from ..core.run_report import GoalFrames, RunLog
from . import messages as m


class RunMonitor(Node):
    def __init__(self, namespace: str = "") -> None:
        super().__init__("wmp_run_monitor", namespace=namespace or "")
        self.log = RunLog()
        self.create_subscription(String, graph.TASK_RESULT, self._on_result, m.RELIABLE_QOS)
        self.create_subscription(DiagnosticArray, graph.DIAGNOSTICS, self._on_diagnostics, 10)
        self.frames = GoalFrames()
        self.create_subscription(Image, graph.TASK_GOAL_IMAGE, self._on_goal_image,
                                 m.LATCHED_QOS)
        self.create_subscription(Image, graph.CAMERA_IMAGE, self._on_frame, m.SENSOR_QOS)

    def _on_result(self, msg: String) -> None:
        try:
            result = json.loads(msg.data)
        except json.JSONDecodeError:
            self.get_logger().warning(f"unreadable task result: {msg.data[:80]}")
            return
        self.log.results.append(result)
        self.log.snapshots += self.frames.on_result(result)

    def _on_goal_image(self, msg: Image) -> None:
        image = self._rgb(msg, graph.TASK_GOAL_IMAGE)
        if image is not None:
            self.frames.on_goal(m.time_to_seconds(msg.header.stamp), image)

    def _on_frame(self, msg: Image) -> None:
        image = self._rgb(msg, graph.CAMERA_IMAGE)
        if image is not None:
            self.log.snapshots += self.frames.on_frame(m.time_to_seconds(msg.header.stamp),
                                                       image)

    def finish(self) -> None:
        """Pair the results still waiting for a frame with the frames there are."""
        self.log.snapshots += self.frames.flush()

    def _rgb(self, msg: Image, topic: str) -> np.ndarray | None:
        try:
            return m.image_to_rgb(msg).copy()
        except ValueError as exc:  # the report goes without this image; the run goes on
            self.get_logger().warning(f"unreadable image on {topic}: {exc}",
                                      throttle_duration_sec=10.0)
            return None

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if "world model planner" in status.name:
                entry = {kv.key: kv.value for kv in status.values}
                entry.update(level=str(int.from_bytes(status.level, "little")
                                       if isinstance(status.level, bytes) else status.level),
                             message=status.message)
                self.log.diagnostics.append(entry)

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
"""What `wmp run` watches while the graph runs: task results and the planner's diagnostics."""

from __future__ import annotations

import json

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from std_msgs.msg import String

from .. import graph
from ..core.run_report import RunLog
from . import messages as m


class RunMonitor(Node):
    def __init__(self, namespace: str = "") -> None:
        super().__init__("wmp_run_monitor", namespace=namespace or "")
        self.log = RunLog()
        self.create_subscription(String, graph.TASK_RESULT, self._on_result, m.RELIABLE_QOS)
        self.create_subscription(DiagnosticArray, graph.DIAGNOSTICS, self._on_diagnostics, 10)

    def _on_result(self, msg: String) -> None:
        try:
            self.log.results.append(json.loads(msg.data))
        except json.JSONDecodeError:
            self.get_logger().warning(f"unreadable task result: {msg.data[:80]}")

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if "world model planner" in status.name:
                entry = {kv.key: kv.value for kv in status.values}
                entry.update(level=str(int.from_bytes(status.level, "little")
                                       if isinstance(status.level, bytes) else status.level),
                             message=status.message)
                self.log.diagnostics.append(entry)

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
"""Running real nodes in tests: a private ROS domain, node processes and a probe node.

Integration tests start the package's nodes as separate processes (exactly as `ros2 run` would)
and talk to them over real DDS from the test process. Each test gets its own ROS_DOMAIN_ID and
localhost-only discovery, so tests (and CI jobs) on one machine never hear each other.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_domains = itertools.count()


def private_domain() -> int:
    """A domain id in 100..200, spread by process and by call."""
    return 100 + (os.getpid() * 7 + next(_domains) * 13) % 101


class Child:
    """A node process whose merged stdout/stderr is collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.args = args
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env or os.environ.copy(),
                                     start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, done: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no {what} within {timeout} s; the node said:\n"
                                     f"{self.output}")
            time.sleep(0.05)

    def wait_for_line(self, text: str, timeout: float = 15.0) -> None:
        self.wait_for(lambda: any(text in line for line in self.lines), f"line with '{text}'",
                      timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would end it."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(timeout=5)
        return self.proc.returncode


def node_command(module: str, *params: str, params_file: str | None = None,
                 remaps: tuple[tuple[str, str], ...] = ()) -> list[str]:
    args = [sys.executable, "-m", f"world_model_planner.nodes.{module}", "--ros-args"]
    if params_file:
        args += ["--params-file", params_file]
    for p in params:
        args += ["-p", p]
    for src, dst in remaps:
        args += ["-r", f"{src}:={dst}"]
    return args


class Probe:
    """The test's own node: subscribe, publish, call services, spin until something holds."""

    def __init__(self, domain: int) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node

        self._rclpy = rclpy
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = Node("probe", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def collect(self, msg_type: type, topic: str, qos: Any) -> list[tuple[float, Any]]:
        """(monotonic time, message) of every message on `topic` from now on."""
        got: list[tuple[float, Any]] = []
        self.node.create_subscription(msg_type, topic,
                                      lambda msg: got.append((time.monotonic(), msg)), qos)
        return got

    def spin_until(self, done: Callable[[], bool], timeout: float, what: str,
                   every: Callable[[], None] | None = None, period: float = 0.1) -> None:
        deadline = time.monotonic() + timeout
        next_call = 0.0
        while not done():
            now = time.monotonic()
            if now > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            if every is not None and now >= next_call:
                every()
                next_call = now + period
            self.executor.spin_once(timeout_sec=0.02)

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.02)

    def call(self, client: Any, request: Any, timeout: float = 10.0) -> Any:
        if not client.wait_for_service(timeout_sec=timeout):
            raise AssertionError(f"service {client.srv_name} not available")
        future = client.call_async(request)
        self.spin_until(future.done, timeout, f"reply of {client.srv_name}")
        return future.result()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self._rclpy.shutdown(context=self.context)

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

import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

# Domain ids tests may use: clear of 0 (the default every `wmp run` and ros2 CLI uses) and
# below 233, where Fast DDS's default port mapping ends.
DOMAINS = range(100, 233)
LOCKS = Path(tempfile.gettempdir()) / "wmp-ros-domains"


class PrivateDomain:
    """A ROS domain id no other process on this machine holds while this object lives.

    Each id is an exclusive fcntl lock on a file in LOCKS, so concurrent pytest runs (other
    worktrees, CI jobs) never share one; the kernel drops the lock if the process dies. Picked
    from a pid-based start so that concurrent processes rarely even contend for a file.
    """

    def __init__(self) -> None:
        LOCKS.mkdir(parents=True, exist_ok=True)
        start = os.getpid() % len(DOMAINS)
        for k in range(len(DOMAINS)):
            domain = DOMAINS[(start + k) % len(DOMAINS)]
            handle: IO[bytes] = open(LOCKS / f"{domain}.lock", "ab")  # noqa: SIM115
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self.id, self._handle = domain, handle
            return
        raise RuntimeError(f"every ROS domain id in {DOMAINS.start}..{DOMAINS.stop - 1} is held "
                           f"by another process (locks in {LOCKS}); wait for other test runs")

    def release(self) -> None:
        if not self._handle.closed:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()


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


def start_first_goal(probe: Probe, sim: Child, states: list, joints: Sequence[str],
                     timeout: float = 30.0) -> None:
    """Starts the first goal of a simulator run with node.start_on_command:=true.

    Task results are not latched, so the goal's clock must start only once the probe hears the
    simulator: until the node logs that its clock started, the probe sends the arm's measured
    joints as a command (at the clock's start the arm is placed at its start again, so nothing
    moves). `states`: the probe's collected joint_states."""
    from std_msgs.msg import Float64MultiArray

    from world_model_planner import graph
    from world_model_planner.nodes import messages as m

    position = probe.node.create_publisher(Float64MultiArray, graph.POSITION_COMMANDS,
                                           m.RELIABLE_QOS)
    probe.spin_until(lambda: bool(states) and probe.node.count_publishers(
        "/" + graph.TASK_RESULT) >= 1, timeout, "the simulator's joint states and task result "
        "publisher")
    probe.spin_until(lambda: "clock starts" in sim.output, timeout, "the first goal's clock",
                     every=lambda: position.publish(m.position_command_message(
                         m.joint_state_to_vector(states[-1][1], joints))), period=0.5)
    probe.node.destroy_publisher(position)

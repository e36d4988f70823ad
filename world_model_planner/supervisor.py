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
"""`wmp run`: the node graph of graph.py as supervised processes, without `ros2 launch`.

Each node starts as its own process with exactly the executable, parameter files, parameters and
remappings the launch file gives it, so what runs here is what `ros2 launch` runs on a full ROS
install. If any node exits, or on Ctrl-C / SIGTERM, every node is stopped (SIGINT, then SIGTERM,
then SIGKILL) and `wmp run` returns the first non-zero exit status.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .core.config import unflatten
from .core.paths import share_path
from .core.run_report import RunLog
from .graph import PACKAGE, NodeSpec

log = logging.getLogger(__name__)

OUR_MODULES = {
    "planner_node": "world_model_planner.nodes.planner_node",
    "mujoco_sim_node": "world_model_planner.nodes.mujoco_sim_node",
    "recorder_node": "world_model_planner.nodes.recorder_node",
}


class GraphError(RuntimeError):
    """A node of the graph cannot be started here (missing executable, bad spec)."""


def executable(spec: NodeSpec) -> list[str]:
    """The command that runs `spec`'s executable: ours through this Python, others from the
    ament index (<prefix>/lib/<package>/<executable>) as `ros2 run` would find them."""
    if spec.package == PACKAGE:
        if spec.executable not in OUR_MODULES:
            raise GraphError(f"unknown executable '{spec.executable}' of {PACKAGE}")
        return [sys.executable, "-m", OUR_MODULES[spec.executable]]
    try:
        from ament_index_python.packages import get_package_prefix

        path = Path(get_package_prefix(spec.package)) / "lib" / spec.package / spec.executable
        if path.is_file() and os.access(path, os.X_OK):
            return [str(path)]
    except (ImportError, LookupError, ValueError):
        pass
    found = shutil.which(spec.executable)
    if found:
        return [found]
    raise GraphError(f"node '{spec.name}' needs {spec.package}/{spec.executable}, which is not "
                     "installed here; this mode needs a full ROS 2 install: use "
                     f"'ros2 launch {PACKAGE} bringup.launch.py' there")


def ros_arguments(spec: NodeSpec, namespace: str, params_file: Path | None) -> list[str]:
    args = ["--ros-args", "-r", f"__node:={spec.name}"]
    if namespace:
        args += ["-r", f"__ns:={namespace if namespace.startswith('/') else '/' + namespace}"]
    for f in spec.parameter_files:
        args += ["--params-file", str(share_path(f))]
    if params_file is not None:
        args += ["--params-file", str(params_file)]
    for src, dst in spec.remappings:
        args += ["-r", f"{src}:={dst}"]
    return args


def write_parameters(spec: NodeSpec, folder: Path) -> Path | None:
    """The spec's inline parameters as a ROS parameter file (so long values like a URDF and
    typed lists survive intact, which `-p name:=value` does not guarantee)."""
    if not spec.parameters:
        return None
    path = folder / f"{spec.name}.params.yaml"
    path.write_text(yaml.safe_dump({spec.name: {"ros__parameters": unflatten(
        dict(spec.parameters))}}, sort_keys=True))
    return path


@dataclass
class Running:
    spec: NodeSpec
    process: subprocess.Popen

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


class Supervisor:
    """Starts, watches and stops the processes of one graph."""

    def __init__(self, nodes: Sequence[NodeSpec], *, namespace: str = "",
                 env: Mapping[str, str] | None = None, log_dir: Path | None = None) -> None:
        self.nodes = list(nodes)
        self.namespace = namespace
        self.env = dict(os.environ if env is None else env)
        self._tmp = tempfile.TemporaryDirectory(prefix="wmp-run-")
        self.log_dir = log_dir
        self.running: list[Running] = []

    def commands(self) -> list[tuple[NodeSpec, list[str]]]:
        folder = Path(self._tmp.name)
        return [(spec, executable(spec) + list(spec.arguments)
                 + ros_arguments(spec, self.namespace, write_parameters(spec, folder)))
                for spec in self.nodes]

    def start(self) -> None:
        for spec, cmd in self.commands():
            out = None
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                out = open(self.log_dir / f"{spec.name}.log", "w")  # noqa: SIM115
            log.info("starting %s: %s", spec.name, " ".join(cmd))
            process = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT
                                       if out else None, start_new_session=True)
            self.running.append(Running(spec, process))

    def first_exit(self) -> Running | None:
        for r in self.running:
            if not r.alive:
                return r
        return None

    def stop(self, grace: float = 5.0) -> None:
        """SIGINT every node (rclpy shuts down cleanly), then SIGTERM, then SIGKILL."""
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 1.0)):
            alive = [r for r in self.running if r.alive]
            if not alive:
                break
            for r in alive:
                try:
                    os.killpg(r.process.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and any(r.alive for r in alive):
                time.sleep(0.05)
        self._tmp.cleanup()

    def exit_codes(self) -> dict[str, int | None]:
        return {r.spec.name: r.process.poll() for r in self.running}

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@dataclass
class Watched:
    """How a watched run of the graph ended."""

    log: RunLog  # the task results and diagnostics the run monitor saw
    seconds: float
    reported: int  # goal results printed while the graph ran
    failed: Running | None  # the node whose exit stopped the graph, if one did


def _print_result(result: dict[str, Any], index: int) -> None:
    what = "object error" if result.get("task") == "push" else "error"
    print(f"goal {result.get('episode', index)}: "
          f"{'success' if result.get('success') else 'FAILED '} final {what} "
          f"{100 * float(result.get('final_error_m', float('nan'))):5.1f} cm after "
          f"{result.get('steps')} steps", file=sys.stderr)


def watch_graph(nodes: Sequence[NodeSpec], *, mode: str, namespace: str = "",
                log_dir: Path | None = None, goals: int = 0, timeout: float = 0.0) -> Watched:
    """Run the graph's processes and watch them over DDS: print each goal's result to stderr as
    the simulator reports it, and stop every node once `goals` goals are done (0: never), after
    `timeout` seconds (0: never), when a node exits, or on Ctrl-C."""
    try:
        import rclpy

        from .nodes.run_monitor import RunMonitor
    except ImportError as exc:
        raise GraphError("wmp run needs rclpy: pip install 'world_model_planner[ros]'") from exc
    supervisor = Supervisor(nodes, namespace=namespace, log_dir=log_dir)
    rclpy.init(args=None)
    monitor = RunMonitor(namespace)
    started = time.monotonic()
    reported = 0
    failed: Running | None = None
    try:
        supervisor.start()
        print(f"wmp run: {mode} graph: " + ", ".join(n.name for n in nodes)
              + (f" (logs in {log_dir})" if log_dir else ""), file=sys.stderr)
        while True:
            rclpy.spin_once(monitor, timeout_sec=0.1)
            for r in monitor.log.results[reported:]:
                _print_result(r, reported)
                reported += 1
            failed = supervisor.first_exit()
            if failed is not None:
                break
            if goals and reported >= goals:
                break
            if timeout and time.monotonic() - started > timeout:
                print(f"wmp run: stopping after the {timeout} s timeout", file=sys.stderr)
                break
    except KeyboardInterrupt:
        print("wmp run: interrupted, stopping the graph", file=sys.stderr)
    finally:
        supervisor.stop()
        monitor.finish()
        monitor.destroy_node()
        rclpy.try_shutdown()
    return Watched(monitor.log, time.monotonic() - started, reported, failed)

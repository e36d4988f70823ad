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
"""The planner node over real DDS: image-to-command latency, sustained rate, and a soak.

A driver node in this process plays camera and robot driver (frames stamped with the wall clock,
joint states, a goal); the planner runs as its own process exactly as `ros2 run` starts it. The
planner reports image-stamp-to-publish latency in /diagnostics; this side measures the command
intervals it receives and the planner process's resident memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import graph
from ..core.paths import share_path
from .planner import rss_bytes


class Driver:
    """Publishes a real rendered frame (resized up to the camera size) and joint states."""

    def __init__(self, width: int, height: int, seed: int = 0) -> None:
        import rclpy
        from rclpy.node import Node

        from ..core.sim.arm import ArmSim
        from ..core.sim.reach import ReachTask
        from ..nodes import messages as m

        sim = ArmSim()
        task = ReachTask(sim)
        start, goal = task.sample_episode(np.random.default_rng(seed))
        obs = sim.reset(start)
        sim.close()
        self.obs, self.goal = obs, goal
        from PIL import Image as PilImage

        self.frame = np.asarray(PilImage.fromarray(obs.image).resize((width, height)))
        rclpy.init()
        self.node = Node("wmp_bench_driver")
        self.m = m
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Image, JointState
        from std_msgs.msg import Float64MultiArray

        self.image_pub = self.node.create_publisher(Image, graph.CAMERA_IMAGE, m.SENSOR_QOS)
        self.joints_pub = self.node.create_publisher(JointState, graph.JOINT_STATES,
                                                     m.RELIABLE_QOS)
        self.goal_pub = self.node.create_publisher(JointState,
                                                   f"/{graph.PLANNER_NODE}/goal_joints",
                                                   m.LATCHED_QOS)
        self.commands: list[float] = []
        self.diagnostics: list[dict[str, str]] = []
        self.node.create_subscription(Float64MultiArray, graph.POSITION_COMMANDS,
                                      lambda _: self.commands.append(time.monotonic()),
                                      m.RELIABLE_QOS)
        self.node.create_subscription(DiagnosticArray, graph.DIAGNOSTICS, self._diag, 10)
        self.goal_pub.publish(m.joint_state_message(list(_JOINTS), goal))

    def _diag(self, msg: Any) -> None:
        for s in msg.status:
            if "world model planner" in s.name:
                self.diagnostics.append({kv.key: kv.value for kv in s.values})

    def run(self, seconds: float, camera_hz: float, joints_hz: float) -> None:
        import rclpy

        m = self.m
        start = time.monotonic()
        next_image = next_joints = start
        image_msg = m.rgb_to_image(self.frame)
        while time.monotonic() - start < seconds:
            now = time.monotonic()
            if now >= next_image:
                image_msg.header.stamp = self.node.get_clock().now().to_msg()
                self.image_pub.publish(image_msg)
                next_image += 1.0 / camera_hz
            if now >= next_joints:
                self.joints_pub.publish(m.joint_state_message(
                    list(_JOINTS), self.obs.qpos, self.obs.qvel,
                    stamp=self.node.get_clock().now().to_msg()))
                next_joints += 1.0 / joints_hz
            wait = min(next_image, next_joints) - time.monotonic()
            rclpy.spin_once(self.node, timeout_sec=max(0.0, wait))

    def close(self) -> None:
        import rclpy

        self.node.destroy_node()
        rclpy.try_shutdown()


_JOINTS = ("base_yaw", "shoulder_pitch", "elbow_pitch", "wrist_pitch")


def _planner(model: str | None, rate: float, params: Sequence[str] = ()) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "world_model_planner.nodes.planner_node", "--ros-args",
           "--params-file", str(share_path(graph.PLANNER_PARAMS)), "-p", "autostart:=true",
           "-p", f"control_rate:={rate}", "-p", "publish_imagined:=false"]
    if model:
        cmd += ["-p", f"planner.model:={model}"]
    for param in params:
        cmd += ["-p", param]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def measure(rate: float, seconds: float, *, model: str | None = None, camera_hz: float = 30.0,
            joints_hz: float = 100.0, width: int = 64, height: int = 64,
            warmup: float = 15.0, params: Sequence[str] = ()) -> dict[str, Any]:
    """Run the planner at `rate` for `seconds` after warm-up; intervals, latency and memory.
    params: further planner node parameters, NAME:=VALUE."""
    planner = _planner(model, rate, params)
    driver = Driver(width, height)
    try:
        driver.run(warmup, camera_hz, joints_hz)
        if not driver.commands:
            raise RuntimeError("the planner sent no commands during warm-up")
        mark = len(driver.commands)
        rss_start = rss_bytes(planner.pid)
        rss_samples = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            driver.run(min(10.0, seconds - (time.monotonic() - t0)), camera_hz, joints_hz)
            rss_samples.append(rss_bytes(planner.pid))
        rss_end = rss_bytes(planner.pid)
        stamps = np.array(driver.commands[mark:])
    finally:
        driver.close()
        _stop(planner)
    intervals = np.diff(stamps)
    period = 1.0 / rate
    last = driver.diagnostics[-1] if driver.diagnostics else {}
    return {
        "rate_hz": rate, "seconds": seconds, "camera": f"{width}x{height} at {camera_hz} Hz",
        "joint_states_hz": joints_hz, "commands": int(len(stamps)),
        "achieved_rate_hz": float((len(stamps) - 1) / (stamps[-1] - stamps[0]))
        if len(stamps) > 1 else 0.0,
        "period_p50_ms": 1000 * float(np.percentile(intervals, 50)),
        "period_p99_ms": 1000 * float(np.percentile(intervals, 99)),
        "period_p99_over_nominal": float(np.percentile(intervals, 99) / period),
        "missed_commands": int(np.sum(np.maximum(0, np.round(intervals / period) - 1))),
        "e2e_latency_p50_ms": float(last.get("e2e_latency_p50_ms", "nan")),
        "e2e_latency_p99_ms": float(last.get("e2e_latency_p99_ms", "nan")),
        "plan_latency_p50_ms": float(last.get("plan_latency_p50_ms", "nan")),
        "plan_latency_p99_ms": float(last.get("plan_latency_p99_ms", "nan")),
        "rss_start_mb": rss_start / 2 ** 20, "rss_end_mb": rss_end / 2 ** 20,
        "rss_growth_fraction": (rss_end - rss_start) / max(1, rss_start),
        "rss_max_mb": max(rss_samples) / 2 ** 20 if rss_samples else None,
    }

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
"""The planner: a lifecycle node that drives the arm by latent MPC.

on_configure loads and verifies the model (sha256 against meta.json, joints against the robot
config) and creates publishers and subscriptions; on_activate starts the control timer;
on_deactivate publishes one hold command and stops. Nothing is commanded before activation.
All planning lives in core.planning.controller.MPCController; this node only converts messages,
runs the timer, applies the watchdog and the e-stop latch, and reports on /diagnostics.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections import Counter, deque
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, PoseStamped
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64MultiArray
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import Marker, MarkerArray

from .. import graph
from ..core.config import ConfigError, PlannerNodeConfig
from ..core.observation import Observation, fit_image
from ..core.planning.schedule import ControlSchedule
from ..core.robot import Robot
from ..core.safety import (RESYNC, CommandLimits, ControlClock, EStopLatch, SafetyCounters,
                           SurpriseThresholds, Watchdog)
from . import messages as m
from .entry import run
from .ros_params import declare_config

NODE = graph.PLANNER_NODE
WINDOW = 200  # samples kept for rate and latency statistics


class PlannerNode(LifecycleNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE, **kwargs)
        self.config: PlannerNodeConfig = declare_config(self, PlannerNodeConfig)
        self.robot = Robot.load(self.config.planner.robot)
        self.counters = SafetyCounters()
        self.estop = EStopLatch()
        self.controller: Any = None
        self.model: Any = None
        self._image: np.ndarray | None = None
        self._image_stamp = 0.0
        # Image-to-command latency = the frame's age when it arrived (ROS time: transport) plus
        # the wall time from its arrival to the command. Wall time, because a sim clock does not
        # advance inside a callback, which would make planning look free.
        self._image_age = 0.0
        self._image_arrival = 0.0
        self._joints: tuple[np.ndarray, np.ndarray] | None = None
        self._previous_command: np.ndarray | None = None
        self._control_timer = None
        self._diag_timer = None
        self._pubs: dict[str, Any] = {}
        self._subs: list[Any] = []
        self._ticks: deque[float] = deque(maxlen=WINDOW)
        self._latency: deque[float] = deque(maxlen=WINDOW)
        self._e2e: deque[float] = deque(maxlen=WINDOW)
        self._last: dict[str, Any] = {}
        self._state = "unconfigured"
        self._steps = 0
        self._decisions: Counter[str] = Counter()  # surprise monitor decisions, per step
        self._drop_logged: dict[str, float] = {}
        if self.config.autostart:
            self._autostart = self.create_timer(0.1, self._start_up)

    # -- lifecycle -------------------------------------------------------------------------

    def _start_up(self) -> None:
        self.destroy_timer(self._autostart)
        if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        from ..core.planning.backends import load_world_model
        from ..core.planning.controller import MPCController

        cfg = self.config
        try:
            self.model = load_world_model(cfg.planner.model, cfg.planner, self.robot)
            if abs(self.model.meta["control_period"] - self.period) > 1e-6 and cfg.control_rate:
                self.get_logger().warning(
                    f"control_rate {cfg.control_rate} Hz differs from the model's training "
                    f"period {self.model.meta['control_period']} s: each imagined step will not "
                    "match a control period (set control_rate: 0 to use the model's rate)")
            surprise = self.model.meta.get("surprise")
            if cfg.planner.surprise.enabled and not surprise:
                raise ConfigError(f"{cfg.planner.model}: meta.json has no surprise calibration; "
                                  "re-export with 'wmp export --data ...' or set "
                                  "planner.surprise.enabled: false")
            # velocity_scale only ever lowers the robot config's (real mode passes 0.3).
            scale = self.robot.config.velocity_scale
            if cfg.velocity_scale:
                scale = min(scale, cfg.velocity_scale)
            limits = CommandLimits.from_robot(self.robot, velocity_scale=scale)
            planner = cfg.planner
            if planner.surprise.tracking:
                # The position-loop check is calibrated on steps where a command acts for one
                # whole period before the joints are read (wmp collect, wmp eval). Here frames,
                # joint states and the controller's updates run on their own clocks, and the
                # check fired on 173 of 298 steps of an undisturbed make demo (docs/SAFETY.md).
                self.get_logger().info("surprise.tracking (push check) is not used by the ROS "
                                       "node: its joint states are not synchronous with commands")
                planner = dataclasses.replace(planner, surprise=dataclasses.replace(
                    planner.surprise, tracking=False))
            self.controller = MPCController(
                self.model, self.robot, planner, self.period, limits=limits,
                surprise=SurpriseThresholds.from_meta(surprise) if surprise else None)
        except Exception as exc:  # a missing/corrupt/mismatched model must not kill the node
            self.get_logger().error(f"configure failed: {exc}")
            self.model = self.controller = None
            return TransitionCallbackReturn.FAILURE
        self.watchdog = Watchdog(camera_timeout=cfg.watchdog.camera_timeout,
                                 joint_state_timeout=cfg.watchdog.joint_state_periods * self.period,
                                 resume_on_fresh_data=cfg.watchdog.resume_on_fresh_data)
        self.clock_check = ControlClock(self.period)
        self.schedule = ControlSchedule(self.period, on_image=cfg.trigger_on_image)
        if cfg.command_interface == "position":
            self._pubs["command"] = self.create_lifecycle_publisher(
                Float64MultiArray, graph.POSITION_COMMANDS, m.RELIABLE_QOS)
        else:
            self._pubs["command"] = self.create_lifecycle_publisher(
                JointTrajectory, graph.TRAJECTORY_COMMANDS, m.RELIABLE_QOS)
        self._pubs["diagnostics"] = self.create_publisher(DiagnosticArray, graph.DIAGNOSTICS, 10)
        if cfg.publish_imagined:
            self._pubs["path"] = self.create_lifecycle_publisher(MarkerArray, graph.IMAGINED_PATH,
                                                                 10)
            self._pubs["image"] = self.create_lifecycle_publisher(Image, graph.IMAGINED_IMAGE,
                                                                  m.SENSOR_QOS)
        self._subs = [
            self.create_subscription(Image, graph.CAMERA_IMAGE, self._on_image, m.SENSOR_QOS),
            # Only the newest joint state matters, and joint states come at up to 500 Hz: a
            # depth-1 best-effort reader (it matches reliable publishers too) leaves no backlog
            # of stale states to work through after each plan.
            self.create_subscription(JointState, graph.JOINT_STATES, self._on_joints,
                                     m.SENSOR_QOS),
            self.create_subscription(Image, graph.GOAL_IMAGE, self._on_goal_image,
                                     m.LATCHED_QOS),
            self.create_subscription(JointState, graph.GOAL_JOINTS, self._on_goal_joints,
                                     m.LATCHED_QOS),
            self.create_subscription(PoseStamped, graph.GOAL_POSE, self._on_goal_pose,
                                     m.RELIABLE_QOS),
            self.create_subscription(Bool, graph.ESTOP, self._on_estop, m.RELIABLE_QOS),
        ]
        self._diag_timer = self.create_timer(1.0 / cfg.diagnostics_rate, self._publish_diagnostics)
        self._state = "inactive"
        self.get_logger().info(
            f"configured: model {self.model.model_id} on {self.model.provider}, "
            f"{cfg.planner.optimizer.algorithm} {cfg.planner.optimizer.samples}x"
            f"{cfg.planner.horizon}x{cfg.planner.optimizer.iterations}, {1 / self.period:.1f} Hz, "
            f"{cfg.command_interface} commands")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.controller.reset()
        self.watchdog.reset()
        self.clock_check.reset()
        self.schedule.reset()
        self._control_timer = self.create_timer(self.schedule.timer_period,
                                                self._on_control_timer)
        self._state = "active"
        self.get_logger().info("active: commanding the arm")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._control_timer is not None:
            self.destroy_timer(self._control_timer)
            self._control_timer = None
        if self._joints is not None:
            self._publish_command(self.controller.hold(self._joints[0], "deactivated").command)
        self._state = "inactive"
        self.get_logger().info("inactive: published one hold command and stopped")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self._state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._control_timer is not None and self._joints is not None and self.controller:
            self._publish_command(self.controller.hold(self._joints[0], "shutdown").command)
        self._teardown()
        self._state = "finalized"
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self._state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def _teardown(self) -> None:
        for timer in (self._control_timer, self._diag_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self._control_timer = self._diag_timer = None
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        for name, pub in self._pubs.items():
            if name in ("diagnostics",):
                self.destroy_publisher(pub)
            else:
                self.destroy_lifecycle_publisher(pub)
        self._pubs = {}
        self.controller = self.model = None

    @property
    def period(self) -> float:
        rate = self.config.control_rate
        if rate:
            return 1.0 / rate
        if self.model is not None:
            return float(self.model.meta["control_period"])
        return 0.1

    # -- inputs ----------------------------------------------------------------------------

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _drop(self, what: str, exc: Exception) -> None:
        """Count a malformed message and say why, at most every 2 s per kind of message."""
        self.counters.dropped_messages += 1
        now = time.monotonic()
        if now - self._drop_logged.get(what, -1e9) >= 2.0:
            self._drop_logged[what] = now
            self.get_logger().warning(f"dropped {what}: {exc} "
                                      f"({self.counters.dropped_messages} dropped so far)")

    def _on_image(self, msg: Image) -> None:
        if self.model is None:
            return
        now = self._now()
        try:
            image = m.image_to_rgb(msg)
            h, w = self.model.image_hw
            self._image = fit_image(image, h, w)
            self._image_stamp = m.time_to_seconds(msg.header.stamp)
            self._image_age = max(0.0, now - self._image_stamp)
            self._image_arrival = time.monotonic()
            self.watchdog.feed_camera(now)
        except ValueError as exc:
            self._drop(f"image on {graph.CAMERA_IMAGE}", exc)
            return
        if self._control_timer is not None and self.schedule.on_frame(now):
            self._control_step()

    def _on_joints(self, msg: JointState) -> None:
        try:
            q, v = m.joint_state_vectors(msg, self.robot.joint_names, allow_extra=True)
            self._joints = (q, np.zeros_like(q) if v is None else v)
            if self.controller is not None:
                self.watchdog.feed_joint_states(self._now())
        except ValueError as exc:
            self._drop(f"joint state on {graph.JOINT_STATES}", exc)

    def _on_goal_image(self, msg: Image) -> None:
        if self.controller is None:
            return
        try:
            h, w = self.model.image_hw
            self.controller.set_goal_image(fit_image(m.image_to_rgb(msg), h, w))
            self._last["goal"] = "image"
            self.get_logger().info("new goal image")
        except ValueError as exc:
            self._drop(f"goal image on {graph.GOAL_IMAGE}", exc)

    def _on_goal_joints(self, msg: JointState) -> None:
        if self.controller is None:
            return
        try:
            q = m.joint_state_to_vector(msg, self.robot.joint_names, allow_extra=False)
            outside = [n for n, v, lo, hi in zip(self.robot.joint_names, q, self.robot.lower,
                                                 self.robot.upper) if not lo <= v <= hi]
            if outside:
                raise ValueError(f"goal outside the joint limits for {outside}")
            self.controller.set_goal_joints(q)
            self._last["goal"] = "joints"
            self.get_logger().info(f"new goal joints {np.round(q, 3).tolist()}")
        except ValueError as exc:
            self._drop(f"goal joints on {graph.GOAL_JOINTS}", exc)

    def _on_goal_pose(self, msg: PoseStamped) -> None:
        if self.controller is None:
            return
        try:
            frame = msg.header.frame_id
            if frame not in ("", self.robot.config.base_frame):
                raise ValueError(f"frame_id '{frame}' is not the planning frame "
                                 f"'{self.robot.config.base_frame}' (transform it first)")
            p = np.array([msg.pose.position.x, msg.pose.position.y, msg.pose.position.z])
            if not np.all(np.isfinite(p)):
                raise ValueError("position is NaN or infinite")
            reach = np.linalg.norm(self.robot.tool_positions(np.zeros(self.robot.dof)))
            if np.linalg.norm(p) > reach:
                raise ValueError(f"position {p.round(3).tolist()} is beyond the arm's reach "
                                 f"({reach:.2f} m)")
            self.controller.set_goal_tool(p)
            self._last["goal"] = "pose"
            self.get_logger().info(f"new goal position {p.round(3).tolist()} (orientation is "
                                   "not controlled)")
        except ValueError as exc:
            self._drop(f"goal pose on {graph.GOAL_POSE}", exc)

    def _on_estop(self, msg: Bool) -> None:
        was = self.estop.engaged
        now = self.estop.update(msg.data)
        if now and not was:
            self.get_logger().error(f"e-stop engaged on {graph.ESTOP}: holding until released")
        elif was and not now:
            self.get_logger().warning("e-stop released: resuming from the current position")
            if self.controller is not None:
                self.controller.reset()

    # -- control ---------------------------------------------------------------------------

    def _hold(self, reason: str) -> None:
        self.counters.holds += 1
        if self._joints is None:
            return  # no joint state ever: nothing safe to command
        result = self.controller.hold(self._joints[0], reason)
        self._publish_command(result.command)
        self._last.update(decision=reason)

    def _on_control_timer(self) -> None:
        if self.schedule.on_timer(self._now()):
            self._control_step()

    def _control_step(self) -> None:
        now = self._now()
        dt = self.clock_check.tick(now)
        if dt is None:
            self.counters.skipped_cycles += 1
            return
        self._ticks.append(time.monotonic())
        if self.estop.engaged:
            return self._hold("e-stop")
        status = self.watchdog.check(now)
        if not status.ok:
            self.counters.watchdog_trips = self.watchdog.trips
            self._last["watchdog"] = status.message
            return self._hold("stale data")
        self._last.pop("watchdog", None)
        if self.controller.goal is None:
            return self._hold("no goal")
        assert self._image is not None and self._joints is not None
        q, v = self._joints
        started = time.perf_counter()
        try:
            result = self.controller.step(Observation(self._image, q, v, self._image_stamp))
        except Exception as exc:  # the model must never take the node down
            self.get_logger().error(f"planning failed, holding: {exc}",
                                    throttle_duration_sec=2.0)
            return self._hold("planner error")
        self._latency.append(time.perf_counter() - started)
        self._publish_command(result.command)
        self._e2e.append(self._image_age + time.monotonic() - self._image_arrival)
        if result.decision == RESYNC:
            self.get_logger().warning(
                "the measured joints were more than robot path_tolerance "
                f"({self.robot.config.path_tolerance:g} rad) from the last command: something "
                "else moved the arm (a simulator reset, hand guiding, a collision); control "
                "restarted from where it is", throttle_duration_sec=2.0)
        if result.filter_reasons:
            self.counters.clipped_commands += 1
        if result.held:
            self.counters.holds += 1
        self._last.update(decision=result.decision, surprise=result.surprise,
                          proprio_surprise=result.proprio_surprise,
                          tracking_surprise=result.tracking_surprise,
                          cost=None if result.plan is None else result.plan.cost)
        self._steps += 1
        self._decisions[result.decision] += 1
        if result.plan is not None and "path" in self._pubs:
            self._publish_imagined(result)

    def _publish_command(self, command: np.ndarray) -> None:
        pub = self._pubs.get("command")
        if pub is None:
            return
        if self.config.command_interface == "position":
            pub.publish(m.position_command_message(command))
            return
        # Reach the command in one period, then stop there: if the planner dies, the arm stops
        # within two periods instead of running an unfiltered plan to its end.
        previous = self._previous_command if self._previous_command is not None else (
            self._joints[0] if self._joints is not None else command)
        velocity = (command - previous) / self.period
        pub.publish(m.trajectory_message(
            self.robot.joint_names, [self.period, 2 * self.period], np.stack([command, command]),
            np.stack([velocity, np.zeros_like(command)])))
        self._previous_command = command

    def _publish_imagined(self, result: Any) -> None:
        plan = result.plan
        stamp = self.get_clock().now().to_msg()
        frame = self.robot.config.base_frame
        path = Marker(ns="imagined_path", id=0, type=Marker.LINE_STRIP, action=Marker.ADD)
        path.header.frame_id, path.header.stamp = frame, stamp
        path.scale.x = 0.01
        path.color.r, path.color.g, path.color.b, path.color.a = 0.1, 0.6, 1.0, 0.9
        path.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))
                       for p in plan.predicted_tool]
        goal = Marker(ns="goal", id=1, type=Marker.SPHERE, action=Marker.ADD)
        goal.header.frame_id, goal.header.stamp = frame, stamp
        goal.scale.x = goal.scale.y = goal.scale.z = 2 * 0.03
        goal.color.r, goal.color.g, goal.color.a = 0.1, 0.9, 0.4
        p = result.goal_tool
        goal.pose.position = Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))
        self._pubs["path"].publish(MarkerArray(markers=[path, goal]))
        if self._steps % self.config.imagined_image_every == 0:
            decoded = self.model.decode(plan.predicted_latents[-1:])[0]
            frame_img = (np.clip(decoded, 0.0, 1.0) * 255).astype(np.uint8)
            self._pubs["image"].publish(m.rgb_to_image(frame_img, stamp=stamp))

    # -- diagnostics -----------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        status = DiagnosticStatus(name=f"{self.get_fully_qualified_name()}: world model planner",
                                  hardware_id=self.model.model_id if self.model else "")
        values: dict[str, Any] = {"state": self._state}
        ticks = list(self._ticks)
        if len(ticks) >= 2 and ticks[-1] - ticks[0] > 0:
            values["loop_rate_hz"] = (len(ticks) - 1) / (ticks[-1] - ticks[0])
        if self._latency:
            values["plan_latency_p50_ms"] = 1000 * float(np.percentile(self._latency, 50))
            values["plan_latency_p99_ms"] = 1000 * float(np.percentile(self._latency, 99))
        if self._e2e:
            values["e2e_latency_p50_ms"] = 1000 * float(np.percentile(self._e2e, 50))
            values["e2e_latency_p99_ms"] = 1000 * float(np.percentile(self._e2e, 99))
        if self.model is not None:
            values.update(provider=self.model.provider, model_id=self.model.model_id)
        values.update({k: v for k, v in self._last.items() if v is not None})
        values.update(self.counters.as_dict())
        values.update({f"steps_{decision}": n for decision, n in self._decisions.items()})
        values["estop"] = self.estop.engaged
        level, message = DiagnosticStatus.OK, f"{self._state}"
        decision = self._last.get("decision")
        if self.estop.engaged:
            level, message = DiagnosticStatus.ERROR, "e-stop engaged: holding"
        elif "watchdog" in self._last:
            level, message = DiagnosticStatus.ERROR, self._last["watchdog"]
        elif decision in ("hold", "planner error"):
            level, message = DiagnosticStatus.WARN, f"holding: {decision}"
        elif decision in ("reground", "camera_distrusted"):
            level, message = DiagnosticStatus.WARN, f"surprise: {decision}"
        elif self._state == "active" and decision:
            message = f"active: {decision}"
        status.level, status.message = level, message
        status.values = [KeyValue(key=k, value=_text(v)) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._pubs["diagnostics"].publish(array)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def main(args: list[str] | None = None) -> int:
    """Entry point of `ros2 run world_model_planner planner_node`."""
    return run(PlannerNode, NODE, args)


if __name__ == "__main__":
    sys.exit(main())

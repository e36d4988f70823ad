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
Every decision (e-stop, watchdog, goal, surprise, resync, hold) is made by
core.control.ControlLoop; this node converts messages, runs the timers, publishes what each
tick says and reports on /diagnostics.

The task comes from the model (meta.json `task`): a push model plans to move the object to where
the goal image shows it, and takes goals as images only (goal joints or a tool pose say nothing
about where the object should go). The `task` parameter, when set, must agree with the model,
or the node refuses to start.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, PoseStamped
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64MultiArray
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import Marker, MarkerArray

from .. import graph
from ..core.config import PlannerNodeConfig
from ..core.control import ControlLoop, Tick
from ..core.config import ConfigError
from ..core.robot import Robot
from . import messages as m
from .entry import run
from .ros_params import declare_config

NODE = graph.PLANNER_NODE
LEVELS = {0: DiagnosticStatus.OK, 1: DiagnosticStatus.WARN, 2: DiagnosticStatus.ERROR}


class PlannerNode(LifecycleNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE, **kwargs)
        self.config: PlannerNodeConfig = declare_config(self, PlannerNodeConfig)
        self.robot = Robot.load(self.config.planner.robot)
        self._check_task()
        self.loop: ControlLoop | None = None
        self.model: Any = None
        self._previous_command: np.ndarray | None = None
        self._control_timer = None
        self._diag_timer = None
        self._pubs: dict[str, Any] = {}
        self._subs: list[Any] = []
        self._state = "unconfigured"
        self._dropped = 0  # malformed messages before a loop exists (it counts them after)
        self._drop_logged: dict[str, float] = {}
        if self.config.autostart:
            # A steady clock: with use_sim_time a simulator in lockstep keeps time still until
            # the planner answers its first frame, and a sim-time timer would never fire.
            self._autostart = self.create_timer(0.1, self._start_up,
                                                clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _check_task(self, meta: dict[str, Any] | None = None) -> None:
        """Refuse a model trained for another task than the `task` parameter names (read from
        the model's meta.json; a model that cannot be read yet is configure's to report)."""
        from ..core.paths import resolve
        from ..core.runtime import ModelError, read_meta

        wanted, folder = self.config.task, self.config.planner.model
        if not wanted:
            return
        if meta is None:
            try:
                meta = read_meta(resolve(folder, kind="model folder"))
            except (FileNotFoundError, ModelError):
                return
        task = str(meta.get("task", "reach"))
        if task != wanted:
            raise ConfigError(
                f"parameter task is '{wanted}' but the model {folder} was trained for the "
                f"{task} task (task in {folder}/meta.json); set planner.model to a {wanted} "
                f"model (e.g. {graph.DEFAULT_MODELS[wanted]}) or task:={task}")

    @property
    def push(self) -> bool:
        """Whether the loaded model plans pushes (its meta.json says task: push)."""
        return self.model is not None and self.model.meta.get("task") == "push"

    # -- lifecycle -------------------------------------------------------------------------

    def _start_up(self) -> None:
        self.destroy_timer(self._autostart)
        if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        from ..core.control import build_control_loop
        from ..core.planning.backends import load_world_model

        cfg = self.config
        try:
            self.model = load_world_model(cfg.planner.model, cfg.planner, self.robot)
            self._check_task(self.model.meta)
            if abs(self.model.meta["control_period"] - self.period) > 1e-6 and cfg.control_rate:
                self.get_logger().warning(
                    f"control_rate {cfg.control_rate} Hz differs from the model's training "
                    f"period {self.model.meta['control_period']} s: each imagined step will not "
                    "match a control period (set control_rate: 0 to use the model's rate)")
            self.loop = build_control_loop(self.model, self.robot, cfg, self.period)
        except Exception as exc:  # a missing/corrupt/mismatched model must not kill the node
            self.get_logger().error(f"configure failed: {exc}")
            self.model = self.loop = None
            return TransitionCallbackReturn.FAILURE
        self.loop.counters.dropped_messages = self._dropped
        for note in self.loop.notes:
            self.get_logger().info(note)
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
            # Created in the order the executor takes them when several wait together: the
            # e-stop first; a goal before the frame that starts it (the simulator poses a goal
            # and sends the first frame of its episode at once); a joint state before the frame
            # taken with it (the control loop pairs them by stamp, this saves it the wait).
            self.create_subscription(Bool, graph.ESTOP, self._on_estop, m.RELIABLE_QOS),
            self.create_subscription(Image, graph.GOAL_IMAGE, self._on_goal_image,
                                     m.LATCHED_QOS),
            self.create_subscription(JointState, graph.GOAL_JOINTS, self._on_goal_joints,
                                     m.LATCHED_QOS),
            self.create_subscription(PoseStamped, graph.GOAL_POSE, self._on_goal_pose,
                                     m.RELIABLE_QOS),
            # Only the newest joint state matters, and joint states come at up to 500 Hz: a
            # depth-1 best-effort reader (it matches reliable publishers too) leaves no backlog
            # of stale states to work through after each plan.
            self.create_subscription(JointState, graph.JOINT_STATES, self._on_joints,
                                     m.SENSOR_QOS),
            self.create_subscription(Image, graph.CAMERA_IMAGE, self._on_image, m.SENSOR_QOS),
        ]
        self._diag_timer = self.create_timer(1.0 / cfg.diagnostics_rate, self._publish_diagnostics)
        self._state = "inactive"
        self.get_logger().info(
            f"configured: model {self.model.model_id} on {self.model.provider}, "
            f"{cfg.planner.optimizer.algorithm} {cfg.planner.optimizer.samples}x"
            f"{cfg.planner.horizon}x{cfg.planner.optimizer.iterations}, {1 / self.period:.1f} Hz, "
            f"{cfg.command_interface} commands, {'push' if self.push else 'reach'} task")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.loop.activate()
        self._control_timer = self.create_timer(self.loop.schedule.timer_period,
                                                self._on_control_timer)
        self._state = "active"
        self.get_logger().info("active: commanding the arm")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._control_timer is not None:
            self.destroy_timer(self._control_timer)
            self._control_timer = None
        self._publish_command(self.loop.deactivate("deactivated"))
        self._state = "inactive"
        self.get_logger().info("inactive: published one hold command and stopped")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self._state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._control_timer is not None and self.loop is not None:
            self._publish_command(self.loop.deactivate("shutdown"))
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
        if self.loop is not None:
            self._dropped = self.loop.counters.dropped_messages
        self.loop = self.model = None

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
        if self.loop is not None:
            self.loop.counters.dropped_messages += 1
            count = self.loop.counters.dropped_messages
        else:
            self._dropped += 1
            count = self._dropped
        now = time.monotonic()
        if now - self._drop_logged.get(what, -1e9) >= 2.0:
            self._drop_logged[what] = now
            self.get_logger().warning(f"dropped {what}: {exc} ({count} dropped so far)")

    def _on_image(self, msg: Image) -> None:
        if self.loop is None:
            return
        try:
            image = m.image_to_rgb(msg)
        except ValueError as exc:
            self._drop(f"image on {graph.CAMERA_IMAGE}", exc)
            return
        self._apply(self.loop.on_image(image, m.time_to_seconds(msg.header.stamp), self._now()))

    def _on_joints(self, msg: JointState) -> None:
        try:
            q, v = m.joint_state_vectors(msg, self.robot.joint_names, allow_extra=True)
        except ValueError as exc:
            self._drop(f"joint state on {graph.JOINT_STATES}", exc)
            return
        if self.loop is not None:
            self._apply(self.loop.on_joints(q, v, self._now(),
                                            m.time_to_seconds(msg.header.stamp)))

    def _on_goal_image(self, msg: Image) -> None:
        if self.loop is None:
            return
        try:
            self.loop.set_goal_image(m.image_to_rgb(msg))
            self.get_logger().info("new goal image")
        except ValueError as exc:
            self._drop(f"goal image on {graph.GOAL_IMAGE}", exc)

    def _refuse_for_push(self, topic: str) -> bool:
        """A push model takes goal images only; say so (throttled) for a goal on `topic`."""
        if not self.push:
            return False
        self.get_logger().warning(
            f"ignored a goal on {topic}: the push model {self.config.planner.model} is posed by "
            f"a goal image on {graph.GOAL_IMAGE} showing the object where it should go",
            throttle_duration_sec=5.0)
        return True

    def _on_goal_joints(self, msg: JointState) -> None:
        if self.loop is None or self._refuse_for_push(graph.GOAL_JOINTS):
            return
        try:
            q = m.joint_state_to_vector(msg, self.robot.joint_names, allow_extra=False)
            self.loop.set_goal_joints(q)
            self.get_logger().info(f"new goal joints {np.round(q, 3).tolist()}")
        except ValueError as exc:
            self._drop(f"goal joints on {graph.GOAL_JOINTS}", exc)

    def _on_goal_pose(self, msg: PoseStamped) -> None:
        if self.loop is None or self._refuse_for_push(graph.GOAL_POSE):
            return
        p = msg.pose.position
        position = np.array([p.x, p.y, p.z])
        try:
            self.loop.set_goal_pose(position, msg.header.frame_id)
            self.get_logger().info(f"new goal position {position.round(3).tolist()} "
                                   "(orientation is not controlled)")
        except ValueError as exc:
            self._drop(f"goal pose on {graph.GOAL_POSE}", exc)

    def _on_estop(self, msg: Bool) -> None:
        if self.loop is None:
            return
        change = self.loop.set_estop(msg.data)
        if change == "engaged":
            self.get_logger().error(f"e-stop engaged on {graph.ESTOP}: holding until released")
        elif change == "released":
            self.get_logger().warning("e-stop released: resuming from the current position")

    # -- control ---------------------------------------------------------------------------

    def _on_control_timer(self) -> None:
        self._apply(self.loop.on_timer(self._now()))

    def _apply(self, tick: Tick | None) -> None:
        """Publish what a control tick decided and say what needs saying."""
        if tick is None:
            return
        if tick.warning:
            self.get_logger().warning(tick.warning, throttle_duration_sec=2.0)
        if tick.step is not None:  # bench/node_monitor.py reads these (--log-level planner:=debug)
            self.get_logger().debug(f"step at {tick.describe()}")
        if tick.command is not None:
            self._publish_command(tick.command)
        step = tick.step
        if step is not None and step.plan is not None and "path" in self._pubs:
            self._publish_imagined(step)

    def _publish_command(self, command: np.ndarray | None) -> None:
        pub = self._pubs.get("command")
        if pub is None or command is None:
            return
        if self.config.command_interface == "position":
            pub.publish(m.position_command_message(command))
            return
        # Reach the command in one period, then stop there: if the planner dies, the arm stops
        # within two periods instead of running an unfiltered plan to its end.
        previous = self._previous_command
        if previous is None:
            measured = self.loop.measured_joints if self.loop is not None else None
            previous = command if measured is None else measured
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
        markers = [path]
        p = result.goal_tool  # None for a push goal: the object's goal, not the tool's
        if p is not None:
            goal = Marker(ns="goal", id=1, type=Marker.SPHERE, action=Marker.ADD)
            goal.header.frame_id, goal.header.stamp = frame, stamp
            goal.scale.x = goal.scale.y = goal.scale.z = 2 * 0.03
            goal.color.r, goal.color.g, goal.color.a = 0.1, 0.9, 0.4
            goal.pose.position = Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))
            markers.append(goal)
        self._pubs["path"].publish(MarkerArray(markers=markers))
        if self.loop.stats.steps % self.config.imagined_image_every == 0:
            decoded = self.model.decode(plan.predicted_latents[-1:])[0]
            frame_img = (np.clip(decoded, 0.0, 1.0) * 255).astype(np.uint8)
            self._pubs["image"].publish(m.rgb_to_image(frame_img, stamp=stamp))

    # -- diagnostics -----------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        status = DiagnosticStatus(name=f"{self.get_fully_qualified_name()}: world model planner",
                                  hardware_id=self.model.model_id if self.model else "")
        if self.loop is None:
            level, message = 0, self._state
            values: dict[str, Any] = {"state": self._state, "dropped_messages": self._dropped}
        else:
            level, message, values = self.loop.status(self._state)
            values.update(provider=self.model.provider, model_id=self.model.model_id)
        status.level, status.message = LEVELS[level], message
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

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
"""The embedded MuJoCo arm behind the topics Gazebo + ros2_control expose.

The planner cannot tell this node from Gazebo with joint_state_broadcaster, the forward position
and joint trajectory controllers and a camera bridge: same topic names, types and QoS. In task
mode it also poses seeded goals of the configured task (`task: reach|push`): a goal image and the
goal joints, latched, and reports each episode's outcome on task/result, which `wmp run` and the
evaluation read. The push task (core.sim.push.PushTask) adds an object on the floor: its goal
image shows the object at its goal with the arm at the rest pose (which is the goal joints it
publishes), success is the object within push.success_radius for node.settle_steps control steps,
and the object's true pose goes out with every camera frame on task/object_pose, for evaluation
and the recorder only (the planner sees the object through the camera alone).

Time: the simulation advances in ticks of whole physics steps (at most 10 ms, like a
controller_manager update), paced against the wall clock by node.real_time_factor. Every stamp and
/clock is simulation time, continuous across the resets between goals. Each tick first publishes
what is due at its time, then advances. With node.lockstep, simulation time stops after each
camera frame until a command answers it, so the command acts from the frame's instant for one
camera period, exactly as `wmp collect` made the training data (a planner's 15-30 ms of thinking
would otherwise leave the previous command in charge for the start of every period, which the
world model never saw; docs/SAFETY.md). Each goal's clock starts on a camera frame.

Run: ros2 run world_model_planner mujoco_sim_node --ros-args --params-file config/sim.yaml
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np
from rclpy.clock import Clock as RosClock
from rclpy.clock import ClockType
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory

from .. import graph
from ..core.config import SimulationConfig
from ..core.data.collect import episode_seed
from ..core.data.mcap_import import interpolate_trajectory
from . import messages as m
from .entry import run
from .ros_params import declare_config

NS = 1_000_000_000
MAX_TICK = 0.01  # s: the finest command/publish grain (a 100 Hz controller update)
MAX_LAG = 0.25  # s of simulation time behind the wall clock before pacing gives up catching up
RESEND = 0.5  # wall s between re-sends of a frame that waits for its command (lockstep)
LOG_EVERY = 2.0  # s between repeats of one warning


class Trajectory:
    """A JointTrajectory being executed: linear between points from where the arm was when it
    arrived (joint_trajectory_controller with a zero header stamp)."""

    def __init__(self, arrival_ns: int, start: np.ndarray, times: np.ndarray,
                 positions: np.ndarray) -> None:
        self.arrival_ns, self.start = arrival_ns, start
        self.times, self.positions = times, positions

    def target(self, now_ns: int) -> np.ndarray:
        return interpolate_trajectory(self.times, self.positions, self.start,
                                      (now_ns - self.arrival_ns) / NS)


DEFAULT_CAMERA_FRAME = "scene_camera_optical_frame"  # node.camera_frame's default
WORLD_FRAME = "world"  # the URDF's root link: the frame of the push object's pose


class MujocoSimNode(Node):
    """rclpy node `mujoco_sim`: ArmSim + ReachTask or PushTask behind ROS topics."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(graph.SIM_NODE, **kwargs)
        # MuJoCo loads only once the parameters are valid.
        from ..core.sim.arm import simulator_for
        from ..core.sim.push import PushTask
        from ..core.sim.reach import ReachTask

        self.config: SimulationConfig = declare_config(self, SimulationConfig)
        self.params = self.config.node
        self.push = self.config.task == "push"
        self.sim = simulator_for(self.config)
        try:
            self.sim.set_perturbations(self.config.perturbations)
            self.task: Any = (PushTask(self.sim, self.config.push) if self.push
                              else ReachTask(self.sim, self.config.reach))
        except Exception:
            self.sim.close()
            raise
        # The push task looks through its own camera: name its optical frame unless one is set.
        self.camera_frame = self.params.camera_frame
        if self.push and self.camera_frame == DEFAULT_CAMERA_FRAME:
            self.camera_frame = f"{self.sim.camera_name}_optical_frame"
        self.joint_names = self.sim.robot.joint_names
        dt = self.config.sim.physics_timestep
        finest = min(MAX_TICK, 1.0 / self.params.joint_state_rate, 1.0 / self.params.camera_rate,
                     self.config.sim.control_period)
        self.tick_steps = max(1, int(finest / dt + 1e-9))
        self.tick_ns = int(round(self.tick_steps * dt * NS))
        self.joint_period_ns = int(round(NS / self.params.joint_state_rate))
        self.camera_period_ns = int(round(NS / self.params.camera_rate))

        self.now_ns = 0  # simulation time, never reset
        self.next_joints_ns = 0
        self.next_camera_ns = 0
        self.target = self.sim.qpos
        self.trajectory: Trajectory | None = None
        self.dropped: dict[str, int] = {}
        self.last_drop_log: dict[str, float] = {}
        self.episode = -1
        self.goal: Any = None
        self.settled = 0
        self.last_step = 0
        self.task_running = False
        self.start_q = self.sim.qpos
        self.start_object: np.ndarray | None = None  # push: the object's pose at the start
        self.waiting_for_command = False
        # Commands are dropped until then (sim time) after a reset between goals, see reset_hold.
        self.hold_until_ns = 0
        self.stale_commands = 0
        self.start_due = False  # the first command came: start the clock at the next frame
        self.published = False  # what is due at now_ns was published
        # Lockstep: frames wait for their answer while a commander answers (from the start: the
        # first goal waits at time zero for the planner), and are sent again while they wait.
        self.commander = self.params.lockstep
        self.awaiting_since: float | None = None  # wall time of the frame waiting for an answer
        self.last_sent: list[tuple[Any, Any]] = []  # (publisher, message) of the waiting frame
        self.resent_at = 0.0

        self._create_topics()

        if self.params.task_enabled:
            self.task_running = True
            self.start_goal(0)
        rtf = self.params.real_time_factor
        self.wall_anchor = time.monotonic()
        self.sim_anchor_ns = self.now_ns
        period = self.tick_ns / NS / rtf if rtf > 0 else 0.0
        # A steady clock: with use_sim_time the node clock would wait for the /clock we publish.
        self.timer = self.create_timer(period, self.on_timer,
                                       clock=RosClock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(
            f"simulating {self.sim.robot.name} ({', '.join(self.joint_names)}) in ticks of "
            f"{self.tick_ns / 1e6:g} ms at real_time_factor {rtf:g}"
            f"{' in lockstep with its commands' if self.params.lockstep else ''}; camera "
            f"{self.config.sim.image_width}x{self.config.sim.image_height} at "
            f"{self.params.camera_rate:g} Hz; {self.config.task} task "
            f"{'on' if self.task_running else 'off'}")

    def _create_topics(self) -> None:
        """The simulated arm's topics (graph.py) and, for the task mode, the task's."""
        self.joint_pub = self.create_publisher(JointState, graph.JOINT_STATES, m.RELIABLE_QOS)
        self.image_pub = self.create_publisher(Image, graph.CAMERA_IMAGE, m.SENSOR_QOS)
        self.info_pub = self.create_publisher(CameraInfo, graph.CAMERA_INFO, m.SENSOR_QOS)
        self.clock_pub = (self.create_publisher(Clock, graph.CLOCK, m.CLOCK_QOS)
                          if self.params.publish_clock else None)
        self.goal_image_pub = self.create_publisher(Image, graph.TASK_GOAL_IMAGE, m.LATCHED_QOS)
        self.goal_joints_pub = self.create_publisher(JointState, graph.TASK_GOAL_JOINTS,
                                                     m.LATCHED_QOS)
        self.result_pub = self.create_publisher(String, graph.TASK_RESULT, m.RELIABLE_QOS)
        self.object_pub = (self.create_publisher(PoseStamped, graph.TASK_OBJECT_POSE,
                                                 m.RELIABLE_QOS) if self.push else None)
        self.create_subscription(Float64MultiArray, graph.POSITION_COMMANDS, self.on_position,
                                 m.RELIABLE_QOS)
        self.create_subscription(JointTrajectory, graph.TRAJECTORY_COMMANDS, self.on_trajectory,
                                 m.RELIABLE_QOS)

    # -- commands ----------------------------------------------------------------------------

    def on_position(self, msg: Float64MultiArray) -> None:
        try:
            target = m.position_command_to_vector(msg, self.joint_names)
            self.first_command()  # before answered(): it asks whether a frame was waiting
            self.answered()
            if self.holding_after_reset():
                return
            self.target, self.trajectory = target, None
        except Exception as exc:  # a bad message must never stop the simulation
            self.drop(graph.POSITION_COMMANDS, exc)

    def on_trajectory(self, msg: JointTrajectory) -> None:
        try:
            times, positions = m.trajectory_to_arrays(msg, self.joint_names)
            self.first_command()  # before answered(): it asks whether a frame was waiting
            self.answered()
            if self.holding_after_reset():
                return
            if len(times) == 0:  # empty trajectory: stop where the arm is
                self.target, self.trajectory = self.sim.qpos, None
                return
            self.trajectory = Trajectory(self.now_ns, self.sim.qpos, times, positions)
        except Exception as exc:
            self.drop(graph.TRAJECTORY_COMMANDS, exc)

    def first_command(self) -> None:
        """With node.start_on_command, the first goal's episode begins with the first command:
        at once if it answers the frame of the goal's start instant (lockstep, nothing
        simulated since the reset), else at the next frame (from rest at the start again)."""
        if not self.waiting_for_command or self.start_due:
            return
        if self.awaiting_since is not None and self.sim.time == 0.0:
            self.waiting_for_command = False
            self.get_logger().info(f"goal {self.episode}: first command received, clock starts")
            return
        self.start_due = True
        self.get_logger().info(f"goal {self.episode}: first command received, clock starts at "
                               "the next camera frame")

    def start_clock(self) -> None:
        """The goal's episode begins now, on a camera frame: the arm at rest at its start, step
        count zero, no command yet, and the joint state of that instant published with it."""
        self.waiting_for_command = self.start_due = False
        self.hold_until_ns = 0
        self.sim.reset(self.start_q, object_pose=self.start_object)
        self.target, self.trajectory = self.start_q, None
        self.last_step = 0
        self.next_joints_ns = self.now_ns

    def clock_starts_now(self) -> bool:
        """Whether the goal's clock starts at this instant: a frame is due, and the first
        command came (start_on_command) or the hold after a reset is over."""
        if self.now_ns < self.next_camera_ns:
            return False
        return self.start_due or bool(self.hold_until_ns and self.now_ns >= self.hold_until_ns)

    def answered(self) -> None:
        """A valid command arrived: with lockstep, it answers the frame the simulation waits
        on, and later frames wait for theirs."""
        if not self.params.lockstep:
            return
        self.commander = True
        if self.awaiting_since is not None:
            self.awaiting_since = None
            self.last_sent = []
            self.reanchor()

    def holding_after_reset(self) -> bool:
        """True (and the command counted as stale) while the arm holds after a reset, until the
        goal's clock starts.

        A planner reading the last frame before the reset sends its command just after it; that
        command would drag the freshly placed arm back towards the previous goal's pose."""
        if not self.hold_until_ns:
            return False
        self.stale_commands += 1
        return True

    def drop(self, topic: str, exc: Exception) -> None:
        """Count a malformed message; say why at most every LOG_EVERY s per topic."""
        self.dropped[topic] = self.dropped.get(topic, 0) + 1
        now = time.monotonic()
        if now - self.last_drop_log.get(topic, -LOG_EVERY) >= LOG_EVERY:
            self.last_drop_log[topic] = now
            self.get_logger().warning(f"dropped a malformed message on {topic}: {exc} "
                                      f"({self.dropped[topic]} dropped there so far)")

    # -- time --------------------------------------------------------------------------------

    def reanchor(self) -> None:
        """Pace from here: the wall clock and simulation time start together again."""
        self.wall_anchor, self.sim_anchor_ns = time.monotonic(), self.now_ns

    def waiting(self) -> bool:
        """Whether a frame still waits for its command (lockstep); gives up after the timeout."""
        if self.awaiting_since is None:
            return False
        now = time.monotonic()
        if now - self.awaiting_since < self.params.lockstep_timeout:
            if now - self.resent_at >= RESEND:  # a best-effort frame may not have arrived
                self.resent_at = now
                for pub, msg in self.last_sent:
                    pub.publish(msg)
            return True
        self.get_logger().warning(
            f"no command answered the camera frame within lockstep_timeout "
            f"({self.params.lockstep_timeout:g} s wall): simulating on without waiting until "
            "commands come again", throttle_duration_sec=LOG_EVERY)
        self.awaiting_since = None
        self.last_sent = []
        self.commander = False
        self.reanchor()
        return False

    def on_timer(self) -> None:
        try:
            if self.waiting():
                return
            rtf = self.params.real_time_factor
            if rtf <= 0:  # as fast as possible, one control period per callback
                for _ in range(max(1, int(self.config.sim.control_period * NS) // self.tick_ns)):
                    if not self.tick():
                        break
                return
            due = self.sim_anchor_ns + int((time.monotonic() - self.wall_anchor) * rtf * NS)
            if due - self.now_ns > MAX_LAG * NS:
                self.get_logger().warning(
                    f"the simulation cannot keep up with real_time_factor {rtf:g} on this "
                    "machine; lower node.real_time_factor or node.camera_rate",
                    throttle_duration_sec=10.0)
                self.wall_anchor, self.sim_anchor_ns = time.monotonic(), self.now_ns
                due = self.now_ns + self.tick_ns
            while self.now_ns + self.tick_ns <= due and self.tick():
                pass
        except Exception as exc:  # never let the executor die on us; say what happened
            if not self.context.ok():
                return  # shutting down (SIGINT/SIGTERM) in the middle of a tick
            self.get_logger().error(f"simulation step failed: {type(exc).__name__}: {exc}",
                                    throttle_duration_sec=LOG_EVERY)

    def tick(self) -> bool:
        """Publish what is due now (once), then advance one tick and check the task. False when
        it stopped after a frame to wait for the command answering it (lockstep)."""
        if not self.published:
            if self.clock_starts_now():
                self.start_clock()
            self.published = True
            if self.publish_due() and self.params.lockstep and self.commander:
                self.awaiting_since = self.resent_at = time.monotonic()
                return False
        end_ns = self.now_ns + self.tick_ns
        if self.trajectory is not None:
            self.target = self.trajectory.target(end_ns)
        self.sim.advance(self.target, self.tick_steps * self.config.sim.physics_timestep)
        self.now_ns = end_ns
        self.published = False
        if (self.task_running and not self.waiting_for_command and not self.hold_until_ns
                and self.sim.step_count != self.last_step):
            self.last_step = self.sim.step_count
            self.on_control_step()
        return True

    def publish_due(self) -> bool:
        """/clock, and the joint state and camera frame if due at now; True if a frame went."""
        stamp = m.seconds_to_time(self.now_ns / NS)
        sent: list[tuple[Any, Any]] = []
        if self.clock_pub is not None:
            sent.append((self.clock_pub, Clock(clock=stamp)))
        if self.now_ns >= self.next_joints_ns:
            sent.append((self.joint_pub, m.joint_state_message(
                self.joint_names, self.sim.qpos, self.sim.qvel, stamp=stamp)))
            self.next_joints_ns = max(self.next_joints_ns + self.joint_period_ns, self.now_ns)
        frame = self.now_ns >= self.next_camera_ns
        if frame:
            name = self.camera_frame
            sent.append((self.image_pub, m.rgb_to_image(self.sim.render(), stamp=stamp,
                                                        frame_id=name)))
            sent.append((self.info_pub, m.camera_info_message(self.sim.intrinsics(),
                                                              stamp=stamp, frame_id=name)))
            self.next_camera_ns = max(self.next_camera_ns + self.camera_period_ns, self.now_ns)
        for pub, msg in sent:
            pub.publish(msg)
        self.last_sent = sent
        if frame and self.object_pub is not None:  # once per frame, not re-sent with it
            self.object_pub.publish(m.planar_pose_message(
                self.sim.object_pose(), stamp=stamp, frame_id=WORLD_FRAME))
        return frame

    # -- task --------------------------------------------------------------------------------

    def start_goal(self, index: int) -> None:
        """Episode `index`: the arm at its seeded start, the goal posed (latched)."""
        rng = np.random.default_rng(episode_seed(self.params.seed, index))
        start, goal_at = self.task.sample_episode(rng)
        if self.push:
            self.start_object = np.asarray(start.object_pose, dtype=float)
            self.task.reset(start)
        else:
            self.sim.reset(start)
        self.start_q = self.sim.qpos
        self.target, self.trajectory = self.start_q, None
        self.waiting_for_command = index == 0 and self.params.start_on_command
        # In lockstep no command is in flight across a reset (each frame's answer arrived
        # before the simulation went on), so the goal's clock starts at once, on this frame.
        hold_ns = 0 if self.params.lockstep else int(round(self.params.reset_hold * NS))
        self.hold_until_ns = self.now_ns + hold_ns if index > 0 and hold_ns > 0 else 0
        self.episode, self.settled, self.last_step = index, 0, 0
        self.goal = self.task.make_goal(goal_at)
        stamp = m.seconds_to_time(self.now_ns / NS)
        self.goal_image_pub.publish(m.rgb_to_image(self.goal.image, stamp=stamp,
                                                   frame_id=self.camera_frame))
        # Push: the joints the goal image shows, the rest pose (not a goal the arm must reach).
        goal_joints = self.task.rest_pose if self.push else self.goal.joints
        self.goal_joints_pub.publish(m.joint_state_message(self.joint_names, goal_joints,
                                                           stamp=stamp))
        wait = " (waiting for the first command)" if self.waiting_for_command else ""
        where = (f"object from {np.round(self.start_object, 3)} to "
                 f"{np.round(self.goal.object_pose, 3)} (x, y, yaw)" if self.push
                 else f"tool to {np.round(self.goal.tool_position, 3)}")
        self.get_logger().info(f"goal {index}: {where}{wait}")

    def on_control_step(self) -> None:
        steps = self.sim.step_count
        error = self.task.error(self.goal)
        inside = (self.task.success(self.goal) if self.push
                  else error <= self.config.reach.success_radius)
        self.settled = self.settled + 1 if inside else 0
        success = self.settled >= self.params.settle_steps
        if not success and steps < self.config.episode_steps:
            return
        period = self.config.sim.control_period
        result = {"episode": self.episode, "seed": self.params.seed, "success": bool(success),
                  "final_error_m": round(error, 5), "steps": int(steps),
                  "seconds": round(steps * period, 6),
                  "started_s": round(self.now_ns / NS - steps * period, 6)}
        if self.push:
            result.update(self.push_result())
        self.result_pub.publish(String(data=json.dumps(result, sort_keys=True)))
        what = "object error" if self.push else "error"
        self.get_logger().info(f"goal {self.episode}: {'reached' if success else 'missed'} "
                               f"({what} {error * 1000:.1f} mm after {steps} steps)")
        more = self.params.goals == 0 or self.episode + 1 < self.params.goals
        if more:
            self.start_goal(self.episode + 1)
        else:
            self.task_running = False
            self.get_logger().info(f"all {self.params.goals} goals done; the arm stays simulated "
                                   f"({self.stale_commands} commands planned before a reset "
                                   "were dropped)")

    def push_result(self) -> dict[str, Any]:
        """What a push result adds: final_error_m is the object's distance to its goal; these
        say where it started, ended and was to go (x, y, yaw) and its yaw error (degrees)."""
        _, yaw = self.task.errors(self.goal)
        return {"task": "push", "yaw_error_deg": round(yaw, 2),
                "start_object": [round(float(v), 5) for v in self.start_object],
                "final_object": [round(float(v), 5) for v in self.sim.object_pose()],
                "goal_object": [round(float(v), 5) for v in self.goal.object_pose]}

    def close(self) -> None:
        self.sim.close()


def main(args: list[str] | None = None) -> int:
    """Entry point of `ros2 run world_model_planner mujoco_sim_node`."""
    return run(MujocoSimNode, graph.SIM_NODE, args)


if __name__ == "__main__":
    sys.exit(main())

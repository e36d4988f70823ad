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
"""The control loop every commanding node calls: one place for the order of decisions per tick.

Per tick, in this order: a clock that jumped, stood still or went back skips the cycle (the
first tick after activation runs: a driver in lockstep waits for its answer); an engaged e-stop
holds; stale camera or joint data (watchdog) holds; no goal holds; otherwise one MPC step
(core.planning.controller), whose surprise monitor may re-ground or hold and which restarts
control where the arm is when something else moved it (resync). Every hold goes through one
function, which starts from the measured joints when they are fresh and show the arm away from
the last command (a driver or simulator restart, hand guiding): re-sending the old command there
would make the arm jump to it. While joint states are stale, a hold brakes the last command to
rest and then sends nothing more (the controller keeps the last command): a driver restarting
meanwhile must not receive a command computed for an arm whose position is unknown. When joint
states come back showing the arm more than a step from the last command, control restarts from
them (belief, plan and filter), whatever the tick does next: an arm that came back within the
resync tolerance of the old command would otherwise be driven to it at servo speed.

Times come in as arguments (`now`, seconds on the node's clock: ROS, sim or test time); only the
latency statistics read a wall clock, which is injected too. Nothing here imports ROS: the
planner node converts messages and publishes what :class:`Tick` says, and tests drive the loop
tick by tick.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .config import PlannerNodeConfig
from .observation import Observation, fit_image
from .planning.controller import MPCController, StepResult
from .planning.schedule import ControlSchedule
from .robot import Robot
from .safety import (RESYNC, SURPRISE_CAMERA, SURPRISE_HOLD, SURPRISE_REGROUND, CommandLimits,
                     ControlClock, EStopLatch, SafetyCounters, SurpriseThresholds, Watchdog)

WINDOW = 200  # samples kept for rate and latency statistics
STAMP_TOLERANCE = 1e-3  # s: a joint state this much older than a frame is still "of" the frame

# Decisions of ticks that did not plan (StepResult.decision covers the ones that did).
SKIPPED = "skipped"
ESTOP = "e-stop"
STALE = "stale data"
NO_GOAL = "no goal"
PLANNER_ERROR = "planner error"

# Diagnostic levels, as diagnostic_msgs/DiagnosticStatus numbers them.
OK, WARN, ERROR = 0, 1, 2

RESYNC_WARNING = (
    "the measured joints were more than robot path_tolerance ({tolerance:g} rad) from the last "
    "command: something else moved the arm (a simulator reset, hand guiding, a collision); "
    "control restarted from where it is")


@dataclass
class Tick:
    """What one control tick decided. command None: publish nothing (skipped cycle, or no joint
    state ever received, so nothing is known to be safe)."""

    command: np.ndarray | None
    decision: str
    held: bool
    step: StepResult | None = None
    warning: str = ""  # say this in the node's log (throttled): why control did something odd
    stamp: float = math.nan  # the frame a planning step answered (its header stamp)

    def describe(self) -> str:
        """One line for a debug log: which frame, what was decided, the monitor's scores."""
        text = f"frame {self.stamp:.3f}: {self.decision}"
        if self.step is not None:
            text += (f" (surprise {self.step.surprise:.2f}, joints-only "
                     f"{self.step.proprio_surprise:.2f}, tracking "
                     f"{self.step.tracking_surprise:.2f})")
        return text


@dataclass
class LoopStats:
    """What the loop reports in diagnostics besides the safety counters."""

    # Tick times on the loop's own clock (sim time in simulation): the rate the arm sees.
    ticks: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    plan_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    image_to_command: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    decisions: Counter[str] = field(default_factory=Counter)  # planning steps by decision
    steps: int = 0  # planning steps (ticks that ran the MPC)
    commands: int = 0  # commands handed out to publish (ticks, deactivation)
    frames: int = 0  # camera frames received (active or not)
    joint_states: int = 0  # joint states received


def command_limits(robot: Robot, velocity_scale: float = 0.0) -> CommandLimits:
    """The robot's limits; a node's velocity_scale (0: none) can only lower the robot's."""
    scale = robot.config.velocity_scale
    if velocity_scale:
        scale = min(scale, velocity_scale)
    return CommandLimits.from_robot(robot, velocity_scale=scale)


class ControlLoop:
    """E-stop, watchdog, goal, surprise, resync and hold around one :class:`MPCController`."""

    def __init__(self, controller: MPCController, watchdog: Watchdog, period: float, *,
                 trigger_on_image: bool = True,
                 wall: Callable[[], float] = time.monotonic) -> None:
        self.controller = controller
        self.robot = controller.robot
        self.watchdog = watchdog
        self.period = float(period)
        self.clock = ControlClock(self.period)
        self.schedule = ControlSchedule(self.period, on_image=trigger_on_image)
        self.estop = EStopLatch()
        self.counters = SafetyCounters()
        self.stats = LoopStats()
        self.active = False
        self.last: dict[str, Any] = {}  # the latest decision and scores, for diagnostics
        self.notes: list[str] = []  # how the configuration was adapted, for the node's log
        self._wall = wall
        self._image: np.ndarray | None = None
        self._image_stamp = 0.0
        self._image_age = 0.0  # frame age on arrival (node clock): transport
        self._image_arrival = 0.0  # wall time of arrival: planning, queueing
        self._joints: tuple[np.ndarray, np.ndarray] | None = None
        self._joint_stamp = math.nan
        self._waiting_since: float | None = None  # a due tick waits for its frame's joints
        self._frame_ahead: float | None = None  # stamp of a frame waiting for the clock
        self._arm_unknown = True  # joint states stale since the last tick: restart when fresh

    @property
    def measured_joints(self) -> np.ndarray | None:
        """The latest joint positions received (a copy), None before the first."""
        return None if self._joints is None else self._joints[0].copy()

    # -- lifecycle ---------------------------------------------------------------------------

    def activate(self) -> None:
        """Start commanding: belief, plan, filter, watchdog latch and tick grid start afresh."""
        self.controller.reset()
        self.watchdog.reset()
        self.clock.reset()
        self.schedule.reset()
        self._waiting_since = self._frame_ahead = None
        self._arm_unknown = False  # the controller was just reset
        self.active = True

    def deactivate(self, reason: str) -> np.ndarray | None:
        """Stop commanding; the one hold command to publish (None without a joint state)."""
        self.active = False
        command = self._hold_command(reason, fresh=False)
        self.stats.commands += command is not None
        return command

    # -- inputs ------------------------------------------------------------------------------

    def on_image(self, image: np.ndarray, stamp: float, now: float) -> Tick | None:
        """A camera frame (uint8 RGB, any size) taken at `stamp`, arriving at `now`; the tick
        it runs, if the schedule says this frame serves one and its joint state is here.

        The model was trained on a frame and the joint state of the same instant. A frame can
        be handled before the joint state sent with it (the executor's order, a loaded
        machine): the arm is then mid-step in the old state, and the monitor saw a world that
        changed. Such a tick waits for a joint state stamped at or after the frame, for at most
        a quarter period (on_joints and on_timer run it)."""
        h, w = self.controller.model.image_hw
        self._image = fit_image(image, h, w)
        self._image_stamp = float(stamp)
        self._image_age = max(0.0, now - stamp) if math.isfinite(now - stamp) else 0.0
        self._image_arrival = self._wall()
        self.watchdog.feed_camera(now)
        self.stats.frames += 1
        if self._clock_behind(stamp, now):
            self._frame_ahead = float(stamp)  # its tick runs when the clock gets there
            return None
        return self._serve_frame(now)

    def _serve_frame(self, now: float) -> Tick | None:
        """The current frame's tick at `now`, if the schedule says it serves one and its joint
        state is here (else it waits for it)."""
        if not (self.active and self.schedule.on_frame(now)):
            return None
        if self._joints_behind():
            self._waiting_since = now
            return None
        return self.tick(now)

    def _clock_behind(self, stamp: float, now: float) -> bool:
        """Whether a frame is stamped up to one period after the node's clock: on simulation
        time the /clock message of its instant is still queued (the executor took the frame
        first). Scheduled at the old time, the frame served no tick and a simulator in lockstep
        waited for its answer in vain; it is served when the clock reaches its stamp. Larger
        leads are a clock offset between machines, and the frame is served at once as ever."""
        ahead = float(stamp) - now
        return (self.active and self.schedule.on_image and math.isfinite(ahead)
                and STAMP_TOLERANCE < ahead <= self.period + STAMP_TOLERANCE)

    def on_joints(self, qpos: np.ndarray, qvel: np.ndarray | None, now: float,
                  stamp: float = math.nan) -> Tick | None:
        """A joint state (robot joint order) taken at `stamp`, arriving at `now`; the tick it
        runs if a frame was waiting for it."""
        q = np.asarray(qpos, dtype=np.float64)
        self._joints = (q, np.zeros_like(q) if qvel is None else np.asarray(qvel, np.float64))
        self._joint_stamp = float(stamp)
        self.watchdog.feed_joint_states(now)
        self.stats.joint_states += 1
        return self._run_waiting(now)

    def on_timer(self, now: float) -> Tick | None:
        """The control timer fired; the tick it runs, if no frame served this one (or a frame's
        joint state is overdue, or the clock reached a frame stamped ahead of it)."""
        ahead = self._frame_ahead
        if ahead is not None and (now >= ahead - STAMP_TOLERANCE or not math.isfinite(now)):
            self._frame_ahead = None
            return self._serve_frame(now)
        if self._waiting_since is not None:
            return self._run_waiting(now)
        if self.active and self.schedule.on_timer(now):
            return self.tick(now)
        return None

    def _joints_behind(self) -> bool:
        """Whether no joint state came yet, or the newest was taken before the current frame
        (stamps that are not set, 0 or NaN, are not compared)."""
        if self._joints is None:
            return True
        frame, joints = self._image_stamp, self._joint_stamp
        if not (math.isfinite(frame) and math.isfinite(joints) and frame > 0 and joints > 0):
            return False
        return joints < frame - STAMP_TOLERANCE

    def _run_waiting(self, now: float) -> Tick | None:
        since = self._waiting_since
        if since is None or not self.active:
            return None
        overdue = not math.isfinite(now - since) or now - since >= self.schedule.late
        if self._joints_behind() and not overdue:
            return None
        self._waiting_since = None
        return self.tick(now)

    def set_estop(self, value: object) -> str:
        """Apply an e-stop message; 'engaged' / 'released' on a change, '' otherwise. A release
        restarts control from where the arm is."""
        was = self.estop.engaged
        now = self.estop.update(value)
        if was and not now:
            self.controller.reset()
            return "released"
        return "engaged" if now and not was else ""

    # -- goals (a ValueError names what is wrong with a goal) ---------------------------------

    def set_goal_image(self, image: np.ndarray) -> None:
        h, w = self.controller.model.image_hw
        self.controller.set_goal_image(fit_image(image, h, w))
        self.last["goal"] = "image"

    def set_goal_joints(self, joints: np.ndarray) -> None:
        q = np.asarray(joints, dtype=np.float64)
        outside = [n for n, v, lo, hi in zip(self.robot.joint_names, q, self.robot.lower,
                                             self.robot.upper) if not lo <= v <= hi]
        if outside:
            raise ValueError(f"goal outside the joint limits for {outside}")
        self.controller.set_goal_joints(q)
        self.last["goal"] = "joints"

    def set_goal_pose(self, position: np.ndarray, frame_id: str = "") -> None:
        """A tool position in the planning frame (orientation is not controlled)."""
        base = self.robot.config.base_frame
        if frame_id not in ("", base):
            raise ValueError(f"frame_id '{frame_id}' is not the planning frame '{base}' "
                             "(transform it first)")
        p = np.asarray(position, dtype=np.float64)
        if not np.all(np.isfinite(p)):
            raise ValueError("position is NaN or infinite")
        reach = float(np.linalg.norm(self.robot.tool_positions(np.zeros(self.robot.dof))))
        if np.linalg.norm(p) > reach:
            raise ValueError(f"position {p.round(3).tolist()} is beyond the arm's reach "
                             f"({reach:.2f} m)")
        self.controller.set_goal_tool(p)
        self.last["goal"] = "pose"

    # -- the tick ----------------------------------------------------------------------------

    def tick(self, now: float) -> Tick:
        """One control cycle at `now`; see the module docstring for the order of decisions."""
        tick = self._decide(now)
        if tick.command is not None:
            self.stats.commands += 1
        return tick

    def _decide(self, now: float) -> Tick:
        first = not self.clock.started  # nothing to measure from, but nothing wrong either
        if self.clock.tick(now) is None and not (first and math.isfinite(now)):
            self.counters.skipped_cycles += 1
            self.stats.ticks.clear()  # the rate is measured on one unbroken clock
            return Tick(None, SKIPPED, held=False)
        self.stats.ticks.append(now)
        self._restart_if_arm_returned(now)
        if self.estop.engaged:
            return self._hold(ESTOP, now)
        status = self.watchdog.check(now)
        self.counters.watchdog_trips = self.watchdog.trips
        if not status.ok:
            self.last["watchdog"] = status.message
            return self._hold(STALE, now)
        self.last.pop("watchdog", None)
        if self.controller.goal is None:
            return self._hold(NO_GOAL, now)
        return self._plan(now)

    def _restart_if_arm_returned(self, now: float) -> None:
        """Restart control from the measured joints on the first tick with fresh joint states
        after stale ones when they show the arm more than a velocity-limited step from the last
        command (a driver or simulator restart): integrating from that command would drive the
        arm back to it. Within a step the command still describes the arm (the hold's rule)."""
        if not self.watchdog.is_fresh("joint_states", now):
            self._arm_unknown = True
        elif self._arm_unknown:
            self._arm_unknown = False
            if self._joints is not None and self.controller.filter.out_of_step(self._joints[0]):
                self.controller.reset()

    def _plan(self, now: float) -> Tick:
        assert self._image is not None and self._joints is not None  # the watchdog saw both
        q, v = self._joints
        started = self._wall()
        try:
            result = self.controller.step(Observation(self._image, q, v, self._image_stamp))
        except Exception as exc:  # the model must never take the loop down
            tick = self._hold(PLANNER_ERROR, now)
            tick.warning = f"planning failed, holding: {type(exc).__name__}: {exc}"
            return tick
        done = self._wall()
        self.stats.plan_seconds.append(done - started)
        self.stats.image_to_command.append(self._image_age + done - self._image_arrival)
        if result.filter_reasons:
            self.counters.clipped_commands += 1
        if result.held:
            self.counters.holds += 1
        self.last.update(decision=result.decision, surprise=result.surprise,
                         proprio_surprise=result.proprio_surprise,
                         tracking_surprise=result.tracking_surprise,
                         cost=None if result.plan is None else result.plan.cost)
        self.stats.steps += 1
        self.stats.decisions[result.decision] += 1
        warning = (RESYNC_WARNING.format(tolerance=self.robot.config.path_tolerance)
                   if result.decision == RESYNC else "")
        return Tick(result.command, result.decision, result.held, result, warning,
                    self._image_stamp)

    def _hold(self, reason: str, now: float) -> Tick:
        self.counters.holds += 1
        self.last["decision"] = reason
        fresh = math.isfinite(now) and self.watchdog.is_fresh("joint_states", now)
        command = self._hold_command(reason, fresh)
        if command is not None and not fresh and not np.any(self.controller.filter.velocity):
            command = None  # at rest, where the arm is unknown: the controller keeps the last
        return Tick(command, reason, held=True)

    def _hold_command(self, reason: str, fresh: bool) -> np.ndarray | None:
        """The hold command: from the measured joints when they are `fresh` and the arm is
        more than a velocity-limited step from the last command; else a controlled stop of
        the last command. None before any joint state."""
        if self._joints is None:
            return None
        return self.controller.hold(self._joints[0], reason, measured_is_fresh=fresh).command

    # -- diagnostics -------------------------------------------------------------------------

    def status(self, state: str) -> tuple[int, str, dict[str, Any]]:
        """(level, message, values) for /diagnostics, given the node's lifecycle `state`."""
        values: dict[str, Any] = {"state": state}
        ticks = list(self.stats.ticks)
        if len(ticks) >= 2 and ticks[-1] - ticks[0] > 0:
            values["loop_rate_hz"] = (len(ticks) - 1) / (ticks[-1] - ticks[0])
        for key, samples in (("plan_latency", self.stats.plan_seconds),
                             ("e2e_latency", self.stats.image_to_command)):
            if samples:
                values[f"{key}_p50_ms"] = 1000 * float(np.percentile(samples, 50))
                values[f"{key}_p99_ms"] = 1000 * float(np.percentile(samples, 99))
        values.update({k: v for k, v in self.last.items() if v is not None})
        values.update(self.counters.as_dict())
        values.update({f"steps_{d}": n for d, n in self.stats.decisions.items()})
        values.update(commands_sent=self.stats.commands, frames_received=self.stats.frames,
                      joint_states_received=self.stats.joint_states)
        values["estop"] = self.estop.engaged
        decision = self.last.get("decision")
        if self.estop.engaged:
            return ERROR, "e-stop engaged: holding", values
        if "watchdog" in self.last:
            return ERROR, self.last["watchdog"], values
        if decision in (SURPRISE_HOLD, PLANNER_ERROR):
            return WARN, f"holding: {decision}", values
        if decision in (SURPRISE_REGROUND, SURPRISE_CAMERA):
            return WARN, f"surprise: {decision}", values
        if state == "active" and decision:
            return OK, f"active: {decision}", values
        return OK, state, values


def build_control_loop(model: Any, robot: Robot, config: PlannerNodeConfig, period: float, *,
                       wall: Callable[[], float] = time.monotonic) -> ControlLoop:
    """The planner node's loop for a loaded, verified model; a ValueError (ConfigError) names
    the setting that does not fit the model."""
    from .config import ConfigError

    surprise = model.meta.get("surprise")
    planner = config.planner
    if planner.surprise.enabled and not surprise:
        raise ConfigError(f"{planner.model}: meta.json has no surprise calibration; re-export "
                          "with 'wmp export --data ...' or set planner.surprise.enabled: false")
    notes = []
    if planner.surprise.tracking and not config.synchronous_commands:
        # The position-loop check is calibrated on steps where a command acts for one whole
        # period from the frame it answers (wmp collect, wmp eval). Where commands land later
        # (a real driver, a simulator running in real time) it fired on 173 of 298 undisturbed
        # steps of a demo (docs/SAFETY.md).
        notes.append("surprise.tracking (push check) is off: commands do not act from the frame "
                     "they answer here (set synchronous_commands only for a lock-stepped driver)")
        planner = replace(planner, surprise=replace(planner.surprise, tracking=False))
    controller = MPCController(
        model, robot, planner, period, limits=command_limits(robot, config.velocity_scale),
        surprise=SurpriseThresholds.from_meta(surprise) if surprise else None)
    dog = config.watchdog
    watchdog = Watchdog(camera_timeout=dog.camera_timeout,
                        joint_state_timeout=dog.joint_state_periods * period,
                        resume_on_fresh_data=dog.resume_on_fresh_data)
    loop = ControlLoop(controller, watchdog, period, trigger_on_image=config.trigger_on_image,
                       wall=wall)
    loop.notes = notes
    return loop

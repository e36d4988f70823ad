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
"""The last line of defence before a joint command is published.

Nothing here knows about the learned model: whatever the planner asks for (NaN, infinity, a jump
across the workspace), :class:`CommandFilter` turns it into a finite position command inside the
joint limits whose per-step velocity and acceleration stay within bounds. :class:`Watchdog`,
:class:`EStopLatch` and :class:`ControlClock` decide when the arm must hold instead of follow the
plan, and :class:`SafetyCounters` is what the nodes report in diagnostics.

Every time is a float in seconds handed in by the caller (a ROS or monotonic clock), so the same
code runs against wall time, sim time and tests.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from .tracking import TrackingModel

if TYPE_CHECKING:  # only for type hints: the safety layer needs nothing but numpy at run time
    from .robot import Robot

# Decision of a control step that found the arm off its last command's path (see
# CommandFilter.off_path) and restarted control where the arm is.
RESYNC = "resync"

# Requests that exceed a limit by less than this (rad) are not reported as clipped: a planner that
# asks for exactly its action bound must not be flagged because of float rounding.
_REPORT_TOLERANCE = 1e-9


def _joint_vector(value: object, count: int, name: str) -> np.ndarray:
    """`value` as a float vector of `count` joints; anything else is a ValueError naming `name`."""
    try:
        out = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be {count} joint values: {exc}") from exc
    if out.shape != (count,):
        raise ValueError(f"{name} must be {count} joint values (shape ({count},)), "
                         f"got shape {out.shape}")
    return out


@dataclass(frozen=True, eq=False)
class CommandLimits:
    """What a published command may do, per joint.

    lower, upper: position limits (rad), already including any safety margin.
    max_velocity: rad/s; max_acceleration: rad/s^2 (a scalar applies to every joint).
    path_tolerance: rad; a measured joint further than this from the previous command means the
    command no longer describes the arm (see :meth:`CommandFilter.off_path`); inf: never.
    """

    lower: np.ndarray
    upper: np.ndarray
    max_velocity: np.ndarray
    max_acceleration: np.ndarray
    path_tolerance: float = math.inf

    def __post_init__(self) -> None:
        lower = np.array(self.lower, dtype=np.float64)
        if lower.ndim != 1 or lower.size == 0:
            raise ValueError(f"lower must be a non-empty vector, got shape {lower.shape}")
        count = lower.size
        values = {"lower": lower}
        for name in ("upper", "max_velocity", "max_acceleration"):
            value = np.array(getattr(self, name), dtype=np.float64)
            if name != "upper" and value.ndim == 0:
                value = np.full(count, float(value))
            if value.shape != (count,):
                raise ValueError(f"{name} must have shape ({count},) like lower, "
                                 f"got {value.shape}")
            values[name] = value
        for name, value in values.items():
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{name} must be finite, got {value}")
            if name.startswith("max_") and not np.all(value > 0):
                raise ValueError(f"{name} must be positive, got {value}")
        if not np.all(values["lower"] <= values["upper"]):
            raise ValueError(f"lower must not exceed upper, got lower {values['lower']} and "
                             f"upper {values['upper']}")
        for name, value in values.items():
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        tolerance = float(self.path_tolerance)
        if not tolerance > 0.0:  # also NaN
            raise ValueError(f"path_tolerance must be > 0 (rad, inf: never), got {tolerance}")
        object.__setattr__(self, "path_tolerance", tolerance)

    @classmethod
    def from_robot(cls, robot: Robot, velocity_scale: float | None = None,
                   margin: float | None = None) -> CommandLimits:
        """The arm's URDF limits, shrunk by `margin` and scaled by `velocity_scale`.

        Defaults come from the robot config (position_margin, velocity_scale,
        acceleration_limit). Neither may loosen the URDF: this is the safety layer.
        """
        scale = robot.config.velocity_scale if velocity_scale is None else float(velocity_scale)
        if not (math.isfinite(scale) and 0.0 < scale <= 1.0):
            raise ValueError(f"velocity_scale must be in (0, 1], got {scale}")
        if margin is not None and not (math.isfinite(margin) and margin >= 0.0):
            raise ValueError(f"margin must be a finite number >= 0, got {margin}")
        lower, upper = robot.limits_with_margin(margin)
        tolerance = robot.config.path_tolerance
        return cls(lower=lower, upper=upper,
                   max_velocity=scale * np.asarray(robot.velocity_limits, dtype=np.float64),
                   max_acceleration=np.full(robot.dof, float(robot.config.acceleration_limit)),
                   path_tolerance=tolerance if tolerance > 0 else math.inf)

    @property
    def dof(self) -> int:
        return int(self.lower.size)


@dataclass(frozen=True, eq=False)
class FilterResult:
    """One filtered command. clipped: some limit changed the request; reasons say which."""

    command: np.ndarray
    held: bool
    clipped: bool
    reasons: tuple[str, ...]


class CommandFilter:
    """Turns planner targets into absolute position commands that are always safe to publish.

    Works in discrete time on its own previous commands c: the step s_t = c_t - c_{t-1} obeys
    |s_t| <= max_velocity * period, |s_t - s_{t-1}| <= max_acceleration * period^2 and keeps
    c_t inside the limits. Because the acceleration is bounded, a step towards a limit is also
    capped so that braking at full deceleration from it still stops at or before the limit; this
    keeps all three bounds satisfiable together, forever, whatever the targets are.

    The filter integrates from its own previous command, not from the measured position, so a
    noisy or lagging joint state can never make the command jump. Call :meth:`reset` whenever
    control is (re)taken: at start, after an e-stop release, after a controller switch.

    Starting outside the limits: :meth:`reset` takes the measured position as it is (clipping it
    would be a jump the velocity limit forbids). A joint outside its limits may then only move
    back towards them: its bound on the outside is its previous command, so it never moves
    further out, and once inside it stays inside.

    Holding: :meth:`hold` (and any step whose target or measured position is not finite) is a
    controlled stop: the command keeps decelerating at the acceleration limit until its step is
    zero, then stays put. It therefore obeys every limit (stopping immediately would break the
    acceleration limit when moving faster than max_acceleration * period per step). The one
    exception is physical: the hold is a hold of the command, so an arm lagging behind its
    command still travels to it (at most the braking distance beyond the last command).
    """

    def __init__(self, limits: CommandLimits, period: float) -> None:
        if not (math.isfinite(period) and period > 0.0):
            raise ValueError(f"period must be a finite number > 0 (s), got {period}")
        self.limits = limits
        self.period = float(period)
        self._max_step = limits.max_velocity * self.period
        self._max_change = limits.max_acceleration * self.period ** 2
        # Beyond this distance to a bound the braking constraint cannot bind (the velocity limit
        # does first); capping at it keeps the arithmetic far from overflow.
        self._distance_cap = 2.0 * (self._max_step + self._max_step ** 2 / self._max_change)
        self._command: np.ndarray | None = None
        self._step = np.zeros(limits.dof)

    @property
    def dof(self) -> int:
        return self.limits.dof

    @property
    def last_command(self) -> np.ndarray | None:
        """The previous command (a copy), or None before :meth:`reset`."""
        return None if self._command is None else self._command.copy()

    @property
    def velocity(self) -> np.ndarray:
        """Velocity of the previous command step (rad/s)."""
        return self._step / self.period

    def reset(self, q_measured: object) -> None:
        """Start from the measured position at rest. A non-finite measurement is a ValueError:
        there is no command to fall back on yet."""
        q = _joint_vector(q_measured, self.dof, "q_measured")
        if not np.all(np.isfinite(q)):
            raise ValueError(f"reset needs a finite measured position, got {q}")
        self._command = q
        self._step = np.zeros(self.dof)

    def off_path(self, q_measured: object) -> bool:
        """Whether a joint is further than the path tolerance from the previous command.

        The filter integrates from its own commands, so after something else moved the arm (a
        simulator reset between tasks, hand guiding, a collision) every following command would
        first steer the arm back to where it was. Callers restart control (:meth:`reset`) when
        this is true. False before the first command and for a non-finite measurement (that one
        is a hold, see :meth:`filter`).
        """
        q = _joint_vector(q_measured, self.dof, "q_measured")
        if self._command is None or not np.all(np.isfinite(q)):
            return False
        return bool(np.max(np.abs(q - self._command)) > self.limits.path_tolerance)

    def out_of_step(self, q_measured: object) -> bool:
        """Whether a joint is further from the previous command than one step at the velocity
        limit: holding that command would drive the arm there faster than allowed. (The arm
        follows within a step in normal motion; this happens when something else moved it.)
        False before the first command and for a non-finite measurement."""
        q = _joint_vector(q_measured, self.dof, "q_measured")
        if self._command is None or not np.all(np.isfinite(q)):
            return False
        return bool(np.any(np.abs(q - self._command) > self._max_step))

    def filter(self, target: object, q_measured: object) -> FilterResult:
        """The safe command closest to `target` this step (absolute joint positions, rad).

        A target with any non-finite element, or a non-finite measured position (a corrupt joint
        state: the arm's real state is unknown), turns the step into a hold of the last command.
        A wrong-shaped target or measurement is a ValueError. Called before :meth:`reset`, it
        resets from `q_measured` first (a ValueError if that is not finite).
        """
        goal = _joint_vector(target, self.dof, "target")
        q = self._start(q_measured)
        reasons = []
        if not np.all(np.isfinite(goal)):
            reasons.append("non-finite target")
        if not np.all(np.isfinite(q)):
            reasons.append("non-finite measured position")
        if reasons:
            return self._hold(tuple(reasons))
        previous, step = self._command, self._step
        low, high = self._position_bounds()
        up = self._braking_step(high - previous)
        down = self._braking_step(previous - low)
        step_high = np.minimum(np.minimum(self._max_step, step + self._max_change), up)
        step_low = np.maximum(np.maximum(-self._max_step, step - self._max_change), -down)
        wanted = goal - previous
        new_step = np.minimum(np.maximum(wanted, step_low), step_high)
        # Rounding can leave an empty interval right at a bound; braking is always admissible.
        new_step = np.where(step_low > step_high, self._braking(step), new_step)

        tol = _REPORT_TOLERANCE
        outside = (goal < low - tol) | (goal > high + tol)
        if np.any(outside):
            reasons.append("position limit")
        if np.any(np.abs(wanted) > self._max_step + tol):
            reasons.append("velocity limit")
        if np.any(np.abs(wanted - step) > self._max_change + tol):
            reasons.append("acceleration limit")
        if np.any(~outside & ((wanted > up + tol) | (wanted < -down - tol))):
            reasons.append("braking distance")
        command = self._advance(new_step)
        return FilterResult(command, held=False, clipped=bool(reasons), reasons=tuple(reasons))

    def hold(self, q_measured: object, reason: str = "hold") -> FilterResult:
        """A controlled stop of the command (see the class docstring); safe to call every cycle.

        `q_measured` is only used to start the filter if it was never reset; `reason` ends up in
        the result (e.g. "watchdog", "e-stop").
        """
        self._start(q_measured)
        return self._hold((reason,))

    # -- internals ----------------------------------------------------------------------------

    def _start(self, q_measured: object) -> np.ndarray:
        q = _joint_vector(q_measured, self.dof, "q_measured")
        if self._command is None:
            self.reset(q)
        return q

    def _hold(self, reasons: tuple[str, ...]) -> FilterResult:
        command = self._advance(self._braking(self._step))
        return FilterResult(command, held=True, clipped=False, reasons=reasons)

    def _advance(self, step: np.ndarray) -> np.ndarray:
        previous = self._command
        low, high = self._position_bounds()
        command = np.clip(previous + step, low, high)
        self._step = command - previous
        self._command = command
        return command.copy()

    def _position_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The limits, widened to the previous command where it is outside them (never further
        out than that: an arm outside its limits may only move back in)."""
        previous = self._command
        return (np.minimum(self.limits.lower, previous), np.maximum(self.limits.upper, previous))

    def _braking(self, step: np.ndarray) -> np.ndarray:
        """The next step of a full-deceleration stop."""
        return np.sign(step) * np.maximum(np.abs(step) - self._max_change, 0.0)

    def _braking_step(self, distance: np.ndarray) -> np.ndarray:
        """Largest step s >= 0 towards a bound `distance` away from which a full-deceleration
        stop (s - a, s - 2a, ..., 0 with a = max_acceleration * period^2) ends at or before it.

        Travel including the step s = m*a + r (0 <= r < a) is (m+1)*s - a*m*(m+1)/2, which is
        increasing and piecewise linear in s; this inverts it in closed form.
        """
        a = self._max_change
        x = np.minimum(np.maximum(distance, 0.0), self._distance_cap)
        m = np.floor((np.sqrt(1.0 + 8.0 * x / a) - 1.0) / 2.0)
        # Correct the float estimate of m: a*m*(m+1)/2 <= x < a*(m+1)*(m+2)/2.
        m = np.where(a * (m + 1) * (m + 2) / 2 <= x, m + 1, m)
        m = np.maximum(np.where(a * m * (m + 1) / 2 > x, m - 1, m), 0.0)
        return x / (m + 1) + a * m / 2


@dataclass(frozen=True)
class WatchdogStatus:
    """ok: fresh data from every watched source (and not latched). stale: which are not."""

    ok: bool
    stale: tuple[str, ...]
    message: str
    latched: bool


class Watchdog:
    """Trips when camera images or joint states stop arriving, so the node holds the arm.

    A source is stale before its first message, when it has been silent for longer than its
    timeout, and when its last message is newer than `now` (the clock went backwards; stale is
    the safe reading). A timeout of None leaves that source unwatched.

    With resume_on_fresh_data False a trip latches until :meth:`reset`; the latch arms only after
    the first healthy check, so start-up waits for data instead of latching.
    """

    SOURCES = ("camera", "joint_states")

    def __init__(self, camera_timeout: float | None = 0.2,
                 joint_state_timeout: float | None = 0.2,
                 resume_on_fresh_data: bool = True) -> None:
        self._timeouts: dict[str, float | None] = {}
        for name, timeout in zip(self.SOURCES, (camera_timeout, joint_state_timeout)):
            if timeout is not None and not (math.isfinite(timeout) and timeout > 0.0):
                raise ValueError(f"{name} timeout must be a finite number > 0 (s) or None, "
                                 f"got {timeout}")
            self._timeouts[name] = None if timeout is None else float(timeout)
        self.resume_on_fresh_data = resume_on_fresh_data
        self._last: dict[str, float | None] = dict.fromkeys(self.SOURCES)
        self._armed = False  # has been healthy at least once since the last reset
        self._latched_message = ""
        self.trips = 0  # healthy -> stale transitions, for diagnostics

    def feed_camera(self, stamp_now: float) -> None:
        """An image arrived at `stamp_now` (the clock `check` is given)."""
        self._feed("camera", stamp_now)

    def feed_joint_states(self, now: float) -> None:
        """A joint state arrived at `now`."""
        self._feed("joint_states", now)

    def reset(self) -> None:
        """Clear a latched trip; data already received still counts."""
        self._latched_message = ""
        self._armed = False

    def is_fresh(self, name: str, now: float) -> bool:
        """Whether source `name` ("camera", "joint_states") had a message within its timeout at
        `now` (an unwatched source: within any time). Counts no trip, latches nothing."""
        timeout, last = self._timeouts[name], self._last[name]
        if last is None:
            return False
        age = now - last
        return math.isfinite(age) and 0.0 <= age and (timeout is None or age <= timeout)

    def check(self, now: float) -> WatchdogStatus:
        stale, parts = [], []
        for name in self.SOURCES:
            timeout, last = self._timeouts[name], self._last[name]
            if timeout is None:
                continue
            if last is None:
                stale.append(name)
                parts.append(f"no {name} message yet")
                continue
            age = now - last
            if not math.isfinite(age):
                stale.append(name)
                parts.append(f"{name}: check time {now} is not finite")
            elif age < 0.0:
                stale.append(name)
                parts.append(f"{name} last message is {-age:.3f} s in the future "
                             "(clock went backwards)")
            elif age > timeout:
                stale.append(name)
                parts.append(f"{name} silent for {age:.3f} s (timeout {timeout:.3f} s)")
        message = "; ".join(parts)
        if stale and self._armed:
            self.trips += 1
            self._armed = False
            if not self.resume_on_fresh_data:
                self._latched_message = message
        if self._latched_message:
            latched_message = f"latched ({self._latched_message}); reset() to resume"
            return WatchdogStatus(False, tuple(stale),
                                  f"{message}; {latched_message}" if stale else latched_message,
                                  latched=True)
        if not stale:
            self._armed = True
            return WatchdogStatus(True, (), "ok", latched=False)
        return WatchdogStatus(False, tuple(stale), message, latched=False)

    def _feed(self, name: str, now: float) -> None:
        # A non-finite time would make the age NaN, and NaN > timeout is False: never fresh.
        if math.isfinite(now):
            self._last[name] = float(now)


class EStopLatch:
    """An emergency stop that stays engaged until explicitly released.

    update(True) engages; only update(False) releases. Anything else (a malformed message)
    engages: a stop signal that cannot be read is treated as a stop.
    """

    def __init__(self) -> None:
        self._reason = ""

    @property
    def engaged(self) -> bool:
        return bool(self._reason)

    @property
    def reason(self) -> str:
        """Why it is engaged (the first cause, kept until release); "" when released."""
        return self._reason

    def engage(self, reason: str = "e-stop") -> None:
        if not self._reason:
            self._reason = reason or "e-stop"

    def release(self) -> None:
        self._reason = ""

    def update(self, msg_value: object) -> bool:
        """Apply an e-stop message's value; returns whether the stop is engaged."""
        if isinstance(msg_value, (bool, np.bool_)):
            if msg_value:
                self.engage("e-stop message")
            else:
                self.release()
        else:
            self.engage(f"malformed e-stop message {msg_value!r}")
        return self.engaged


class ControlClock:
    """Measures control-cycle time and says when a cycle must be skipped.

    tick(now) returns the seconds since the previous tick, or None to skip the cycle: on the
    first tick, when time did not advance or went backwards, and when it jumped by more than
    max_jump_periods periods (e.g. a sim time reset). After a skip the next tick measures from
    the time of the skipped one, so one jump costs exactly one cycle.
    """

    def __init__(self, period: float, max_jump_periods: float = 10.0) -> None:
        if not (math.isfinite(period) and period > 0.0):
            raise ValueError(f"period must be a finite number > 0 (s), got {period}")
        if not (math.isfinite(max_jump_periods) and max_jump_periods >= 1.0):
            raise ValueError(f"max_jump_periods must be a finite number >= 1, "
                             f"got {max_jump_periods}")
        self.period = float(period)
        self.max_jump_periods = float(max_jump_periods)
        self._last: float | None = None
        self.skip_reason = ""  # why the last tick returned None, for logs

    def reset(self) -> None:
        self._last = None

    @property
    def started(self) -> bool:
        """Whether a tick with a finite time has been seen since the last reset."""
        return self._last is not None

    def tick(self, now: float) -> float | None:
        last = self._last
        if not math.isfinite(now):
            self._last = None  # nothing to measure the next tick from
            self.skip_reason = f"time {now} is not finite"
            return None
        self._last = float(now)
        if last is None:
            self.skip_reason = "first tick"
            return None
        dt = now - last
        if dt <= 0.0:
            self.skip_reason = f"time did not advance (dt {dt:.6f} s)"
            return None
        if dt > self.max_jump_periods * self.period:
            self.skip_reason = (f"clock jumped {dt:.3f} s (more than {self.max_jump_periods:g} "
                                f"periods of {self.period:g} s)")
            return None
        self.skip_reason = ""
        return dt


@dataclass
class SafetyCounters:
    """What the safety layer did, reported in diagnostics."""

    dropped_messages: int = 0
    non_finite_targets: int = 0
    clipped_commands: int = 0
    holds: int = 0
    watchdog_trips: int = 0
    skipped_cycles: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


__all__ = [
    "CommandFilter", "CommandLimits", "ControlClock", "EStopLatch", "FilterResult",
    "SafetyCounters", "Watchdog", "WatchdogStatus",
]


# --------------------------------------------------------------------------------------------
# Surprise: is the world still doing what the model imagined?

SURPRISE_OK = "ok"
SURPRISE_CAMERA = "camera_distrusted"
SURPRISE_REGROUND = "reground"
SURPRISE_HOLD = "hold"


@dataclass(frozen=True, eq=False)
class SurpriseThresholds:
    """Calibrated on held-out data (meta.json "surprise"); scores are mean squared residuals in
    units of the per-dimension residual spread, so 1.0 is a typical nominal step."""

    scale_full: np.ndarray  # (D,) residual spread of full encodings
    scale_proprio: np.ndarray  # (D,) residual spread of joint-state-only encodings
    reground: float  # full-encoding score above which the plan is re-grounded
    hold: float  # score above which, sustained, the arm holds
    proprio_reground: float  # joint-state-only score that still counts as expected
    tracking: TrackingModel | None = None  # the position loop's response (pushes, collisions)
    tracking_reground: float = math.inf
    tracking_hold: float = math.inf

    @classmethod
    def from_meta(cls, surprise: dict) -> SurpriseThresholds:
        try:
            section = surprise.get("tracking")
            extra = {} if not section else {
                "tracking": TrackingModel.from_meta(section),
                "tracking_reground": float(section["reground"]),
                "tracking_hold": float(section["hold"])}
            return cls(np.asarray(surprise["scale_full"], dtype=np.float64),
                       np.asarray(surprise["scale_proprio"], dtype=np.float64),
                       float(surprise["reground"]), float(surprise["hold"]),
                       float(surprise["proprio_reground"]), **extra)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"meta.json 'surprise' is incomplete ({exc}); re-export the model "
                             "with data so it can be calibrated") from exc


@dataclass(frozen=True)
class SurpriseReport:
    score: float  # full encoding vs prediction
    proprio_score: float  # joint-state-only encoding vs prediction
    decision: str  # ok | camera_distrusted | reground | hold
    consecutive: int  # steps in a row above the hold threshold
    tracking_score: float = math.nan  # measured joints vs the position loop's expected response

    @property
    def flagged(self) -> bool:
        return self.decision != SURPRISE_OK


class SurpriseMonitor:
    """Decides, per control step, whether the model's belief can be kept.

    * the joints did not move as the position loop answers the last command (a push, a
      collision, a blocked joint): the world changed: re-ground;
    * both encodings agree with the prediction: ok;
    * the full encoding disagrees but joint state alone agrees: the camera is lying (dropout,
      occlusion, glare): keep the belief from joint state and memory, do not trust the image;
      unless the image alone shows the arm where the joints are (`camera_error` within
      `camera_check`): then the camera works and the world did not go as imagined (an object
      moved otherwise), so re-ground. Without that check an imagination gone wrong would
      blame the camera on every step after and never look again;
    * both disagree: the world changed: re-ground on the fresh observation and drop the warm
      start; if either check stays above its hold threshold, hold the arm.
    """

    def __init__(self, thresholds: SurpriseThresholds, reground_scale: float = 1.0,
                 hold_scale: float = 1.0, hold_after: int = 3, tracking: bool = True,
                 camera_check: float = 0.0) -> None:
        self.t = thresholds
        self.camera_check = camera_check
        self.reground = thresholds.reground * reground_scale
        self.hold = thresholds.hold * hold_scale
        self.proprio_reground = thresholds.proprio_reground * reground_scale
        self.tracking = thresholds.tracking if tracking else None
        self.tracking_reground = thresholds.tracking_reground * reground_scale
        self.tracking_hold = thresholds.tracking_hold * hold_scale
        self.hold_after = hold_after
        self._consecutive = 0

    def reset(self) -> None:
        self._consecutive = 0

    @staticmethod
    def score(residual: np.ndarray, scale: np.ndarray) -> float:
        value = float(np.mean((np.asarray(residual, dtype=np.float64) / scale) ** 2))
        return value if math.isfinite(value) else math.inf

    def tracking_score(self, qpos: np.ndarray, qvel: np.ndarray, delta: np.ndarray,
                       measured: np.ndarray, tool_height: float) -> float:
        """Measured joints against the position loop's answer to the command `qpos + delta`;
        nan where it is not checked (no model, or the tool low enough to touch the floor)."""
        if self.tracking is None or tool_height < self.tracking.min_tool_height:
            return math.nan
        value = float(self.tracking.score(qpos, qvel, delta, measured))
        return value if math.isfinite(value) else math.inf

    def assess(self, predicted: np.ndarray, full: np.ndarray, proprio_only: np.ndarray,
               tracking_score: float = math.nan, camera_error: float = math.nan
               ) -> SurpriseReport:
        """camera_error: mean |joints read from the image alone - measured joints| (rad); nan
        where not checked."""
        s_full = self.score(np.asarray(full) - predicted, self.t.scale_full)
        s_prop = self.score(np.asarray(proprio_only) - predicted, self.t.scale_proprio)
        pushed = tracking_score > self.tracking_reground  # False for nan
        camera_works = self.camera_check > 0 and camera_error <= self.camera_check  # not nan
        if not pushed and s_full <= self.reground:
            decision = SURPRISE_OK
            self._consecutive = 0
        elif not pushed and s_prop <= self.proprio_reground and not camera_works:
            decision = SURPRISE_CAMERA
            self._consecutive = 0
        else:
            sustained = s_prop > self.hold or tracking_score > self.tracking_hold
            self._consecutive = self._consecutive + 1 if sustained else 0
            decision = SURPRISE_HOLD if self._consecutive >= self.hold_after else \
                SURPRISE_REGROUND
        return SurpriseReport(s_full, s_prop, decision, self._consecutive, tracking_score)

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
"""The safety layer holds its guarantees whatever the planner and the sensors send."""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from world_model_planner.core.robot import Robot
from world_model_planner.core.safety import (CommandFilter, CommandLimits, ControlClock,
                                             EStopLatch, SafetyCounters, Watchdog)

PERIOD = 0.1
UPPER = np.array([2.8, 1.6, 2.5, 2.0])
LIMITS = CommandLimits(lower=-UPPER, upper=UPPER,
                       max_velocity=np.array([2.0, 2.0, 2.5, 3.0]) * 0.6, max_acceleration=8.0)
MAX_STEP = LIMITS.max_velocity * PERIOD
MAX_CHANGE = LIMITS.max_acceleration * PERIOD ** 2
TOL = 1e-9
NAN, INF = math.nan, math.inf


def violations(start: np.ndarray, commands: list[np.ndarray]) -> list[str]:
    """Every broken guarantee in a command sequence that began at rest at `start`."""
    out = []
    before, previous = start, start
    for t, command in enumerate(commands):
        if not np.all(np.isfinite(command)):
            out.append(f"step {t}: non-finite command {command}")
            continue
        # Inside the limits, or (started outside) never further out than the previous command.
        if np.any(command < np.minimum(LIMITS.lower, previous)):
            out.append(f"step {t}: {command} below the lower bound (previous {previous})")
        if np.any(command > np.maximum(LIMITS.upper, previous)):
            out.append(f"step {t}: {command} above the upper bound (previous {previous})")
        step, last_step = command - previous, previous - before
        if np.any(np.abs(step) > MAX_STEP + TOL):
            out.append(f"step {t}: velocity {step / PERIOD}")
        if np.any(np.abs(step - last_step) > MAX_CHANGE + TOL):
            out.append(f"step {t}: acceleration {(step - last_step) / PERIOD ** 2}")
        before, previous = previous, command
    return out


def in_limits(fractions: np.ndarray) -> np.ndarray:
    return LIMITS.lower + np.asarray(fractions) * (LIMITS.upper - LIMITS.lower)


# -- strategies ---------------------------------------------------------------------------------

special = st.sampled_from([NAN, INF, -INF, 1e300, -1e300, 0.0, 3.0, -3.0])
element = st.one_of(st.floats(-4.0, 4.0), st.floats(-4.0, 4.0), special,
                    st.floats(allow_nan=True, allow_infinity=True))
joint_arrays = hnp.arrays(np.float64, 4, elements=element)
# Whole targets that the planner may repeat for many steps: these drive the arm at full speed
# into its limits, where braking matters.
corners = st.sampled_from([UPPER * 1.5, -UPPER * 1.5, UPPER, -UPPER, np.zeros(4),
                           np.array([3.0, -2.0, 3.0, -3.0]), np.array([-3.0, 2.0, -3.0, 3.0])])
targets = st.one_of(joint_arrays, corners)
fractions = hnp.arrays(np.float64, 4, elements=st.floats(0.0, 1.0))
measured = st.one_of(fractions.map(in_limits), st.just(np.full(4, NAN)),
                     hnp.arrays(np.float64, 4, elements=st.floats(-3.0, 3.0)))
# (hold instead of filter, target, measured position, how many steps to repeat the call)
calls = st.tuples(st.sampled_from([False, False, False, True]), targets, measured,
                  st.integers(1, 12))


def run_calls(filt: CommandFilter, call_list) -> list[np.ndarray]:
    commands = []
    for hold, target, q, repeat in call_list:
        for _ in range(repeat):
            result = filt.hold(q) if hold else filt.filter(target, q)
            commands.append(result.command)
    return commands


# -- CommandFilter --------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(start=fractions.map(in_limits), call_list=st.lists(calls, max_size=30))
def test_filter_never_breaks_a_limit_whatever_the_planner_sends(start, call_list):
    filt = CommandFilter(LIMITS, PERIOD)
    filt.reset(start)
    commands = run_calls(filt, call_list)
    assert violations(start, commands) == []
    for command in commands:
        assert np.all(command >= LIMITS.lower) and np.all(command <= LIMITS.upper)


@settings(max_examples=150, deadline=None)
@given(start=fractions.map(lambda f: UPPER * 1.5 * (2 * f - 1)),
       call_list=st.lists(calls, max_size=20))
def test_starting_outside_the_limits_only_moves_inwards(start, call_list):
    filt = CommandFilter(LIMITS, PERIOD)
    filt.reset(start)
    commands = run_calls(filt, call_list)
    assert violations(start, commands) == []
    previous = start
    for command in commands:
        above, below = previous > LIMITS.upper, previous < LIMITS.lower
        assert np.all(command[above] <= previous[above])
        assert np.all(command[below] >= previous[below])
        # Once inside, a joint stays inside.
        inside = ~above & ~below
        assert np.all(command[inside] >= LIMITS.lower[inside])
        assert np.all(command[inside] <= LIMITS.upper[inside])
        previous = command


def test_starting_outside_comes_back_in_when_asked():
    start = np.array([3.1, -1.9, 0.0, 2.4])
    filt = CommandFilter(LIMITS, PERIOD)
    filt.reset(start)
    assert np.array_equal(filt.last_command, start)  # no jump at reset
    commands = [filt.filter(np.zeros(4), start).command for _ in range(60)]
    assert violations(start, commands) == []
    assert np.allclose(commands[-1], 0.0)


def test_long_random_drive_keeps_every_guarantee():
    rng = np.random.default_rng(7)
    filt = CommandFilter(LIMITS, PERIOD)
    start = in_limits(rng.uniform(size=4))
    filt.reset(start)
    commands, target = [], np.zeros(4)
    for _ in range(20_000):
        draw = rng.uniform()
        if draw < 0.05:
            target = rng.uniform(-4.0, 4.0, size=4)  # a new, often unreachable goal
        elif draw < 0.3:
            target = target + rng.normal(scale=0.3, size=4)
        q = filt.last_command + rng.normal(scale=0.01, size=4)
        if draw > 0.98:
            commands.append(filt.hold(q).command)
        elif draw > 0.96:
            commands.append(filt.filter(np.full(4, NAN), q).command)
        else:
            commands.append(filt.filter(target, q).command)
    assert violations(start, commands) == []


def test_full_speed_into_a_limit_brakes_in_time_and_stops_on_it():
    filt = CommandFilter(LIMITS, PERIOD)
    filt.reset(-UPPER)
    commands = [filt.filter(np.full(4, 1e300), np.zeros(4)).command for _ in range(80)]
    assert violations(-UPPER, commands) == []
    assert np.allclose(commands[-1], UPPER, atol=1e-12)
    assert np.allclose(commands[-1], commands[-2])
    # It did reach full speed on the way.
    steps = np.diff(np.array(commands), axis=0)
    assert np.allclose(steps.max(axis=0), MAX_STEP)


def test_nan_target_holds_and_is_flagged():
    filt = CommandFilter(LIMITS, PERIOD)
    filt.reset(np.zeros(4))
    for _ in range(5):
        moving = filt.filter(UPPER, np.zeros(4))
    assert not moving.held and moving.clipped
    result = filt.filter(np.array([0.1, NAN, 0.0, 0.0]), np.zeros(4))
    assert result.held and "non-finite target" in result.reasons
    assert np.all(np.isfinite(result.command))
    # A hold is a controlled stop: the command settles within a few steps and stays put.
    for _ in range(5):
        held = filt.filter(np.full(4, INF), np.zeros(4))
    assert held.held and np.array_equal(filt.filter(np.full(4, -INF), np.zeros(4)).command,
                                        held.command)


def test_hold_is_a_controlled_stop_within_the_limits():
    filt = CommandFilter(LIMITS, PERIOD)
    start = np.zeros(4)
    filt.reset(start)
    commands = [filt.filter(UPPER, start).command for _ in range(4)]
    holds = [filt.hold(start, reason="watchdog") for _ in range(6)]
    assert all(h.held and h.reasons == ("watchdog",) for h in holds)
    commands += [h.command for h in holds]
    assert violations(start, commands) == []
    stop_steps = int(np.ceil(MAX_STEP.max() / MAX_CHANGE.min()))
    assert np.array_equal(holds[stop_steps].command, holds[-1].command)


def test_non_finite_measurement_holds_on_the_last_command():
    filt = CommandFilter(LIMITS, PERIOD)
    filt.reset(np.zeros(4))
    first = filt.filter(np.full(4, 0.01), np.zeros(4))
    result = filt.filter(np.full(4, 1.0), np.array([0.0, NAN, 0.0, 0.0]))
    assert result.held and result.reasons == ("non-finite measured position",)
    assert np.allclose(result.command, first.command)  # stopping from a step below the limit


def test_request_within_every_limit_passes_unchanged_and_unflagged():
    filt = CommandFilter(LIMITS, PERIOD)
    filt.reset(np.zeros(4))
    target = np.full(4, 0.05)
    result = filt.filter(target, np.zeros(4))
    assert np.array_equal(result.command, target)
    assert not result.clipped and not result.held and result.reasons == ()
    fast = filt.filter(np.full(4, 3.0), np.zeros(4))
    assert fast.clipped and {"position limit", "velocity limit"} <= set(fast.reasons)


def test_wrong_shape_is_an_error_naming_the_joint_count():
    filt = CommandFilter(LIMITS, PERIOD)
    filt.reset(np.zeros(4))
    with pytest.raises(ValueError, match="4 joint"):
        filt.filter(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="4 joint"):
        filt.filter(np.zeros((2, 4)), np.zeros(4))
    with pytest.raises(ValueError, match="4 joint"):
        filt.filter(["a", "b", "c", "d"], np.zeros(4))
    with pytest.raises(ValueError, match="q_measured"):
        filt.filter(np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="finite"):
        CommandFilter(LIMITS, PERIOD).reset(np.full(4, NAN))
    with pytest.raises(ValueError, match="period"):
        CommandFilter(LIMITS, 0.0)


@pytest.mark.parametrize("field, kwargs", [
    ("upper", dict(upper=np.ones(3))),
    ("lower", dict(lower=np.array([NAN, -1.0, -1.0, -1.0]))),
    ("max_velocity", dict(max_velocity=np.array([1.0, 1.0, -1.0, 1.0]))),
    ("max_acceleration", dict(max_acceleration=0.0)),
    ("max_acceleration", dict(max_acceleration=np.ones(2))),
    ("lower must not exceed upper", dict(lower=np.full(4, 2.0))),
    ("path_tolerance", dict(path_tolerance=0.0)),
    ("path_tolerance", dict(path_tolerance=NAN)),
])
def test_command_limits_are_validated(field, kwargs):
    args = dict(lower=-np.ones(4), upper=np.ones(4), max_velocity=np.ones(4),
                max_acceleration=np.ones(4))
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        CommandLimits(**args)


def test_limits_from_the_package_robot_stay_inside_its_urdf():
    robot = Robot.load()
    limits = CommandLimits.from_robot(robot)
    assert limits.dof == robot.dof
    assert np.all(limits.lower > robot.lower) and np.all(limits.upper < robot.upper)
    assert np.allclose(limits.lower, robot.lower + robot.config.position_margin)
    assert np.all(limits.max_velocity < robot.velocity_limits)
    assert np.allclose(limits.max_velocity, robot.config.velocity_scale * robot.velocity_limits)
    assert np.all(limits.max_acceleration == robot.config.acceleration_limit)
    wider = CommandLimits.from_robot(robot, velocity_scale=1.0, margin=0.0)
    assert np.array_equal(wider.lower, robot.lower) and np.array_equal(wider.upper, robot.upper)
    with pytest.raises(ValueError, match="velocity_scale"):
        CommandLimits.from_robot(robot, velocity_scale=1.5)
    with pytest.raises(ValueError, match="margin"):
        CommandLimits.from_robot(robot, margin=-0.1)


def test_an_arm_far_from_the_last_command_is_off_path_until_the_filter_restarts():
    limits = CommandLimits(lower=-UPPER, upper=UPPER, max_velocity=LIMITS.max_velocity,
                           max_acceleration=8.0, path_tolerance=0.3)
    filt = CommandFilter(limits, PERIOD)
    q = np.zeros(4)
    assert not filt.off_path(q + 5.0), "nothing was commanded yet"
    command = filt.filter(q + 1.0, q).command
    assert not filt.off_path(command + 0.29), "a servo lagging its command is on the path"
    moved = command + np.array([0.0, 0.0, -0.31, 0.0])
    assert filt.off_path(moved)
    assert not filt.off_path(np.full(4, NAN)), "a corrupt reading is the filter's hold, not this"
    filt.reset(moved)
    assert not filt.off_path(moved)
    # the default never restarts: the filter's guarantees alone hold
    assert not CommandFilter(LIMITS, PERIOD).off_path(np.zeros(4)) and LIMITS.path_tolerance == INF
    robot = Robot.load()
    assert CommandLimits.from_robot(robot).path_tolerance == robot.config.path_tolerance > 0


def test_an_arm_more_than_one_velocity_step_from_the_command_is_out_of_step():
    filt = CommandFilter(LIMITS, PERIOD)
    q = np.zeros(4)
    assert not filt.out_of_step(q + 5.0), "nothing was commanded yet"
    command = filt.filter(q + 1.0, q).command
    assert not filt.out_of_step(command - 0.99 * MAX_STEP), "following within one step"
    nudged = command.copy()
    nudged[2] += 1.01 * MAX_STEP[2]  # one joint is enough
    assert filt.out_of_step(nudged)
    assert not filt.out_of_step(np.full(4, NAN))


# -- Watchdog, e-stop, clock, counters ------------------------------------------------------


def test_watchdog_trips_on_camera_and_joint_state_silence_and_recovers():
    dog = Watchdog(camera_timeout=0.2, joint_state_timeout=2 * PERIOD)
    status = dog.check(0.0)
    assert not status.ok and set(status.stale) == {"camera", "joint_states"}
    dog.feed_camera(10.0)
    dog.feed_joint_states(10.0)
    assert dog.check(10.19).ok
    dog.feed_joint_states(10.15)
    status = dog.check(10.21)
    assert not status.ok and status.stale == ("camera",) and not status.latched
    assert "camera" in status.message and "0.210" in status.message
    dog.feed_camera(10.25)
    assert dog.check(10.3).ok
    status = dog.check(10.36)  # joint states silent for 0.21 s: more than two periods
    assert status.stale == ("joint_states",) and "joint_states" in status.message
    dog.feed_joint_states(10.4)
    assert dog.check(10.41).ok
    assert dog.trips == 2


def test_watchdog_treats_time_going_backwards_and_nan_as_stale():
    dog = Watchdog()
    dog.feed_camera(5.0)
    dog.feed_joint_states(5.0)
    assert not dog.check(4.0).ok
    dog.feed_camera(NAN)  # ignored: a NaN time must not look fresh forever
    assert dog.check(5.1).ok
    assert not dog.check(NAN).ok


def test_watchdog_says_whether_one_source_is_fresh_without_tripping():
    dog = Watchdog(camera_timeout=0.2, joint_state_timeout=0.2)
    assert not dog.is_fresh("joint_states", 0.0), "nothing received yet"
    dog.feed_joint_states(1.0)
    assert dog.is_fresh("joint_states", 1.2) and not dog.is_fresh("joint_states", 1.21)
    assert not dog.is_fresh("joint_states", 0.9), "a message from the future is not fresh"
    assert not dog.is_fresh("joint_states", NAN)
    assert not dog.is_fresh("camera", 1.0)
    assert dog.trips == 0
    assert Watchdog(camera_timeout=None).is_fresh("camera", 1.0) is False  # never received
    unwatched = Watchdog(camera_timeout=None)
    unwatched.feed_camera(0.0)
    assert unwatched.is_fresh("camera", 100.0)


def test_watchdog_can_latch_until_reset():
    dog = Watchdog(camera_timeout=0.2, joint_state_timeout=0.2, resume_on_fresh_data=False)
    dog.feed_camera(0.0)
    assert not dog.check(0.1).latched  # start-up waits for data instead of latching
    dog.feed_joint_states(0.1)
    assert dog.check(0.15).ok
    status = dog.check(0.5)
    assert not status.ok and status.latched
    dog.feed_camera(0.6)
    dog.feed_joint_states(0.6)
    status = dog.check(0.65)
    assert not status.ok and status.latched and status.stale == ()
    assert "camera" in status.message and "reset" in status.message
    dog.reset()
    assert dog.check(0.7).ok


def test_watchdog_can_leave_a_source_unwatched():
    dog = Watchdog(camera_timeout=None, joint_state_timeout=0.2)
    dog.feed_joint_states(1.0)
    assert dog.check(1.1).ok
    with pytest.raises(ValueError, match="camera"):
        Watchdog(camera_timeout=-1.0)


def test_estop_latches_until_an_explicit_release():
    stop = EStopLatch()
    assert not stop.engaged and stop.reason == ""
    assert stop.update(True) and stop.engaged
    assert stop.update(True)
    stop.engage("operator")  # the first cause is kept
    assert stop.reason == "e-stop message"
    assert not stop.update(False) and stop.reason == ""
    assert stop.update(None) and "malformed" in stop.reason  # unreadable means stop
    assert stop.update(1)
    stop.release()
    assert not stop.engaged
    stop.engage("watchdog")
    assert stop.engaged and stop.reason == "watchdog"


def test_control_clock_skips_bad_and_jumping_time():
    clock = ControlClock(PERIOD, max_jump_periods=10.0)
    assert clock.tick(1.0) is None and clock.skip_reason == "first tick"
    assert clock.tick(1.1) == pytest.approx(0.1)
    assert clock.tick(1.1) is None  # did not advance
    assert clock.tick(1.0) is None  # went backwards
    assert clock.tick(1.1) == pytest.approx(0.1)  # measured from the skipped tick
    assert clock.tick(3.0) is None and "jump" in clock.skip_reason  # 1.9 s > 10 periods
    assert clock.tick(3.1) == pytest.approx(0.1)
    assert clock.tick(0.0) is None  # sim time reset
    assert clock.tick(0.1) == pytest.approx(0.1)
    assert clock.tick(NAN) is None and clock.tick(0.3) is None
    assert clock.tick(0.4) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="period"):
        ControlClock(-0.1)


def test_safety_counters_as_dict():
    counters = SafetyCounters()
    counters.holds += 2
    counters.skipped_cycles += 1
    assert counters.as_dict() == {"dropped_messages": 0, "non_finite_targets": 0,
                                  "clipped_commands": 0, "holds": 2, "watchdog_trips": 0,
                                  "skipped_cycles": 1}

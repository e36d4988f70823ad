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
"""When the planner steps: the freshest camera frame for each tick, the timer when frames stop."""

from __future__ import annotations

import numpy as np
import pytest

from world_model_planner.core.planning.schedule import ControlSchedule

PERIOD = 0.1


def run(schedule: ControlSchedule, frames: list[float], timer_phase: float, until: float
        ) -> list[tuple[float, str]]:
    """Feed frame arrivals and timer ticks in time order; return (time, source) of each step."""
    timers = list(np.arange(timer_phase, until, schedule.timer_period))
    events = sorted([(t, "frame") for t in frames] + [(t, "timer") for t in timers])
    steps = []
    for t, kind in events:
        fire = schedule.on_frame(t) if kind == "frame" else schedule.on_timer(t)
        if fire:
            steps.append((t, kind))
    return steps


def test_a_camera_at_the_control_rate_drives_every_step_from_its_newest_frame():
    # Frames land just after the timer would have fired: a timer would read each one late.
    frames = list(np.arange(0.0, 3.0, PERIOD) + 0.004)
    steps = run(ControlSchedule(PERIOD), frames, timer_phase=0.0, until=3.0)
    assert [t for t, kind in steps if kind == "frame"] == pytest.approx(frames)
    assert [t for t, kind in steps if kind == "timer"] == [0.0]  # before the first frame


def test_a_faster_camera_keeps_the_control_rate():
    frames = list(np.arange(0.0, 10.0, 1 / 30))
    steps = run(ControlSchedule(PERIOD), frames, timer_phase=0.05, until=10.0)
    rate = (len(steps) - 1) / (steps[-1][0] - steps[0][0])
    assert rate == pytest.approx(10.0, rel=0.02)
    assert np.diff([t for t, _ in steps]).min() >= 0.5 * PERIOD - 1e-9


def test_jittery_frames_at_the_control_rate_are_not_skipped():
    rng = np.random.default_rng(0)
    frames = list(np.arange(0.0, 5.0, PERIOD) + rng.uniform(-0.01, 0.01, 50))
    steps = run(ControlSchedule(PERIOD), frames, timer_phase=0.03, until=5.0)
    assert [kind for _, kind in steps if _ > frames[0]] == ["frame"] * 49


def test_when_frames_stop_the_timer_keeps_stepping_so_the_watchdog_can_hold():
    schedule = ControlSchedule(PERIOD)
    frames = list(np.arange(0.0, 1.0, PERIOD))
    steps = run(schedule, frames, timer_phase=0.05, until=2.0)
    after = [t for t, kind in steps if t > 0.95]
    assert after and all(kind == "timer" for t, kind in steps if t > 0.95)
    # The tick the first missing frame was due for is served late by a quarter period at most
    # (plus one timer poll), then one step per period.
    assert after[0] - 1.0 <= 0.25 * PERIOD + schedule.timer_period + 1e-9
    assert np.diff(after) == pytest.approx(PERIOD, abs=schedule.timer_period + 1e-9)


def test_a_late_or_dropped_frame_costs_latency_not_a_missed_command():
    frames = [t for t in np.arange(0.0, 3.0, PERIOD) if round(t / PERIOD) % 5 != 3]  # drops
    frames = [t + (0.06 if round(t / PERIOD) % 7 == 2 else 0.0) for t in frames]  # late ones
    schedule = ControlSchedule(PERIOD)
    steps = [t for t, _ in run(schedule, frames, timer_phase=0.001, until=3.0)]
    gaps = np.diff(steps)
    assert gaps.max() <= PERIOD + 0.25 * PERIOD + schedule.timer_period + 1e-9
    assert len(steps) == pytest.approx(30, abs=1)


def test_frames_take_over_again_after_a_gap_and_after_time_goes_back():
    schedule = ControlSchedule(PERIOD)
    frames = [0.0, 0.1, 0.2] + list(np.arange(1.0, 1.5, PERIOD))
    steps = run(schedule, frames, timer_phase=0.05, until=1.5)
    assert [kind for t, kind in steps if t >= 1.0] == ["frame"] * 5
    assert schedule.on_frame(0.0)  # a sim reset: time starts again


def test_timer_mode_ignores_frames():
    steps = run(ControlSchedule(PERIOD, on_image=False), list(np.arange(0.0, 1.0, 0.033)),
                timer_phase=0.0, until=1.0)
    assert all(kind == "timer" for _, kind in steps) and len(steps) == 10


@pytest.mark.parametrize("kwargs", [dict(period=0.0), dict(period=float("nan")),
                                    dict(period=0.1, early=1.0), dict(period=0.1, late=0.0),
                                    dict(period=0.1, late=1.0)])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        ControlSchedule(**kwargs)

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
"""When the planner runs a control step: on camera frames, with a timer behind them.

A free-running control timer beside a camera at the same rate reads every frame late by a
fixed phase; in simulation, where both tick on /clock, the timer fires just before the frame of
the same instant arrives, so every plan starts from a frame one full period old while the joint
state is fresh. The world model was trained on image and joint state taken together, and a
stale image costs it most of a period of motion. Stepping on the first frame due for each tick
plans from the newest frame, with the joint state read in the same instant.
"""

from __future__ import annotations

import math


class ControlSchedule:
    """A fixed-rate grid of control ticks, each served by the first camera frame due for it.

    on_frame(now) is True when a frame arriving at `now` should run a step: the first frame at
    or after a tick, or up to `early` periods before it (so a camera running at the control
    rate with jitter is not skipped). The grid advances by one period per step, so the average
    rate is the control rate whatever the camera rate; after a gap the grid restarts from the
    frame. A tick no frame served within `late` periods is served by the timer (polled every
    `timer_period` s) with the newest frame there is: a busy executor or a dropped frame costs
    a little latency, not a missed command, and when the camera goes silent the steps go on so
    the watchdog can hold the arm. With on_image=False the timer alone drives the loop.
    """

    def __init__(self, period: float, *, on_image: bool = True, early: float = 0.5,
                 late: float = 0.25) -> None:
        if not (math.isfinite(period) and period > 0.0):
            raise ValueError(f"period must be a finite number > 0 (s), got {period}")
        if not 0.0 <= early < 1.0:
            raise ValueError(f"early must be in [0, 1) periods, got {early}")
        if not 0.0 < late < 1.0:
            raise ValueError(f"late must be in (0, 1) periods, got {late}")
        self.period = float(period)
        self.on_image = bool(on_image)
        self.early = float(early) * self.period
        self.late = float(late) * self.period
        self.timer_period = self.late / 2.0 if self.on_image else self.period
        self._due: float | None = None
        self._last: float | None = None  # the last step, whatever ran it

    def reset(self) -> None:
        self._due = None
        self._last = None

    def _step(self, now: float, due: float | None) -> bool:
        if due is None or now >= due + self.period:
            due = now  # first step, or a gap: a new grid from here
        self._due = due + self.period
        self._last = now
        return True

    def on_frame(self, now: float) -> bool:
        if not self.on_image or not math.isfinite(now):
            return False
        if self._last is not None and now < self._last:
            self.reset()  # time went backwards (a sim reset): start a new grid
        if self._due is not None:
            if now < self._due - self.early:
                return False
            if self._last is not None and now - self._last < self.period - self.early:
                return False  # a late frame of a tick the timer already served
        return self._step(now, self._due)

    def on_timer(self, now: float) -> bool:
        if not self.on_image:
            return True
        if not math.isfinite(now):
            return False
        if self._last is not None and now < self._last:
            self.reset()
        if self._due is None:  # no frame yet: keep the loop (and its watchdog) going
            if self._last is not None and now - self._last < self.period:
                return False
            self._last = now
            return True
        if now < self._due + self.late:
            return False
        return self._step(now, self._due)

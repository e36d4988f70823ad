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
    frame. on_timer(now) is True when no step ran for `fallback` periods: the camera went
    silent, and the step must still run so the watchdog holds the arm. With on_image=False the
    timer alone drives the loop.
    """

    def __init__(self, period: float, *, on_image: bool = True, early: float = 0.5,
                 fallback: float = 1.5) -> None:
        if not (math.isfinite(period) and period > 0.0):
            raise ValueError(f"period must be a finite number > 0 (s), got {period}")
        if not 0.0 <= early < 1.0:
            raise ValueError(f"early must be in [0, 1) periods, got {early}")
        if not fallback > 1.0:
            raise ValueError(f"fallback must be more than 1 period, got {fallback}")
        self.period = float(period)
        self.on_image = bool(on_image)
        self.early = float(early) * self.period
        self.fallback = float(fallback) * self.period
        self._due: float | None = None
        self._last: float | None = None  # the last frame-driven step

    def reset(self) -> None:
        self._due = None
        self._last = None

    def on_frame(self, now: float) -> bool:
        if not self.on_image or not math.isfinite(now):
            return False
        due = self._due
        if due is not None and now < due - self.early:
            if self._last is not None and now < self._last:
                self.reset()  # time went backwards (a sim reset): start a new grid
            else:
                return False
        due = now if due is None or now >= due + self.period or self._due is None else due
        self._due = due + self.period
        self._last = now
        return True

    def on_timer(self, now: float) -> bool:
        if not self.on_image:
            return True
        if self._last is not None and 0.0 <= now - self._last < self.fallback:
            return False
        self._due = None  # the next frame starts a new grid
        return True

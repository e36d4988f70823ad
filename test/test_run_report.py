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
"""wmp run's report pairs each goal with the goal image it was given and the camera's last frame,
whatever order the three topics deliver them in."""

import numpy as np

from world_model_planner.core.run_report import (GoalFrames, RunLog, goal_strip, run_summary,
                                                 write_run_report)


def _image(value: int) -> np.ndarray:
    return np.full((8, 8, 3), value, np.uint8)


def _result(episode: int, started: float, seconds: float, success: bool) -> dict:
    return {"episode": episode, "started_s": started, "seconds": seconds, "success": success,
            "final_error_m": 0.01}


def test_each_result_gets_its_goal_image_and_the_last_frame_before_it_ended():
    frames = GoalFrames()
    frames.on_goal(0.0, _image(10))
    for t in np.arange(0.1, 2.05, 0.1):
        assert frames.on_frame(round(t, 3), _image(int(round(t * 10)))) == []
    # The result arrives after the frame at its end, which already shows the next goal's start:
    # it pairs at once, with the frame before.
    (first,) = frames.on_result(_result(0, 0.0, 2.0, True))
    assert first.goal[0, 0, 0] == 10 and first.final[0, 0, 0] == 19 and first.success
    # The next goal starts at 2.0; its result arrives before the frame at its end (3.0).
    frames.on_goal(2.0, _image(30))
    for t in (2.1, 2.5, 2.9):
        frames.on_frame(t, _image(int(round(t * 10))))
    assert frames.on_result(_result(1, 2.0, 1.0, False)) == []
    # A frame after the end completes it with the last frame before the end.
    frames.on_goal(3.0, _image(99))
    (second,) = frames.on_frame(3.1, _image(31))
    assert second.goal[0, 0, 0] == 30 and second.final[0, 0, 0] == 29 and not second.success
    frames.on_result(_result(2, 3.0, 5.0, True))
    (last,) = frames.flush()
    assert last.goal[0, 0, 0] == 99 and last.final[0, 0, 0] == 31


def test_a_result_without_times_or_images_is_not_pictured(tmp_path):
    frames = GoalFrames()
    assert frames.on_result({"episode": 0, "success": True}) == []
    assert frames.on_result(_result(1, 5.0, 1.0, True)) == []  # no frame yet
    (lonely,) = frames.flush()
    assert lonely.goal is None and lonely.final is None
    log = RunLog(results=[_result(1, 5.0, 1.0, True)], snapshots=[lonely])
    assert goal_strip(log.snapshots) is None
    summary = run_summary(log, 3.0)
    assert summary["pictured_goals"] == 0
    write_run_report(log, summary, tmp_path / "report.png")  # the strip is left out
    assert (tmp_path / "report.png").stat().st_size > 1000


def test_the_strip_frames_reached_goals_green_and_missed_ones_red(tmp_path):
    frames = GoalFrames()
    frames.on_goal(0.0, _image(50))
    frames.on_frame(0.9, _image(60))
    frames.on_frame(1.0, _image(65))
    snaps = frames.on_result(_result(0, 0.0, 1.0, True))
    frames.on_goal(1.0, np.full((16, 16, 3), 70, np.uint8))  # another size is fitted
    frames.on_frame(1.9, _image(80))
    snaps += frames.on_result(_result(1, 1.0, 1.0, False)) + frames.flush()
    strip = goal_strip(snaps)
    assert strip.shape[0] == 2 * 8 + 2 * 2  # goal over final, a border around
    assert tuple(strip[0, 0]) == (40, 160, 60) and tuple(strip[0, -1]) == (200, 40, 40)
    log = RunLog(results=[_result(0, 0.0, 1.0, True), _result(1, 1.0, 1.0, False)],
                 snapshots=snaps)
    summary = run_summary(log, 2.0)
    assert summary["pictured_goals"] == 2
    write_run_report(log, summary, tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 1000

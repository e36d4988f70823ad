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
"""The control loop tick by tick: every path a commanding node takes, on an injected clock.

The loop runs the shipped model against the embedded simulator in this process; time is a number
the test advances, so nothing sleeps and nothing depends on DDS or the machine's load. Each
command is checked the way the arm would feel it: never more than one velocity-limited step from
the previous command, and never more than that from where a fresh measurement says the arm is.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
from scenes import reach_episode

from world_model_planner.core.config import PlannerConfig, PlannerNodeConfig
from world_model_planner.core.control import (ERROR, ESTOP, NO_GOAL, OK, PLANNER_ERROR, SKIPPED,
                                              STALE, WARN, build_control_loop, command_limits)
from world_model_planner.core.paths import share_path
from world_model_planner.core.runtime import OnnxWorldModel
from world_model_planner.core.safety import RESYNC, SURPRISE_CAMERA, SURPRISE_OK

MODEL = Path(os.environ.get("WMP_TEST_MODEL", share_path("models", "wmp_arm_reach")))
PERIOD = 0.1
TOL = 1e-9


@pytest.fixture(scope="module")
def model() -> OnnxWorldModel:
    return OnnxWorldModel(MODEL, providers="cpu")


class Rig:
    """A loop, the simulated arm it commands, and the time both live in."""

    def __init__(self, model: OnnxWorldModel, seed: int = 4, trigger_on_image: bool = False
                 ) -> None:
        self.sim, _, self.start, self.goal = reach_episode(seed)
        # Ticks are run by the test unless a test is about frames running them.
        config = PlannerNodeConfig(planner=PlannerConfig(model=str(MODEL)),
                                   trigger_on_image=trigger_on_image)
        wall = itertools.count()
        self.loop = build_control_loop(model, self.sim.robot, config, PERIOD,
                                       wall=lambda: next(wall) * 1e-3)
        self.max_step = command_limits(self.sim.robot).max_velocity * PERIOD
        self.now = 0.0
        self.commands: list[np.ndarray] = []
        self.loop.activate()

    def feed(self, image: bool = True, joints: bool = True) -> None:
        if joints:
            self.loop.on_joints(self.sim.qpos, self.sim.qvel, self.now)
        if image:
            self.loop.on_image(self.sim.render(), self.now, self.now)

    def tick(self, image: bool = True, joints: bool = True):
        """Advance one period, feed what the drivers sent, tick, let the arm act."""
        self.now += PERIOD
        self.feed(image, joints)
        tick = self.loop.tick(self.now)
        if tick.command is not None:
            self.check_step(tick.command)
            self.commands.append(tick.command)
            self.sim.advance(tick.command, PERIOD)
        return tick

    def check_step(self, command: np.ndarray, measured_is_fresh: bool = True) -> None:
        if self.commands:
            assert np.all(np.abs(command - self.commands[-1]) <= self.max_step + TOL), \
                "a command step beyond the velocity limit"

    def close(self) -> None:
        self.sim.close()


@pytest.fixture
def rig(model):
    r = Rig(model)
    yield r
    r.close()


def test_nothing_is_commanded_before_a_joint_state(rig):
    tick = rig.tick(image=True, joints=False)
    assert tick.decision == STALE and tick.command is None and tick.held
    level, message, _ = rig.loop.status("active")
    assert level == ERROR and "no joint_states message yet" in message


def test_without_a_goal_the_arm_holds_where_it_is(rig):
    tick = rig.tick()
    assert tick.decision == NO_GOAL and tick.held
    np.testing.assert_allclose(tick.command, rig.start.qpos, atol=TOL)


def test_with_a_goal_the_loop_plans_and_the_arm_heads_there(rig):
    rig.loop.set_goal_image(rig.goal.image)
    before = np.linalg.norm(rig.sim.tool_position() - rig.goal.tool_position)
    decisions = [rig.tick().decision for _ in range(8)]
    assert decisions.count(SURPRISE_OK) >= 7, decisions
    assert np.linalg.norm(rig.sim.tool_position() - rig.goal.tool_position) < before - 0.05
    level, message, values = rig.loop.status("active")
    assert (level, message) == (OK, "active: ok") and values["steps_ok"] >= 7


def test_estop_holds_still_until_released_then_control_resumes_from_the_arm(rig):
    rig.loop.set_goal_image(rig.goal.image)
    for _ in range(3):
        rig.tick()
    assert rig.loop.set_estop(True) == "engaged"
    held = [rig.tick() for _ in range(8)]
    assert all(t.decision == ESTOP and t.held for t in held)
    last = np.stack([t.command for t in held[-4:]])
    assert np.ptp(last, axis=0).max() == 0.0, "the command kept moving under the e-stop"
    assert rig.loop.status("active")[:2] == (ERROR, "e-stop engaged: holding")
    assert rig.loop.set_estop("garbage") == "", "a malformed message keeps the stop engaged"
    assert rig.loop.set_estop(False) == "released"
    resumed = rig.tick()
    assert resumed.decision not in (ESTOP, STALE) and not resumed.held
    assert np.all(np.abs(resumed.command - rig.sim.qpos) <= rig.max_step + TOL)


def test_estop_during_a_resync_holds_where_the_arm_is(rig):
    rig.loop.set_goal_image(rig.goal.image)
    for _ in range(3):
        rig.tick()
    elsewhere = np.clip(rig.sim.qpos + np.array([0.6, -0.4, 0.5, 0.3]), rig.sim.robot.lower,
                        rig.sim.robot.upper)
    rig.sim.reset(elsewhere)  # something else moved the arm far beyond path_tolerance ...
    rig.loop.set_estop(True)  # ... and the operator pressed the stop at the same moment
    rig.now += PERIOD
    rig.feed()
    tick = rig.loop.tick(rig.now)
    assert tick.decision == ESTOP
    np.testing.assert_allclose(tick.command, elsewhere, atol=TOL)
    rig.commands.append(tick.command)
    rig.sim.advance(tick.command, PERIOD)
    assert rig.tick().decision == ESTOP
    rig.loop.set_estop(False)
    resumed = rig.tick()
    assert resumed.decision in (SURPRISE_OK, RESYNC) and not resumed.held
    assert np.all(np.abs(resumed.command - elsewhere) <= rig.max_step + TOL)


def test_a_restarted_driver_with_the_arm_elsewhere_is_held_from_the_arm(rig):
    """The simulator or driver dies, then comes back with the arm somewhere else: joint states
    return before the camera. The hold must start from the measured joints, not re-send the
    command from before the crash."""
    rig.loop.set_goal_image(rig.goal.image)
    for _ in range(4):
        rig.tick()
    before_crash = rig.commands[-1]
    dead = [rig.tick(image=False, joints=False) for _ in range(8)]
    assert [t.decision for t in dead[-3:]] == [STALE] * 3
    # a controlled stop of the last command, then nothing: where the arm is is unknown, and a
    # driver restarting now must not be sent a command computed for where it was
    assert [t.command is None for t in dead[-3:]] == [True] * 3
    elsewhere = before_crash.copy()
    elsewhere[1] -= 0.34  # the shoulder, as in the bug report
    rig.sim.reset(elsewhere)
    rig.commands.clear()  # from here on, each command is measured against the arm as well
    for _ in range(4):  # joints fresh, camera not yet
        tick = rig.tick(image=False, joints=True)
        assert tick.decision == STALE and tick.held
        assert np.all(np.abs(tick.command - rig.sim.qpos) <= rig.max_step + TOL), \
            "the hold drove the arm back towards the pre-crash command"
    np.testing.assert_allclose(rig.commands[0], elsewhere, atol=1e-6)
    for _ in range(5):  # the camera is back: planning resumes from where the arm is
        tick = rig.tick()
        assert tick.decision in (SURPRISE_OK, RESYNC) and not tick.held
        assert np.all(np.abs(tick.command - elsewhere) <= 5 * rig.max_step + TOL)
    assert np.max(np.abs(rig.sim.qpos - before_crash)) > 0.2, "dragged back to the old pose"


def test_a_driver_back_with_the_camera_in_one_tick_is_planned_from_the_arm(rig):
    """Joint states and frames return in the same tick, the arm within the resync tolerance of
    the pre-crash command: the first command starts at the measured joints, so the arm is not
    driven back to where it was at servo speed (a CI failure: 0.32 rad in 0.1 s)."""
    rig.loop.set_goal_image(rig.goal.image)
    for _ in range(4):
        rig.tick()
    before_crash = rig.commands[-1]
    for _ in range(8):
        rig.tick(image=False, joints=False)
    elsewhere = before_crash.copy()
    elsewhere[3] -= 0.25  # inside path_tolerance (0.3 rad): no resync would fire
    assert 0.25 < rig.sim.robot.config.path_tolerance
    rig.sim.reset(elsewhere)
    rig.commands.clear()
    for _ in range(4):
        tick = rig.tick()
        assert not tick.held
        assert np.all(np.abs(tick.command - rig.sim.qpos) <= rig.max_step + TOL), \
            "a command steered the restarted arm back towards the pre-crash command"
    np.testing.assert_allclose(rig.commands[0], elsewhere, atol=rig.max_step[3] + TOL)


def test_a_stale_camera_with_fresh_joints_brakes_to_a_stop(rig):
    rig.loop.set_goal_image(rig.goal.image)
    for _ in range(4):
        rig.tick()
    held = [rig.tick(image=False, joints=True) for _ in range(8)]
    decisions = [t.decision for t in held]
    assert decisions[0] != STALE, "one period of silence is within camera_timeout (0.2 s)"
    assert decisions[-5:] == [STALE] * 5, decisions
    assert np.ptp(np.stack([t.command for t in held[-3:]]), axis=0).max() == 0.0
    level, message, values = rig.loop.status("active")
    assert level == ERROR and "camera silent for" in message and values["watchdog_trips"] == 1
    resumed = rig.tick()
    assert resumed.decision in (SURPRISE_OK, RESYNC) and not resumed.held
    assert "watchdog" not in rig.loop.status("active")[2]


def test_clock_jumps_skip_a_cycle_and_a_backwards_clock_holds_until_data_is_fresh(rig):
    rig.loop.set_goal_image(rig.goal.image)
    for _ in range(3):
        rig.tick()
    rig.now += 5.0  # a sim-time jump forward: one skipped cycle, no command
    rig.feed()
    assert rig.loop.tick(rig.now).decision == SKIPPED
    assert rig.tick().decision in (SURPRISE_OK, RESYNC)
    skipped = rig.loop.counters.skipped_cycles
    rig.now = 1.0  # sim time reset (a simulator restart): backwards
    assert rig.loop.tick(rig.now).decision == SKIPPED
    rig.now += PERIOD
    tick = rig.loop.tick(rig.now)  # the last data is stamped in the "future": stale
    assert tick.decision == STALE and "clock went backwards" in rig.loop.status("active")[1]
    if tick.command is not None:  # braking; at rest nothing is sent
        rig.check_step(tick.command)
        rig.commands.append(tick.command)
    assert rig.tick().decision in (SURPRISE_OK, RESYNC)
    assert rig.loop.counters.skipped_cycles == skipped + 1


def test_a_frame_the_model_cannot_read_holds_and_says_why(rig):
    rig.loop.set_goal_image(rig.goal.image)
    rig.tick()
    rig.now += PERIOD
    rig.loop.on_joints(rig.sim.qpos, rig.sim.qvel, rig.now)
    rgba = np.zeros((64, 64, 4), np.uint8)  # no camera driver sends this; the model rejects it
    rig.loop.on_image(rgba, rig.now, rig.now)
    tick = rig.loop.tick(rig.now)
    assert tick.decision == PLANNER_ERROR and tick.held and "planning failed" in tick.warning
    rig.check_step(tick.command)
    assert rig.loop.status("active")[:2] == (WARN, "holding: planner error")
    assert rig.tick().decision in (SURPRISE_OK, RESYNC), "the next good frame plans again"


def test_a_black_camera_is_distrusted_and_the_joints_carry_the_belief(rig):
    rig.loop.set_goal_image(rig.goal.image)
    rig.tick()
    rig.now += PERIOD
    rig.loop.on_joints(rig.sim.qpos, rig.sim.qvel, rig.now)
    rig.loop.on_image(np.zeros((64, 64, 3), np.uint8), rig.now, rig.now)
    tick = rig.loop.tick(rig.now)
    assert tick.decision == SURPRISE_CAMERA and not tick.held
    rig.check_step(tick.command)
    assert rig.loop.status("active")[:2] == (WARN, "surprise: camera_distrusted")


def test_an_arm_moved_while_planning_resyncs_with_a_warning(rig):
    rig.loop.set_goal_image(rig.goal.image)
    for _ in range(2):
        rig.tick()
    moved = np.clip(rig.sim.qpos + np.array([0.0, 0.5, -0.4, 0.0]), rig.sim.robot.lower,
                    rig.sim.robot.upper)
    rig.sim.reset(moved)
    rig.commands.clear()
    tick = rig.tick()
    assert tick.decision == RESYNC and "path_tolerance" in tick.warning
    assert np.all(np.abs(tick.command - moved) <= rig.max_step + TOL)


def test_frames_run_the_ticks_and_the_timer_covers_a_silent_camera(model):
    rig = Rig(model, trigger_on_image=True)
    rig.loop.set_goal_image(rig.goal.image)
    ticks = []
    for k in range(1, 61):  # 10 ms timer polls, joint states at 50 Hz, frames until 0.3 s
        rig.now = round(rig.now + 0.01, 6)
        if k % 2 == 0:
            rig.loop.on_joints(rig.sim.qpos, rig.sim.qvel, rig.now)
        tick = None
        if k % 10 == 0 and k <= 30:
            tick = rig.loop.on_image(rig.sim.render(), rig.now, rig.now)
        tick = tick or rig.loop.on_timer(rig.now)
        if tick is not None:
            ticks.append((rig.now, tick.decision))
    rig.close()
    # Before any frame the timer keeps the loop (and its watchdog) going; each frame then runs
    # its tick at once; when frames stop, the timer serves each tick a quarter period late, and
    # the watchdog holds once the camera is silent for camera_timeout.
    assert ticks[0] == (0.01, STALE), ticks
    assert [t for t, _ in ticks[1:4]] == [0.1, 0.2, 0.3], ticks
    timer = ticks[4:]
    assert [t for t, _ in timer] == [0.43, 0.53], ticks
    assert timer[-1][1] == STALE, ticks


def test_a_frame_handled_before_its_clock_runs_its_tick_when_the_clock_gets_there(model):
    """On simulation time the executor may take a frame before the /clock message of its
    instant. Scheduled at the old time it served no tick, and a simulator in lockstep waited
    for the answer in vain; the tick now runs once the clock reaches the frame's stamp."""
    rig = Rig(model, trigger_on_image=True)
    rig.loop.set_goal_image(rig.goal.image)
    ticks = []
    for k in range(1, 6):
        t = round(0.1 * k, 6)
        rig.loop.on_joints(rig.sim.qpos, rig.sim.qvel, rig.now, stamp=t)  # before /clock, too
        early = rig.loop.on_image(rig.sim.render(), t, rig.now)  # the clock is still at t - 0.1
        assert early is None, "a frame ahead of the clock ran at the old time"
        rig.now = t  # /clock arrives; the sim-time timer fires on the jump
        tick = early or rig.loop.on_timer(rig.now)
        assert tick is not None and tick.command is not None, f"no tick for frame {k}"
        ticks.append((rig.now, tick.stamp))
        rig.sim.advance(tick.command, PERIOD)
    rig.close()
    assert ticks == [(t, t) for t in (0.1, 0.2, 0.3, 0.4, 0.5)], ticks


def test_a_frame_handled_before_its_joint_state_waits_for_it(model):
    """The model was trained on a frame and the joint state of the same instant: a frame that
    overtakes its joint state runs its tick when that joint state comes, not with the older
    one (mid-step, which the monitor took for a changed world)."""
    rig = Rig(model, trigger_on_image=True)
    rig.loop.set_goal_image(rig.goal.image)
    rig.loop.on_joints(rig.sim.qpos, rig.sim.qvel, 0.0, stamp=0.0)
    ticks = []
    for k in range(1, 6):
        t = round(0.1 * k, 6)
        rig.loop.on_joints(rig.sim.qpos, rig.sim.qvel, t - 0.02, stamp=t - 0.02)
        frame = rig.sim.render()
        q, v = rig.sim.qpos, rig.sim.qvel
        assert rig.loop.on_image(frame, t, t) is None, "ran with the joint state 20 ms old"
        assert rig.loop.on_timer(t + 0.01) is None, "gave up before a quarter period"
        tick = rig.loop.on_joints(q, v, t + 0.012, stamp=t)
        assert tick is not None and tick.stamp == t
        ticks.append(tick)
        rig.check_step(tick.command)
        rig.commands.append(tick.command)
        rig.sim.advance(tick.command, PERIOD)
    assert [t.decision for t in ticks[1:]] == [SURPRISE_OK] * 4
    # a joint state that never comes: the timer runs the tick a quarter period after the frame
    rig.loop.on_joints(rig.sim.qpos, rig.sim.qvel, 0.58, stamp=0.58)
    assert rig.loop.on_image(rig.sim.render(), 0.6, 0.6) is None
    assert rig.loop.on_timer(0.62) is None
    late = rig.loop.on_timer(0.626)
    assert late is not None and late.stamp == 0.6
    rig.close()


def test_deactivate_publishes_one_hold_and_nothing_after(rig):
    rig.loop.set_goal_image(rig.goal.image)
    for _ in range(3):
        rig.tick()
    command = rig.loop.deactivate("deactivated")
    rig.check_step(command)
    rig.now += PERIOD
    rig.feed()
    assert rig.loop.on_timer(rig.now) is None
    rig.loop.activate()
    tick = rig.loop.tick(rig.now)  # the first tick after activation plans at once
    assert tick.decision in (SURPRISE_OK, RESYNC) and not tick.held


def test_goals_that_make_no_sense_are_refused_naming_why(rig):
    with pytest.raises(ValueError, match="outside the joint limits for \\['base_yaw'\\]"):
        rig.loop.set_goal_joints(np.array([9.0, 0.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="not the planning frame"):
        rig.loop.set_goal_pose(np.array([0.2, 0.0, 0.2]), "camera")
    with pytest.raises(ValueError, match="beyond the arm's reach"):
        rig.loop.set_goal_pose(np.array([5.0, 0.0, 0.2]))
    assert rig.loop.controller.goal is None

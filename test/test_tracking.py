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
"""The surprise monitor's position-loop check: pushes the world model is too coarse to see."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from world_model_planner.core import tracking
from world_model_planner.core.config import Perturbations, PushPerturbation
from world_model_planner.core.safety import (SURPRISE_HOLD, SURPRISE_OK, SURPRISE_REGROUND,
                                             SurpriseMonitor, SurpriseThresholds)


def _walk(sim, task, rng, steps: int, bound: np.ndarray):
    """(qpos, qvel, delta, qpos_next, tool, tool_next) of a bounded walk between reach poses."""
    rows = []
    obs = sim.reset(task.sample_configuration(rng))
    target = task.sample_configuration(rng)
    for _ in range(steps):
        if np.all(np.abs(target - obs.qpos) < 0.05):
            target = task.sample_configuration(rng)
        delta = np.clip(target - obs.qpos + rng.normal(0, 0.3, len(bound)) * bound, -bound, bound)
        tool = sim.tool_position()
        nxt = sim.step(obs.qpos + delta, render=False)
        rows.append((obs.qpos, obs.qvel, delta, nxt.qpos, tool, sim.tool_position()))
        obs = nxt
    return [np.array(c) for c in zip(*rows)]


@pytest.fixture(scope="module")
def arm():
    from world_model_planner.core.sim.arm import ArmSim
    from world_model_planner.core.sim.reach import ReachTask

    sim = ArmSim()
    yield sim, ReachTask(sim), sim.robot.action_bound(sim.config.control_period)
    sim.close()


def test_position_loop_model_scores_free_motion_low_and_a_push_high(arm):
    sim, task, bound = arm
    rng = np.random.default_rng(0)
    fit_rows = [_walk(sim, task, rng, 60, bound) for _ in range(20)]
    q, v, d, qn, tool, tool_n = [np.concatenate(c) for c in zip(*fit_rows)]
    free = tracking.free_space(tool, tool_n, 0.08)
    model = tracking.fit(q[free], v[free], d[free], qn[free], sim.config.control_period, 0.08)
    assert np.all(model.scale < 0.01), model.scale  # the servo is predictable to millirads

    held_out = _walk(sim, task, np.random.default_rng(1), 300, bound)
    scores = model.score(*held_out[:4])
    threshold = float(np.quantile(scores, 0.995))

    # The evaluation's push: 60 N sideways on the forearm for two control steps.
    push = PushPerturbation(enabled=True, start_step=5, steps=2)
    sim.set_perturbations(dataclasses.replace(Perturbations(), push=push))
    try:
        rng = np.random.default_rng(2)
        obs = sim.reset(task.sample_configuration(rng))
        pushed = []
        for step in range(8):
            delta = np.zeros_like(obs.qpos)  # hold still: only the push moves the arm
            nxt = sim.step(obs.qpos + delta, render=False)
            pushed.append(model.score(obs.qpos, obs.qvel, delta, nxt.qpos))
            obs = nxt
    finally:
        sim.set_perturbations(Perturbations())
    assert max(pushed[:5]) < threshold, pushed  # before the push: nominal
    assert pushed[5] > 10 * threshold, (pushed, threshold)  # the first pushed step stands out


def test_monitor_regrounds_on_a_push_and_holds_when_it_persists():
    d, j = 4, 2
    model = tracking.TrackingModel(np.zeros((6 * j * j + 3 * j, j)), np.full(j, 0.001), 0.1, 0.08)
    t = SurpriseThresholds(np.ones(d), np.ones(d), reground=2.0, hold=10.0, proprio_reground=2.0,
                           tracking=model, tracking_reground=5.0, tracking_hold=50.0)
    monitor = SurpriseMonitor(t, hold_after=2)
    z, q = np.zeros(d), np.zeros(j)
    nominal = monitor.tracking_score(q, q, q, q + 0.001, tool_height=0.3)
    assert nominal == pytest.approx(1.0)
    assert monitor.assess(z, z, z, nominal).decision == SURPRISE_OK
    pushed = monitor.tracking_score(q, q, q, q + 0.01, tool_height=0.3)  # 10 spreads off
    assert monitor.assess(z, z, z, pushed).decision == SURPRISE_REGROUND  # latents agree
    assert monitor.assess(z, z, z, pushed).decision == SURPRISE_HOLD  # blocked: sustained
    assert monitor.assess(z, z, z, nominal).decision == SURPRISE_OK
    # Near the floor the loop is not free: no score, no alarm.
    assert math.isnan(monitor.tracking_score(q, q, q, q + 0.01, tool_height=0.02))
    assert monitor.assess(z, z, z, math.nan).decision == SURPRISE_OK
    # Switched off in the planner config (surprise.tracking: false): never scored.
    off = SurpriseMonitor(t, tracking=False)
    assert math.isnan(off.tracking_score(q, q, q, q + 0.01, tool_height=0.3))


def test_tracking_section_round_trips_through_meta():
    j = 3
    model = tracking.TrackingModel(np.arange((6 * j * j + 3 * j) * j, dtype=float).reshape(-1, j),
                                   np.full(j, 0.002), 0.1, 0.08)
    back = tracking.TrackingModel.from_meta(model.to_meta())
    assert np.array_equal(back.weights, model.weights) and back.period == 0.1
    with pytest.raises(ValueError, match="re-export"):
        tracking.TrackingModel.from_meta({**model.to_meta(), "features": "other"})


def test_shipped_model_regrounds_when_the_arm_is_pushed():
    from scenes import reach_episode

    from world_model_planner.core.config import PlannerConfig
    from world_model_planner.core.planning.controller import MPCController
    from world_model_planner.core.robot import Robot
    from world_model_planner.core.runtime import DEFAULT_MODEL, OnnxWorldModel

    model = OnnxWorldModel(DEFAULT_MODEL, providers="cpu")
    thresholds = SurpriseThresholds.from_meta(model.meta["surprise"])
    assert thresholds.tracking is not None, "meta.json lacks surprise.tracking: re-export"
    sim, task, obs, goal = reach_episode(4)
    try:
        push = PushPerturbation(enabled=True, start_step=3, steps=2)
        sim.set_perturbations(dataclasses.replace(Perturbations(), push=push))
        obs = sim.reset(obs.qpos)
        controller = MPCController(model, Robot.load(), PlannerConfig(model=str(DEFAULT_MODEL)),
                                   0.1, surprise=thresholds)
        controller.set_goal_image(goal.image)
        results = []
        for _ in range(5):
            result = controller.step(obs)
            results.append(result)
            obs = sim.step(result.command)
    finally:
        sim.close()
    assert [r.decision for r in results[:4]] == [SURPRISE_OK] * 4, \
        [(r.decision, r.tracking_surprise) for r in results]
    # Step 4 sees the first pushed period: the latents barely notice, the position loop does.
    assert results[4].decision == SURPRISE_REGROUND
    assert results[4].tracking_surprise > controller.monitor.tracking_reground


def test_the_controller_says_which_joint_state_it_expects_next():
    """predicted_joint_state is the monitor's expectation in joint terms: after each planned
    step of an undisturbed loop the arm arrives close to it."""
    from scenes import reach_episode

    from world_model_planner.core.config import PlannerConfig
    from world_model_planner.core.planning.controller import MPCController
    from world_model_planner.core.robot import Robot
    from world_model_planner.core.runtime import DEFAULT_MODEL, OnnxWorldModel

    model = OnnxWorldModel(DEFAULT_MODEL, providers="cpu")
    sim, task, obs, goal = reach_episode(5)
    try:
        controller = MPCController(model, Robot.load(), PlannerConfig(model=str(DEFAULT_MODEL)),
                                   0.1, surprise=SurpriseThresholds.from_meta(
                                       model.meta["surprise"]))
        controller.set_goal_image(goal.image)
        assert controller.predicted_joint_state() is None  # nothing planned yet
        errors = []
        for _ in range(6):
            result = controller.step(obs)
            expected = controller.predicted_joint_state()
            assert expected is not None and expected.shape == (8,)
            obs = sim.step(result.command)
            errors.append(np.abs(expected[:4] - obs.qpos))
    finally:
        sim.close()
    assert float(np.mean(errors)) < 0.1, np.round(errors, 3)

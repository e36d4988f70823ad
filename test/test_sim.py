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
"""The embedded simulator: rendering, position control, the reach task and perturbations."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from world_model_planner.core.config import Perturbations, ReachTaskConfig, SimConfig
from world_model_planner.core.sim.arm import ArmSim
from world_model_planner.core.sim.reach import ReachTask

HOME = np.array([0.3, 0.5, 0.9, 0.6])


def test_observation_is_an_rgb_frame_plus_joint_state(sim):
    obs = sim.reset(HOME)
    assert obs.image.shape == (64, 64, 3) and obs.image.dtype == np.uint8
    assert obs.image.std() > 10, "the frame should show a scene, not a flat colour"
    np.testing.assert_allclose(obs.qpos, HOME, atol=1e-9)
    assert obs.qvel.shape == (4,)


def test_image_size_is_configurable():
    arm = ArmSim(SimConfig(image_width=96, image_height=48))
    try:
        image = arm.reset(HOME).image
        assert image.shape == (48, 96, 3)
        k = arm.intrinsics()
        assert (k.width, k.height) == (96, 48) and k.fx == pytest.approx(k.fy)
    finally:
        arm.close()


def test_position_servo_reaches_and_holds_targets(sim):
    sim.reset(HOME)
    target = HOME + np.array([0.1, -0.1, 0.1, -0.1])
    for _ in range(10):
        obs = sim.step(target)
    np.testing.assert_allclose(obs.qpos, target, atol=2e-3)
    assert np.all(np.abs(obs.qvel) < 0.02)
    assert obs.stamp == pytest.approx(1.0)


def test_commands_beyond_the_limits_are_clipped(sim):
    sim.reset(HOME)
    beyond = HOME.copy()
    beyond[0] = sim.robot.upper[0] + 1.0
    beyond[3] = sim.robot.lower[3] - 1.0
    for _ in range(40):
        obs = sim.step(beyond)
    assert obs.qpos[0] == pytest.approx(sim.robot.upper[0], abs=5e-3)
    assert obs.qpos[3] == pytest.approx(sim.robot.lower[3], abs=5e-3)
    with pytest.raises(ValueError, match="4 values"):
        sim.step(np.zeros(3))
    with pytest.raises(ValueError, match="non-finite"):
        sim.step(np.array([0.0, np.nan, 0.0, 0.0]))


def test_seeded_episodes_are_identical_and_seeds_differ(sim):
    task = ReachTask(sim)

    def run(seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        start, goal = task.sample_episode(rng)
        sim.reset(start)
        frames = [sim.step(start + rng.uniform(-0.1, 0.1, 4)).image for _ in range(5)]
        return goal, np.stack(frames)

    goal_a, frames_a = run(3)
    goal_b, frames_b = run(3)
    goal_c, _ = run(4)
    np.testing.assert_array_equal(goal_a, goal_b)
    np.testing.assert_array_equal(frames_a, frames_b)
    assert not np.allclose(goal_a, goal_c)


def test_goals_are_reachable_visible_and_differ_from_the_start(sim):
    task = ReachTask(sim, ReachTaskConfig())
    rng = np.random.default_rng(11)
    for _ in range(10):
        start, goal_q = task.sample_episode(rng)
        assert task.is_valid(start) and task.is_valid(goal_q)
        goal = task.make_goal(goal_q)
        start_image = sim.reset(start).image
        assert goal.tool_position[2] >= task.config.min_tool_height
        u, v = sim.project(goal.tool_position)
        assert 0 <= u < 64 and 0 <= v < 64
        assert np.abs(goal.image.astype(int) - start_image.astype(int)).sum() > 1000
        assert not task.success(goal)
        # Reachable: commanding the goal joints (rate-limited) brings the tool within the radius.
        for _ in range(task.config.episode_steps):
            step = np.clip(goal.joints - sim.qpos, -0.15, 0.15)
            sim.step(sim.qpos + step)
        assert task.success(goal), f"goal at {goal.joints} not reached: {task.error(goal):.3f} m"


def test_goal_image_shows_the_arm_at_the_goal(sim):
    task = ReachTask(sim)
    start, goal_q = task.sample_episode(np.random.default_rng(5))
    goal = task.make_goal(goal_q)
    sim.reset(goal_q)
    np.testing.assert_array_equal(goal.image, sim.render())


@pytest.mark.parametrize("name", ["lighting", "camera_offset", "distractor", "colour"])
def test_each_visual_perturbation_changes_the_frame(sim, name):
    sim.set_perturbations(Perturbations())
    nominal = sim.reset(HOME).image.astype(int)
    sim.set_perturbations(Perturbations().only(name))
    perturbed = sim.reset(HOME).image.astype(int)
    sim.set_perturbations(Perturbations())
    restored = sim.reset(HOME).image.astype(int)
    changed = (np.abs(perturbed - nominal).max(axis=-1) > 10).mean()
    assert changed > 0.01, f"{name} changed only {changed:.2%} of the pixels"
    np.testing.assert_array_equal(restored, nominal)


def test_render_at_a_step_draws_the_distractor_there_and_leaves_the_state(sim):
    pert = Perturbations().only("distractor")
    sim.set_perturbations(pert)
    sim.reset(HOME)
    before = (sim.data.mocap_pos.copy(), sim.step_count, sim.qpos.copy())
    now = sim.render_at(HOME).astype(int)
    quarter = round(pert.distractor.period / sim.config.control_period / 4)
    later = sim.render_at(HOME, step=quarter).astype(int)
    moved = (np.abs(later - now).max(axis=-1) > 10).mean()
    assert moved > 0.002, f"the box moved over only {moved:.2%} of the pixels"
    np.testing.assert_array_equal(sim.data.mocap_pos, before[0])
    assert sim.step_count == before[1]
    np.testing.assert_array_equal(sim.qpos, before[2])
    np.testing.assert_array_equal(sim.render_at(HOME), now)
    sim.set_perturbations(Perturbations())


def test_camera_dropout_sends_black_frames_for_its_span(sim):
    pert = Perturbations().only("dropout")
    sim.set_perturbations(pert)
    sim.reset(HOME)
    black = []
    for _ in range(pert.dropout.start_step + pert.dropout.steps + 3):
        black.append(not sim.step(HOME).image.any())
    sim.set_perturbations(Perturbations())
    first, n = pert.dropout.start_step, pert.dropout.steps
    # Observation after step k has step_count k + 1.
    assert black == [first <= k + 1 < first + n for k in range(len(black))]


def test_external_push_displaces_the_arm_then_the_servo_recovers(sim):
    pert = Perturbations().only("push")
    sim.set_perturbations(pert)
    sim.reset(HOME)
    deviation = []
    for _ in range(pert.push.start_step + pert.push.steps + 10):
        deviation.append(float(np.abs(sim.step(HOME).qpos - HOME).max()))
    sim.set_perturbations(Perturbations())
    during = max(deviation[pert.push.start_step:pert.push.start_step + pert.push.steps + 1])
    assert deviation[pert.push.start_step - 2] < 1e-3
    assert during > 0.03, f"push moved the arm only {during:.4f} rad"
    assert deviation[-1] < 0.01


def test_missing_opengl_gives_an_error_naming_the_packages():
    code = ("from world_model_planner.core.sim.arm import ArmSim\n"
            "ArmSim()\n")
    env = dict(os.environ, MUJOCO_GL="egl", MUJOCO_EGL_DEVICE_ID="99")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "RenderingUnavailable" in proc.stderr
    assert "libegl1 libegl-mesa0 libgl1-mesa-dri" in proc.stderr

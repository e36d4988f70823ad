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
"""The push task: an object the arm pushes, its goals, its config checks, its data, and the
push cost and proposals the planner uses on it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from world_model_planner.core.config import (CollectConfig, ConfigError, OptimizerConfig,
                                             PlannerConfig, PushObjectConfig, SimulationConfig)
from world_model_planner.core.data.collect import EpisodeCollector, collect, episode_seed
from world_model_planner.core.data.shards import Dataset
from world_model_planner.core.planning.optimizers import make_optimizer
from world_model_planner.core.planning.push_prior import PushPrior
from world_model_planner.core.sim.arm import simulator_for
from world_model_planner.core.sim.push import PushTask
from world_model_planner.core.sim.push_object import ObjectLook, bounding_radius
from world_model_planner.core.sim.pushing import ScriptedPusher, ToolIK

PUSH = SimulationConfig(task="push")


@pytest.fixture(scope="module")
def push_sim():
    sim = simulator_for(PUSH)
    yield sim
    sim.close()


@pytest.fixture(scope="module")
def task(push_sim):
    return PushTask(push_sim, PUSH.push)


def _pusher(sim, radius=None):
    lower, upper = sim.robot.limits_with_margin()
    return ScriptedPusher(sim.robot, ToolIK(sim.robot, lower, upper), sim.robot.action_bound(0.1),
                          radius or bounding_radius(PUSH.push.object))


def _run(sim, act, steps):
    obs = sim.observe()
    lower, upper = sim.robot.limits_with_margin()
    for _ in range(steps):
        obs = sim.step(np.clip(obs.qpos + act(obs.qpos), lower, upper))
    return obs


def test_the_object_moves_when_pushed_and_stays_when_not(push_sim, task):
    start = np.array([0.33, 0.05, 0.4])
    push_sim.reset(task.rest_pose, object_pose=start)
    _run(push_sim, lambda q: np.zeros_like(q), 20)  # the arm rests: nothing touches the object
    np.testing.assert_allclose(push_sim.object_pose(), start, atol=1e-3)
    swing = np.array([0.6, 0.3, -0.4, 0.2])  # the arm moves above the floor, away from it
    _run(push_sim, lambda q: np.clip(task.rest_pose + swing - q, -0.1, 0.1), 20)
    np.testing.assert_allclose(push_sim.object_pose(), start, atol=1e-3)
    target = np.array([0.42, -0.05])
    pusher = _pusher(push_sim)
    _run(push_sim, lambda q: pusher.act(q, push_sim.object_pose(), target), 60)
    moved = np.linalg.norm(push_sim.object_pose()[:2] - start[:2])
    assert moved > 0.08, f"the pushed object moved only {moved:.3f} m"
    assert np.linalg.norm(push_sim.object_pose()[:2] - target) < PUSH.push.success_radius


def test_the_goal_image_shows_the_object_at_the_goal_and_the_arm_at_rest(push_sim, task):
    rng = np.random.default_rng(3)
    episode, goal_pose = task.sample_episode(rng)
    task.reset(episode)
    goal = task.make_goal(goal_pose)
    np.testing.assert_allclose(push_sim.object_pose(), episode.object_pose, atol=1e-9)
    push_sim.reset(task.rest_pose, object_pose=goal_pose)
    np.testing.assert_array_equal(goal.image, push_sim.render())
    # The object's colour sits where the camera projects the goal position.
    rgb = np.asarray(PUSH.push.object.rgba[:3]) * 255
    near = np.linalg.norm(goal.image.astype(float) - rgb, axis=-1) < 90
    v, u = np.nonzero(near)
    assert len(u) >= 4, "the object is not visible in the goal image"
    centre = push_sim.project(np.array([goal_pose[0], goal_pose[1], 0.025]))
    assert np.hypot(u.mean() - centre[0], v.mean() - centre[1]) < 2.0


def test_goals_are_at_least_the_configured_distance_away_and_in_view(task):
    rng = np.random.default_rng(0)
    for _ in range(30):
        episode, goal = task.sample_episode(rng)
        distance = np.linalg.norm(goal[:2] - episode.object_pose[:2])
        assert PUSH.push.min_goal_distance <= distance <= PUSH.push.max_goal_distance
        assert task.in_view(goal) and task.in_view(episode.object_pose)


def test_success_needs_the_radius_and_for_a_tee_the_yaw(push_sim):
    tee = dataclasses.replace(PUSH, push=dataclasses.replace(
        PUSH.push, radius=(0.25, 0.4), object=PushObjectConfig(
            shape="tee", length=0.1, width=0.03, stem_length=0.07)))
    sim = simulator_for(tee)
    try:
        task = PushTask(sim, tee.push)
        pose = np.array([0.35, 0.0, 0.3])
        task.reset(task.sample_episode(np.random.default_rng(0))[0])
        sim.reset(task.rest_pose, object_pose=pose)
        assert task.success(task.make_goal(pose + [0.02, 0.0, 0.1]))  # 2 cm, 6 degrees
        assert not task.success(task.make_goal(pose + [0.0, 0.0, 0.5]))  # 29 degrees
        assert not task.success(task.make_goal(pose + [0.04, 0.0, 0.0]))
    finally:
        sim.close()
    # A square block looks the same every quarter turn: yaw does not count.
    block = PushTask(push_sim, PUSH.push)
    push_sim.reset(block.rest_pose, object_pose=np.array([0.35, 0.0, 0.3]))
    assert block.success(block.make_goal(np.array([0.35, 0.01, 1.0])))


@pytest.mark.parametrize("change, key", [
    ({"radius": (0.25, 0.75)}, "out of camera"),
    ({"radius": (0.05, 0.4)}, "touches the arm"),
    ({"object": PushObjectConfig(length=0.3, width=0.3)}, "out of camera"),
    ({"rest_pose": [0.0, 0.0, 0.0]}, "push.rest_pose"),
    ({"rest_pose": [0.0, 1.6, 0.0, 1.9]}, "push.rest_pose"),
])
def test_a_push_config_that_cannot_work_is_refused_naming_the_key(push_sim, change, key):
    with pytest.raises(ConfigError, match=key) as err:
        PushTask(push_sim, dataclasses.replace(PUSH.push, **change))
    assert "push." in str(err.value)


def test_beyond_the_arms_reach_is_refused(push_sim):
    far = dataclasses.replace(PUSH.push, radius=(0.3, 0.55), bearing=0.3, image_margin=0.0)
    with pytest.raises(ConfigError, match="push.radius / push.object: to push the object"):
        PushTask(push_sim, far)


def test_object_size_mass_and_friction_change_how_it_sits_and_slides(push_sim, task):
    push_sim.reset(task.rest_pose, object_pose=np.array([0.35, 0.0, 0.0]))
    try:
        push_sim.set_object_look(ObjectLook(size_scale=1.2))
        _run(push_sim, lambda q: np.zeros_like(q), 5)
        height = push_sim.data.qpos[2]  # the object's free joint comes first in the scene
        assert height == pytest.approx(1.2 * PUSH.push.object.height / 2, abs=1e-3)
    finally:
        push_sim.set_object_look(ObjectLook())


@pytest.mark.parametrize("look", [ObjectLook(mass_scale=2.0), ObjectLook(mass_scale=0.5),
                                  ObjectLook(size_scale=1.2, mass_scale=2.0)])
def test_a_heavier_or_bigger_object_is_pushed_without_the_simulation_diverging(push_sim, task,
                                                                               look):
    """The evaluation's object conditions edit the compiled model; a doubled mass once made
    MuJoCo diverge in 11 of 12 pushes and reset the scene (the object at the world origin)."""
    import mujoco

    unstable = mujoco.mjtWarning.mjWARN_BADQVEL
    try:
        for seed in range(4):
            episode, goal = task.sample_episode(np.random.default_rng(seed))
            task.reset(episode)
            push_sim.set_object_look(look)
            pusher = _pusher(push_sim)
            _run(push_sim, lambda q: pusher.act(q, push_sim.object_pose(), goal[:2]), 50)
            assert push_sim.data.warning[unstable].number == 0, f"diverged (seed {seed})"
            assert np.linalg.norm(push_sim.object_pose()[:2]) > 0.1, "the scene was reset"
    finally:
        push_sim.set_object_look(ObjectLook())


def test_push_collection_moves_the_object_in_most_episodes_and_is_reproducible(tmp_path):
    out = tmp_path / "push"
    collect(out, 10, seed=4, simulation=PUSH, config=_push_collect_config(), progress=False)
    report = Dataset(out).validate()
    contact = report["contact"]
    assert contact["episodes_moved"] >= 0.6
    assert contact["mean_final_displacement_m"] > 0.02
    episodes = list(Dataset(out).episodes())
    assert all(e.object_pose is not None and e.goal_object is not None for e in episodes)
    assert all(len(e.object_pose) == e.steps + 1 for e in episodes)
    again = tmp_path / "again"
    collect(again, 10, seed=4, simulation=PUSH, config=_push_collect_config(), progress=False)
    assert (again / "shard-00000.npz").read_bytes() == (out / "shard-00000.npz").read_bytes()


def _push_collect_config() -> CollectConfig:
    from world_model_planner.core import config as cfg
    from world_model_planner.core.paths import resolve

    return cfg.load(CollectConfig, resolve("config/collect_push.yaml", kind="collect config"))


def test_collector_records_the_object_and_goal_it_was_given():
    collector = EpisodeCollector(PUSH, _push_collect_config())
    try:
        ep = collector.episode(episode_seed(0, 1), 1)
        assert ep.object_pose.shape == (PUSH.episode_steps + 1, 3)
        rest = np.asarray(PUSH.push.rest_pose)
        np.testing.assert_allclose(ep.qpos[0], rest, atol=1e-6)
        np.testing.assert_allclose(ep.goal_qpos, rest)
        assert np.linalg.norm(ep.goal_object[:2] - ep.object_pose[0, :2]) >= 0.08
    finally:
        collector.close()


def test_wmp_validate_reports_contact_statistics(tmp_path):
    out = tmp_path / "push"
    collect(out, 3, seed=1, simulation=PUSH, config=_push_collect_config(), progress=False)
    done = subprocess.run([sys.executable, "-m", "world_model_planner.cli", "validate", str(out),
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    contact = json.loads(done.stdout)["datasets"][0]["contact"]
    assert set(contact) >= {"episodes_moved", "mean_final_displacement_m"}
    text = subprocess.run([sys.executable, "-m", "world_model_planner.cli", "validate", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert "object moved >= 2 cm in" in text.stderr


def test_the_gazebo_push_world_holds_the_configured_object():
    import xml.etree.ElementTree as ET
    from pathlib import Path

    from world_model_planner.core import config as cfg
    from world_model_planner.core.paths import resolve
    from world_model_planner.core.sim.gazebo_world import PUSH_WORLD, REACH_WORLD, push_world_sdf

    root = Path(__file__).resolve().parents[1]
    sim = cfg.load(cfg.SimulationConfig, resolve("config/sim.yaml", kind="sim config"),
                   node=cfg.SIM_NODE)
    committed = (root / PUSH_WORLD).read_text()
    assert committed == push_world_sdf((root / REACH_WORLD).read_text(), sim.push), \
        "description/worlds/push.sdf is out of date: run 'make worlds'"
    model = ET.fromstring(committed).find("world/model[@name='push_object']")
    size = [float(v) for v in model.find("link/collision/geometry/box/size").text.split()]
    o = sim.push.object
    assert size == pytest.approx([o.length, o.width, o.height])
    assert float(model.find("link/inertial/mass").text) == pytest.approx(o.mass)
    assert float(model.find("link/collision/surface/friction/ode/mu").text) == o.friction


def test_push_cost_prefers_futures_that_bring_the_object_to_the_goal(push_sim):
    from world_model_planner.core.planning.costs import Goal, PlanningCost
    from world_model_planner.core.runtime import Rollout

    robot, horizon = push_sim.robot, 4
    cost = PlanningCost(PlannerConfig().cost, robot, robot.action_bound(0.1), horizon,
                        PlannerConfig().push)
    goal = Goal(None, kind="push", object=np.array([0.40, 0.0, 1.0, 0.0]))
    joints = np.tile(np.asarray(PUSH.push.rest_pose, np.float32), (3, horizon, 1))
    objects = np.zeros((3, horizon, 4), np.float32)
    objects[..., 2] = 1.0
    objects[0, :, 0] = 0.30  # stays 10 cm short
    objects[1, :, 0] = np.linspace(0.32, 0.39, horizon)  # is pushed to the goal
    objects[2, :, 0] = np.linspace(0.28, 0.22, horizon)  # is pushed away
    rollout = Rollout(np.zeros((3, horizon, 8), np.float32), np.zeros((3, horizon), np.float32),
                      joints, objects)
    total, terms = cost(rollout, np.zeros((3, horizon, 4), np.float32), np.zeros(4), goal)
    assert terms["object_goal"][1] < terms["object_goal"][0] < terms["object_goal"][2]
    assert total[1] < total[0] < total[2]
    # The approach term pulls the tool to where a push towards the goal starts: behind the
    # object (seen from the goal), at pushing height.
    lower, upper = robot.limits_with_margin()
    behind, _ = ToolIK(robot, lower, upper).solve(np.array([0.21, 0.0, 0.025]), joints[0, 0])
    near = Rollout(rollout.latent_mean[:2], rollout.disagreement[:2],
                   np.stack([joints[0], np.tile(behind.astype(np.float32), (horizon, 1))]),
                   np.stack([objects[0], objects[0]]))
    _, terms = cost(near, np.zeros((2, horizon, 4), np.float32), np.zeros(4), goal)
    assert terms["approach"][1] < 0.2 * terms["approach"][0]


def test_push_eval_runs_the_reference_methods_on_the_same_seeded_tasks(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "world_model_planner.cli", "eval", "--task", "push",
         "--methods", "scripted,perceived_scripted,random", "--conditions",
         "nominal,object_mass,object_push",
         "--episodes", "2", "--out", str(tmp_path), "--json", "--quiet"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    summary = out["summary"]
    assert out["info"]["task"] == "push"
    # Contact is chaotic: a push that succeeds on one CPU can end 4 cm off on another, so the
    # reference methods are told apart by where they leave the object, not by a perfect score.
    scripted, flailing = summary["scripted"]["nominal"], summary["random"]["nominal"]
    assert scripted["success_rate"] >= 0.5
    assert flailing["success_rate"] == 0.0
    assert scripted["final_error_mean_m"] < 0.5 * flailing["final_error_mean_m"]
    # the same pusher on what the push model reads from the frames and the goal image
    perceived = summary["perceived_scripted"]["nominal"]
    assert perceived["final_error_mean_m"] < 0.5 * flailing["final_error_mean_m"]
    assert out["info"]["model_id"].startswith("wmp_arm_push")
    assert summary["scripted"]["object_mass"]["shared_with"] is None  # physics changed: rerun
    text = (tmp_path / "EVAL.md").read_text()
    assert "# Evaluation: pushing" in text and "scripted pusher (true object pose)" in text
    bad = subprocess.run([sys.executable, "-m", "world_model_planner.cli", "eval", "--task",
                          "push", "--methods", "p_controller", "--no-report"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "p_controller" in bad.stderr


# -- the planner's push proposals: what they push in the simulator, and that the optimiser
# considers them

def test_sending_the_first_step_of_each_proposal_pushes_the_object_to_the_goal(push_sim):
    """As the controller uses it: a proposal per step, only its first action sent. The
    primitive's phase must follow the sent steps, not the imagined rest of each proposal."""
    robot = push_sim.robot
    bound = robot.action_bound(PUSH.sim.control_period)
    prior = PushPrior(robot, bound, 8, PlannerConfig().push.contact_offset)
    start, target = np.array([0.33, 0.05, 0.4]), np.array([0.42, -0.05])
    obs = push_sim.reset(np.asarray(PUSH.push.rest_pose), object_pose=start)
    lower, upper = robot.limits_with_margin()
    errors = []
    for _ in range(70):
        proposal = prior.sequence(obs.qpos, push_sim.object_pose(), target)
        assert proposal.shape == (8, robot.dof)
        assert np.all(np.abs(proposal) <= bound + 1e-6)
        obs = push_sim.step(np.clip(obs.qpos + proposal[0], lower, upper))
        errors.append(np.linalg.norm(push_sim.object_pose()[:2] - target))
    inside = np.array(errors) < PUSH.push.success_radius
    # the task's success: within the radius for 3 consecutive control steps
    assert np.convolve(inside, np.ones(3), "valid").max() == 3, np.round(errors, 3)


def test_a_proposal_imagines_the_push_going_on_over_the_horizon(push_sim):
    """Once the tool is behind the object, every imagined step advances it towards the goal
    (the object moves ahead of the tool), instead of stopping at the object's start."""
    robot = push_sim.robot
    prior = PushPrior(robot, robot.action_bound(PUSH.sim.control_period), 8,
                      PlannerConfig().push.contact_offset)
    obj, target = np.array([0.27, 0.0, 0.0]), np.array([0.47, 0.0])
    behind, _ = prior.pusher.ik.solve(np.array([0.27 - 0.075, 0.0, 0.025]),
                                      np.asarray(PUSH.push.rest_pose))
    prior.pusher.phase = "push"
    proposal = prior.sequence(behind, obj, target)
    tool = robot.tool_positions(behind + np.cumsum(proposal, axis=0))
    assert np.all(np.diff(tool[:7, 0]) > 0.01), tool[:, 0]
    assert tool[6, 0] > 0.27, "the tool stopped behind the object's start"
    assert prior.pusher.phase == "push"


@pytest.mark.parametrize("algorithm", ["cem", "mppi"])
def test_the_optimiser_finds_a_good_proposal_random_samples_miss(algorithm):
    bound = np.array([0.1, 0.1, 0.1, 0.1], np.float32)
    target = np.tile(np.array([0.09, -0.09, 0.08, -0.07], np.float32), (8, 1))

    def evaluate(samples):
        return np.sum((samples - target) ** 2, axis=(1, 2))

    found = {}
    for prior in (None, target):
        opt = make_optimizer(OptimizerConfig(algorithm=algorithm, samples=64, iterations=2,
                                             prior_samples=16), bound, 8)
        result = opt.optimize(evaluate, prior)
        found[prior is None] = float(np.abs(result.actions - target).max())
    assert found[False] < 0.02 < found[True], found


# -- the monitor with the push model: a camera that works is looked at again

def test_after_a_camera_dropout_the_push_planner_looks_at_the_camera_again():
    """A 1 s dark camera mid-push, as `wmp eval --task push` stages it (the controller with its
    calibrated monitor, tuning seed 100): dark frames are blamed on the camera, but once frames
    return and show the arm where the joints are, the camera works, whatever the imagined
    object says. Blaming the camera for an imagination gone wrong would plan on that
    imagination for the rest of the episode (it did here for 50 of 60 steps)."""
    from world_model_planner.core import config as cfg
    from world_model_planner.core.eval import Evaluator
    from world_model_planner.core.eval_run import eval_config, task_planner
    from world_model_planner.core.paths import resolve
    from world_model_planner.core.safety import SURPRISE_CAMERA

    node = cfg.load(cfg.PlannerNodeConfig, resolve("config/planner.yaml", kind="planner config"),
                    node=cfg.PLANNER_NODE)
    evaluator = Evaluator(PUSH, task_planner(PUSH, node.planner, False),
                          eval_config("push", 1, 100, ["wm_cem"], ["dropout"]))
    result = evaluator.run_episode("wm_cem", "dropout", 0)
    drop = PUSH.perturbations.dropout
    dark = result.decisions[drop.start_step:drop.start_step + drop.steps]
    after = result.decisions[drop.start_step + drop.steps + 3:]
    assert dark == [SURPRISE_CAMERA] * drop.steps
    assert after and SURPRISE_CAMERA not in after, result.decisions

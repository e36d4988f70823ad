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
"""The planner that optimises on the torch backend's device (`planner.fused`) against the numpy one.

Its kinematics and cost are held to the numpy code term by term, and given the numpy
optimiser's random draws it must choose the same plan; on the shipped model it must steer the
simulated arm to a goal like the numpy planner does.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from scenes import reach_episode

from world_model_planner.core.config import OptimizerConfig, PlannerConfig
from world_model_planner.core.paths import share_path
from world_model_planner.core.planning.controller import MPCController
from world_model_planner.core.planning.costs import Goal, PlanningCost
from world_model_planner.core.planning.planner import LatentPlanner
from world_model_planner.core.planning.torch_backend import TorchWorldModel
from world_model_planner.core.planning.torch_planner import (TERMS, TorchKinematics, TorchPlanner,
                                                             TorchPlanningCost)
from world_model_planner.core.robot import Robot

MODEL = Path(os.environ.get("WMP_TEST_MODEL", share_path("models", "wmp_arm_reach")))
ROBOTS = sorted(Path(share_path("config", "robots")).glob("*.yaml"))


def t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32))


@pytest.fixture(scope="module")
def model() -> TorchWorldModel:
    return TorchWorldModel(MODEL)


@pytest.fixture(scope="module")
def scene():
    sim, task, obs, goal = reach_episode(4)
    yield sim, task, obs, goal
    sim.close()


@pytest.mark.parametrize("path", ROBOTS, ids=[p.stem for p in ROBOTS])
def test_torch_kinematics_put_the_tool_where_the_numpy_kinematics_do(path):
    robot = Robot.load(path)
    q = np.random.default_rng(0).uniform(robot.lower - 0.5, robot.upper + 0.5,
                                         (64, 8, robot.dof)).astype(np.float32)
    np.testing.assert_allclose(TorchKinematics(robot)(t(q)).numpy(), robot.tool_positions(q),
                               atol=2e-6)


def test_torch_cost_equals_the_numpy_cost_term_by_term(model):
    robot = Robot.load()
    weights = PlannerConfig().cost
    rng = np.random.default_rng(1)
    n, h, j, d = 128, model.horizon, model.joints, model.latent_dim
    # Joints past the limit margins too, so the barrier term is not zero.
    joints = rng.uniform(robot.lower - 0.3, robot.upper + 0.3, (n, h, j)).astype(np.float32)
    latents = rng.standard_normal((n, h, d)).astype(np.float32)
    disagreement = rng.uniform(0, 0.1, (n, h)).astype(np.float32)
    actions = (rng.uniform(-1, 1, (n, h, j)) * model.action_bound).astype(np.float32)
    previous = (rng.uniform(-1, 1, j) * model.action_bound).astype(np.float32)
    goal = Goal(np.array([0.3, 0.1, 0.4]), joints=rng.uniform(robot.lower, robot.upper),
                latent=rng.standard_normal(d).astype(np.float32), kind="image")
    from world_model_planner.core.runtime import Rollout

    _, expected = PlanningCost(weights, robot, model.action_bound, h)(
        Rollout(latents, disagreement, joints), actions, previous, goal)
    terms = TorchPlanningCost(weights, robot, model.action_bound, h)(
        t(joints), t(latents), t(disagreement), t(actions), t(previous), t(goal.tool_position),
        t(goal.joints), t(goal.latent), t([1.0, 1.0])).numpy()
    assert expected["joint_limit"].min() > 0
    for i, name in enumerate(TERMS):
        np.testing.assert_allclose(terms[i], expected[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("algorithm", ["cem", "mppi"])
def test_given_the_numpy_draws_the_fused_step_chooses_the_numpy_plan(model, scene, algorithm):
    _, _, obs, goal = scene
    robot = Robot.load()
    cfg = PlannerConfig(model=str(MODEL), backend="torch",
                        optimizer=OptimizerConfig(algorithm=algorithm, seed=3))
    image = obs.image[None]
    state = np.concatenate([obs.qpos, obs.qvel]).astype(np.float32)[None]
    latent = model.encode(image, state, np.ones((1, 2), np.float32))[0]
    target = Goal(goal.tool_position, joints=goal.joints, latent=None, kind="joints")
    reference = LatentPlanner(model, robot, cfg)
    previous = (0.3 * model.action_bound).astype(np.float32)
    reference.previous_action = previous.copy()
    expected = reference.plan(latent, target, qpos=obs.qpos)

    opt = cfg.optimizer
    rng = np.random.default_rng(opt.seed)  # the numpy optimiser's draws, in its order
    noise = np.stack([rng.standard_normal((opt.samples, cfg.horizon, model.joints),
                                          dtype=np.float32) for _ in range(opt.iterations)])
    fused = TorchPlanner(model, robot, cfg)
    h, j = cfg.horizon, model.joints
    with torch.inference_mode():
        out = fused.step_fn(t(latent), t(obs.qpos), t(1.0), t(np.zeros((h, j))), t(1.0),
                            t(noise), t(previous), t(target.tool_position), t(target.joints),
                            t(np.zeros(model.latent_dim)), t([1.0, 0.0])).numpy()
    np.testing.assert_allclose(out[: h * j].reshape(h, j), expected.actions, atol=1e-5)
    np.testing.assert_allclose(out[h * j], expected.cost, rtol=1e-4)
    np.testing.assert_allclose(out[h * j + 1: 2 * h * j + 1].reshape(h, j),
                               expected.predicted_joints, atol=1e-4)


@pytest.mark.parametrize("algorithm", ["cem", "mppi"])
def test_fused_planner_steers_the_arm_to_a_joint_goal(model, scene, algorithm):
    sim, _, obs, goal = scene
    robot = Robot.load()
    cfg = PlannerConfig(model=str(MODEL), backend="torch",
                        optimizer=OptimizerConfig(algorithm=algorithm))
    controller = MPCController(model, robot, cfg, 0.1)
    assert isinstance(controller.planner, TorchPlanner)
    controller.set_goal_joints(goal.joints)
    start = float(np.linalg.norm(robot.tool_positions(obs.qpos) - goal.tool_position))
    current = obs
    for step in range(40):
        result = controller.step(current)
        plan = result.plan
        assert np.all(np.abs(plan.actions) <= model.action_bound + 1e-6)
        if step == 0:
            assert plan.costs_per_iteration[-1] <= plan.costs_per_iteration[0] + 1e-5
            shifted = controller.planner._mean.cpu().numpy()
        current = sim.step(result.command)
    error = float(np.linalg.norm(robot.tool_positions(current.qpos) - goal.tool_position))
    sim.reset(obs.qpos)
    assert error < 0.03 < start, (start, error)
    assert np.abs(shifted).max() > 0  # the plan is kept for the next step's warm start


def test_fused_planner_on_a_gpu_replays_one_graph_that_plans_what_eager_does(scene):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU (run on a GPU machine: pytest -k fused)")
    _, _, obs, goal = scene
    robot = Robot.load()
    cfg = PlannerConfig(model=str(MODEL), backend="torch", torch_device="cuda")
    plans = {}
    for graphs in (False, True):
        gpu = TorchWorldModel(MODEL, device="cuda", cuda_graphs=graphs)
        planner = TorchPlanner(gpu, robot, dataclasses.replace(cfg, cuda_graphs=graphs))
        latent = gpu.encode(obs.image[None], np.concatenate([obs.qpos, obs.qvel]).astype(
            np.float32)[None], np.ones((1, 2), np.float32))[0]
        target = Goal(goal.tool_position, joints=goal.joints, kind="joints")
        plans[graphs] = [planner.plan(latent, target, qpos=obs.qpos) for _ in range(3)]
    for eager, graphed in zip(plans[False], plans[True]):  # same seed: the same draws
        np.testing.assert_allclose(graphed.actions, eager.actions, atol=1e-4)
        assert graphed.terms.keys() == eager.terms.keys()

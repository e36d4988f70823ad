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
"""The push primitive's proposals: what they push in the simulator, and that the optimiser
considers them."""

from __future__ import annotations

import numpy as np
import pytest

from world_model_planner.core.config import OptimizerConfig, PlannerConfig, SimulationConfig
from world_model_planner.core.planning.optimizers import make_optimizer
from world_model_planner.core.planning.push_prior import PushPrior
from world_model_planner.core.sim.arm import simulator_for

PUSH = SimulationConfig(task="push")


@pytest.fixture(scope="module")
def push_sim():
    sim = simulator_for(PUSH)
    yield sim
    sim.close()


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

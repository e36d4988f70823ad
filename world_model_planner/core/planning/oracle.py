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
"""Oracle MPC: the same optimiser and cost, with MuJoCo itself as the model.

This is the upper bound for world-model MPC: perfect state, perfect dynamics. Each optimiser
iteration rolls all N sampled sequences forward in MuJoCo's multi-threaded rollout, one control
period at a time (the command of each step depends on the joint positions reached, exactly as in
the real loop). The planning copy integrates with a coarser physics step than the simulated world
(default 5 ms instead of 2 ms: tool positions within 1 mm on average, 3 mm at the 99th
percentile over 8 steps) so that 256 x 8 x 3 rollouts take well under a second; the
world it acts in is the unchanged simulator.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..config import OptimizerConfig, PlannerConfig, PushObjectConfig, SimConfig
from ..robot import Robot
from ..sim.arm import ArmSim
from .costs import Goal, PlanningCost
from .optimizers import make_optimizer

PLANNING_TIMESTEP = 0.005


class MujocoRolloutModel:
    """N action sequences -> joint positions reached after each of H control periods."""

    def __init__(self, sim_config: SimConfig, robot: Robot, threads: int = 2,
                 timestep: float = PLANNING_TIMESTEP,
                 push_object: PushObjectConfig | None = None) -> None:
        import mujoco
        from mujoco import rollout

        coarse = dataclasses.replace(sim_config, physics_timestep=timestep, shadows=False,
                                     image_width=8, image_height=8)
        self._mj, self._rollout = mujoco, rollout
        # Used for its model only; never rendered.
        self.sim = ArmSim(coarse, robot, push_object=push_object)
        self.model = self.sim.model
        self.datas = [mujoco.MjData(self.model) for _ in range(max(1, threads))]
        self.substeps = int(round(sim_config.control_period / timestep))
        self.spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self.nstate = mujoco.mj_stateSize(self.model, self.spec)
        self.qadr = self.sim._qadr
        self.act = self.sim._act
        self.robot = robot

    def state_of(self, world: ArmSim) -> np.ndarray:
        """The full physics state of the real simulator, for use as a rollout start."""
        state = np.empty(self.nstate)
        self._mj.mj_getState(world.model, world.data, state, self.spec)
        return state

    def match(self, world: ArmSim) -> None:
        """Give the planning copy the world's object (size, mass, friction): perfect knowledge."""
        if self.sim.object_editor is not None and world.object_editor is not None:
            self.sim.object_editor.apply(world.object_editor.look)

    def joint_positions(self, start: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """start (nstate,), actions (N,H,J) joint deltas -> reached joint positions (N,H,J)."""
        return self.futures(start, actions)[0]

    def futures(self, start: np.ndarray, actions: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray | None]:
        """Reached joint positions (N,H,J) and, with a push object, its poses (N,H,3)."""
        n, h, j = actions.shape
        states = np.tile(start, (n, 1))
        out = np.empty((n, h, j))
        pushing = self.sim.push_object is not None
        objects = np.empty((n, h, 3)) if pushing else None
        a = 1 + self.sim._object_qadr
        control = np.zeros((n, self.substeps, self.model.nu))
        for t in range(h):
            q = states[:, 1 + self.qadr]
            target = np.clip(q + actions[:, t], self.robot.lower, self.robot.upper)
            control[:, :, self.act] = target[:, None, :]
            result, _ = self._rollout.rollout(self.model, self.datas, states, control,
                                              persistent_pool=True)
            states = result[:, -1]
            out[:, t] = states[:, 1 + self.qadr]
            if objects is not None:
                objects[:, t, :2] = states[:, a:a + 2]
                w, x, y, z = states[:, a + 3:a + 7].T
                objects[:, t, 2] = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
        return out, objects


@dataclasses.dataclass
class _FakeRollout:
    """The cost's view of MuJoCo's futures: no latents, no disagreement."""

    latent_mean: np.ndarray
    disagreement: np.ndarray
    joint_positions: np.ndarray
    object: np.ndarray | None = None


class OraclePlanner:
    def __init__(self, world: ArmSim, cfg: PlannerConfig, action_bound: np.ndarray,
                 threads: int = 2) -> None:
        self.world = world
        self.model = MujocoRolloutModel(world.config, world.robot, threads,
                                        push_object=world.push_object)
        opt: OptimizerConfig = cfg.optimizer
        self.optimizer = make_optimizer(opt, action_bound, cfg.horizon)
        weights = dataclasses.replace(cfg.cost, latent_goal=0.0, disagreement=0.0)
        push = dataclasses.replace(cfg.push, latent_goal=0.0)
        self.cost = PlanningCost(weights, world.robot, action_bound, cfg.horizon, push)
        self.symmetry = world.push_object.symmetry if world.push_object is not None else 1
        self.previous = np.zeros(len(action_bound), dtype=np.float32)
        self._empty = np.zeros((opt.samples, cfg.horizon, 1), np.float32)
        self._no_dis = np.zeros((opt.samples, cfg.horizon), np.float32)

    def reset(self, seed: int | None = None) -> None:
        self.optimizer.reset(seed)
        self.previous[:] = 0.0

    def plan(self, goal: Goal) -> np.ndarray:
        """The first action of the best plan; push goals carry the true goal object features."""
        start = self.model.state_of(self.world)
        self.model.match(self.world)

        def evaluate(samples: np.ndarray) -> np.ndarray:
            joints, objects = self.model.futures(start, samples)
            features = None
            if objects is not None:
                k = self.symmetry
                features = np.concatenate([objects[..., :2], np.cos(k * objects[..., 2:3]),
                                           np.sin(k * objects[..., 2:3])], axis=-1)
            rollout = _FakeRollout(self._empty, self._no_dis, joints, features)
            costs, _ = self.cost(rollout, samples, self.previous, goal, use_latent=False)
            return costs

        result = self.optimizer.optimize(evaluate)
        self.previous = result.actions[0].astype(np.float32)
        return self.previous.copy()

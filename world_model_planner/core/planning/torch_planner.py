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
"""The whole planning step in torch: sampling, rollouts, cost terms and refit on the model's device.

With the torch backend on a GPU, the numpy optimiser between network calls costs more than the
calls themselves: each iteration copies the rollout to the host, runs the cost terms and the
kinematics there, refits, and copies the next samples back (6.7 ms per step on an H100, of which
the networks are 2.5). Here every iteration runs as torch code on the model's device and, with
CUDA graphs, one plan is captured once and replayed: a single launch and one copy each way per
control step. It is the numpy planner's algorithm, term for term (tests hold the cost and the
kinematics to :class:`PlanningCost` and :class:`ForwardKinematics`); only the random draws
differ, coming from a torch generator seeded with `optimizer.seed`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import CostWeights, OptimizerConfig, PlannerConfig
from ..robot import Robot
from .costs import Goal
from .planner import Plan, check_horizon, predict_next
from .torch_backend import CudaGraphs, TorchWorldModel

TERMS = ("tool_goal", "joint_goal", "latent_goal", "smoothness", "joint_limit", "disagreement")


class TorchKinematics(nn.Module):
    """Tool positions (..., 3) from joints (..., J) in the robot's joint order.

    The point is carried from the tool back to the root, as ForwardKinematics.positions does."""

    def __init__(self, robot: Robot) -> None:
        super().__init__()
        self.register_buffer("order", torch.as_tensor(
            robot.to_description_order(np.arange(robot.dof)), dtype=torch.long))
        self._chain: list[tuple[int, bool, bool]] = []  # (joint index or -1, turns, shifts)
        for i, (step, _, turns, shifts) in enumerate(robot.kinematics.to_root):
            axis = np.zeros(3) if step.axis is None else step.axis
            self.register_buffer(f"axis{i}", torch.as_tensor(axis, dtype=torch.float32))
            self.register_buffer(f"rotation{i}", torch.as_tensor(step.fixed[:3, :3].T,
                                                                 dtype=torch.float32))
            self.register_buffer(f"offset{i}", torch.as_tensor(step.fixed[:3, 3],
                                                               dtype=torch.float32))
            self._chain.append((-1 if step.axis is None else step.index, turns, shifts))

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        q = q[..., self.order]
        point: torch.Tensor | None = None
        for i, (index, turns, shifts) in enumerate(self._chain):
            if index >= 0 and point is not None:
                point = _rotate(getattr(self, f"axis{i}"), q[..., index], point)
            offset = getattr(self, f"offset{i}")
            if point is None:
                point = offset.expand(*q.shape[:-1], 3)
                continue
            if turns:
                point = point @ getattr(self, f"rotation{i}")
            if shifts:
                point = point + offset
        if point is None:
            return q.new_zeros(*q.shape[:-1], 3)
        return point


def _rotate(axis: torch.Tensor, angle: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Points v (..., 3) rotated about a unit axis by angles (...) (Rodrigues' formula)."""
    c, s = torch.cos(angle)[..., None], torch.sin(angle)[..., None]
    along = (v * axis).sum(-1, keepdim=True) * (1.0 - c)
    return v * c + torch.linalg.cross(axis.expand_as(v), v, dim=-1) * s + axis * along


class TorchPlanningCost(nn.Module):
    """PlanningCost on tensors; the goal terms that may be absent are weighted by 0/1 switches so
    one captured graph serves joint, tool and image goals."""

    def __init__(self, weights: CostWeights, robot: Robot, action_bound: np.ndarray,
                 horizon: int) -> None:
        super().__init__()
        self.w = weights
        self.kinematics = TorchKinematics(robot)
        self.register_buffer("bound", torch.as_tensor(action_bound, dtype=torch.float32))
        self.register_buffer("lower", torch.as_tensor(robot.lower + weights.limit_margin,
                                                      dtype=torch.float32))
        self.register_buffer("upper", torch.as_tensor(robot.upper - weights.limit_margin,
                                                      dtype=torch.float32))
        steps = torch.ones(horizon)
        steps[-1] += weights.terminal
        self.register_buffer("step_weights", steps / steps.sum())

    def forward(self, joints: torch.Tensor, latents: torch.Tensor, disagreement: torch.Tensor,
                actions: torch.Tensor, previous_action: torch.Tensor, goal_tool: torch.Tensor,
                goal_joints: torch.Tensor, goal_latent: torch.Tensor, switches: torch.Tensor
                ) -> torch.Tensor:
        """Terms (6, N) in TERMS order. switches: (2,) joint goal on, latent goal on."""
        w, sw = self.w, self.step_weights
        tool = self.kinematics(joints)
        tool_goal = w.tool_goal * (torch.linalg.vector_norm(tool - goal_tool, dim=-1) @ sw)
        d = joints - goal_joints
        joint_goal = w.joint_goal * switches[0] * ((d * d).mean(-1) @ sw)
        diff = latents - goal_latent
        latent_goal = w.latent_goal * switches[1] * ((diff * diff).mean(-1) @ sw)
        scaled = actions / self.bound
        prev = (previous_action / self.bound).expand(len(actions), 1, -1)
        delta = torch.diff(torch.cat([prev, scaled], dim=1), dim=1)
        smoothness = w.smoothness * (delta * delta).sum(-1).mean(-1)
        below = torch.clamp(self.lower - joints, min=0.0)
        above = torch.clamp(joints - self.upper, min=0.0)
        joint_limit = w.joint_limit * (below * below + above * above).sum(dim=(1, 2))
        return torch.stack([tool_goal, joint_goal, latent_goal, smoothness, joint_limit,
                            w.disagreement * disagreement.mean(-1)])


class PlanStep(nn.Module):
    """One control step's optimisation, every iteration unrolled, as a function of tensors only
    (so it can be captured as one CUDA graph). Returns everything the host needs in one flat
    vector: one copy back per step."""

    def __init__(self, model: TorchWorldModel, robot: Robot, cfg: PlannerConfig) -> None:
        super().__init__()
        self.opt: OptimizerConfig = cfg.optimizer
        self.rollout = model.rollout_graph
        self.head = model.net.proprio_head
        self.joints = robot.dof
        bound = np.asarray(model.action_bound, dtype=np.float32)
        self.cost = TorchPlanningCost(cfg.cost, robot, bound, cfg.horizon)
        self.register_buffer("bound", torch.as_tensor(bound))
        self.register_buffer("min_std", torch.as_tensor(self.opt.min_std * bound))
        self.register_buffer("init_std", torch.as_tensor(self.opt.init_std * bound))

    def forward(self, latent: torch.Tensor, qpos: torch.Tensor, anchor: torch.Tensor,
                previous_mean: torch.Tensor, warm: torch.Tensor, noise: torch.Tensor,
                previous_action: torch.Tensor, goal_tool: torch.Tensor,
                goal_joints: torch.Tensor, goal_latent: torch.Tensor, switches: torch.Tensor
                ) -> torch.Tensor:
        opt, bound, j = self.opt, self.bound, self.joints
        # Imagined joints are anchored to the measurement: the head's bias at the start cancels.
        offset = anchor * (qpos - self.head(latent[None])[0, :j])
        start = latent.expand(opt.samples, -1)
        mean = warm * torch.cat([previous_mean[1:], torch.zeros_like(previous_mean[:1])])
        std = self.init_std.expand_as(mean)
        history = []
        for i in range(opt.iterations):
            samples = torch.clamp(mean + noise[i] * std, -bound, bound)
            samples = torch.cat([torch.clamp(mean, -bound, bound)[None],  # the mean itself
                                 torch.zeros_like(mean)[None], samples[2:]])  # standing still
            latents, disagreement, joints = self.rollout(start, samples)
            joints = joints + offset
            terms = self.cost(joints, latents, disagreement, samples, previous_action,
                              goal_tool, goal_joints, goal_latent, switches)
            costs = terms.sum(0)
            history.append(costs.min())
            if opt.algorithm == "cem":
                elite = samples[torch.topk(costs, min(opt.elites, opt.samples),
                                           largest=False).indices]
                mean = opt.momentum * mean + (1 - opt.momentum) * elite.mean(0)
                std = torch.maximum(elite.std(0, correction=0), self.min_std)
            else:
                spread = costs.std(correction=0) + 1e-9
                weights = torch.softmax(-(costs - costs.min()) / (opt.temperature * spread), 0)
                new_mean = torch.tensordot(weights, samples, dims=1)
                mean = opt.momentum * mean + (1 - opt.momentum) * new_mean
                var = torch.tensordot(weights, (samples - new_mean) ** 2, dims=1)
                std = torch.maximum(var.sqrt(), self.min_std)
        # Indexed by a one-element tensor: a 0-d index would be read back to the host, which a
        # CUDA graph capture does not allow.
        best = torch.argmin(costs, dim=0, keepdim=True)
        if opt.algorithm == "cem":
            chosen, cost = samples[best][0], costs[best][0]
            path_latents, path_dis = latents[best][0], disagreement[best][0]
            path_joints, path_terms = joints[best][0], terms[:, best][:, 0]
        else:  # MPPI executes the weighted mean: show the imagined path of that mean
            chosen, cost = torch.clamp(mean, -bound, bound), costs[best][0]
            path_latents, path_dis, path_joints = self.rollout(latent[None], chosen[None])
            path_latents, path_dis = path_latents[0], path_dis[0]
            path_joints = path_joints[0] + offset
            path_terms = torch.full_like(terms[:, 0], float("nan"))
        return torch.cat([chosen.flatten(), cost[None], path_joints.flatten(),
                          self.cost.kinematics(path_joints).flatten(), path_latents.flatten(),
                          path_dis, path_terms, torch.stack(history), mean.flatten()])


class TorchPlanner:
    """LatentPlanner's interface with the optimisation on the torch backend's device.

    On a GPU with `planner.cuda_graphs` the step is one captured graph; elsewhere the same code
    runs eagerly."""

    def __init__(self, model: TorchWorldModel, robot: Robot, cfg: PlannerConfig) -> None:
        check_horizon(cfg, model)
        self.model, self.robot, self.cfg = model, robot, cfg
        self.device = model.device
        self.step_fn = PlanStep(model, robot, cfg).to(self.device).eval()
        self._run: Any = self.step_fn
        if cfg.cuda_graphs and self.device.type == "cuda":
            self._run = CudaGraphs(self.step_fn)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(cfg.optimizer.seed)
        self.horizon, self.joints, self.latent_dim = cfg.horizon, robot.dof, model.latent_dim
        self.previous_action = np.zeros(self.joints, dtype=np.float32)
        self._mean = torch.zeros(cfg.horizon, self.joints, device=self.device)
        self._noise = torch.empty(cfg.optimizer.iterations, cfg.optimizer.samples, cfg.horizon,
                                  self.joints, device=self.device)

    def reset(self, seed: int | None = None) -> None:
        self._mean.zero_()
        self.previous_action[:] = 0.0
        if seed is not None:
            self.generator.manual_seed(seed)

    def _tensor(self, x: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32)).to(self.device)

    @torch.inference_mode()
    def plan(self, latent: np.ndarray, goal: Goal, use_latent_goal: bool = True,
             qpos: np.ndarray | None = None) -> Plan:
        started = time.perf_counter()
        h, j, d = self.horizon, self.joints, self.latent_dim
        torch.randn(self._noise.shape, generator=self.generator, out=self._noise)
        use_latent = use_latent_goal and goal.latent is not None and self.cfg.cost.latent_goal > 0
        use_joints = goal.joints is not None and self.cfg.cost.joint_goal > 0
        warm = 1.0 if self.cfg.optimizer.warm_start else 0.0
        out = self._run(
            self._tensor(latent), self._tensor(np.zeros(j) if qpos is None else qpos),
            self._tensor(0.0 if qpos is None else 1.0), self._mean, self._tensor(warm),
            self._noise, self._tensor(self.previous_action), self._tensor(goal.tool_position),
            self._tensor(goal.joints if use_joints else np.zeros(j)),
            self._tensor(goal.latent if use_latent else np.zeros(d)),
            self._tensor([float(use_joints), float(use_latent)]))
        self._mean = out[-h * j:].reshape(h, j).clone()  # a graph overwrites `out` next call
        values = out.cpu().numpy()
        parts, at = {}, 0
        for name, size in (("actions", h * j), ("cost", 1), ("joints", h * j), ("tool", h * 3),
                           ("latents", h * d), ("disagreement", h), ("terms", len(TERMS)),
                           ("history", self.cfg.optimizer.iterations)):
            parts[name], at = values[at:at + size], at + size
        actions = parts["actions"].reshape(h, j).copy()
        terms = {} if np.isnan(parts["terms"]).all() else {
            name: float(v) for name, v, on in zip(TERMS, parts["terms"],
                                                  (True, use_joints, use_latent, True, True, True))
            if on}
        self.previous_action = actions[0].copy()
        return Plan(action=actions[0].copy(), actions=actions, cost=float(parts["cost"][0]),
                    predicted_joints=parts["joints"].reshape(h, j).copy(),
                    predicted_tool=parts["tool"].reshape(h, 3).copy(),
                    predicted_latents=parts["latents"].reshape(h, d).copy(),
                    disagreement=parts["disagreement"].copy(),
                    seconds=time.perf_counter() - started, terms=terms,
                    costs_per_iteration=[float(c) for c in parts["history"]])

    def predict_next(self, latent: np.ndarray, action: np.ndarray) -> np.ndarray:
        return predict_next(self.model, latent, action)

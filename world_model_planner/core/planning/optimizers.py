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
"""Sampling-based trajectory optimisers: CEM and MPPI, with warm start.

Both draw N action sequences around a mean, have them scored by one batched call of the world
model per iteration, and refit the mean. CEM refits mean and spread to the best `elites`; MPPI
averages all samples with softmax weights of their costs. The mean is kept between control steps
and shifted by one step (warm start), so each step refines the last plan instead of starting over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..config import OptimizerConfig

Evaluate = Callable[[np.ndarray], np.ndarray]  # (N,H,J) actions -> (N,) costs


@dataclass
class OptimResult:
    actions: np.ndarray  # (H,J) chosen sequence
    cost: float  # its cost (at its last evaluation)
    best_index: int  # row of the best sequence in the last evaluated batch
    costs_per_iteration: list[float]
    sampled: bool = True  # actions is that row (CEM); False: a weighted mean (MPPI)


class SamplingOptimizer:
    """Common state: the sampling mean, warm start and the sample buffer."""

    def __init__(self, cfg: OptimizerConfig, bound: np.ndarray, horizon: int) -> None:
        self.cfg = cfg
        self.bound = np.asarray(bound, dtype=np.float32)
        self.horizon = horizon
        self.rng = np.random.default_rng(cfg.seed)
        self.mean = np.zeros((horizon, len(self.bound)), dtype=np.float32)
        self._samples = np.empty((cfg.samples, horizon, len(self.bound)), dtype=np.float32)

    def reset(self, seed: int | None = None) -> None:
        """Forget the previous plan (new goal, re-grounding after a surprise); with `seed`, also
        restart the random draws from it, so an episode plans the same whatever ran before."""
        self.mean[:] = 0.0
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def _start(self) -> tuple[np.ndarray, np.ndarray]:
        if self.cfg.warm_start:
            mean = np.concatenate([self.mean[1:], np.zeros_like(self.mean[:1])])
        else:
            mean = np.zeros_like(self.mean)
        std = np.broadcast_to(self.cfg.init_std * self.bound, mean.shape).astype(np.float32)
        return mean, std

    def _draw(self, mean: np.ndarray, std: np.ndarray,
              prior: np.ndarray | None = None) -> np.ndarray:
        s = self._samples
        noise = self.rng.standard_normal(s.shape, dtype=np.float32)
        np.multiply(noise, std, out=s)
        s += mean
        if prior is not None:  # a share of the samples around a proposed sequence
            k = min(self.cfg.prior_samples, len(s) - 2)
            s[2:2 + k] = prior + noise[2:2 + k] * (self.cfg.prior_std * self.bound)
        np.clip(s, -self.bound, self.bound, out=s)
        s[0] = np.clip(mean, -self.bound, self.bound)  # the current mean is always a candidate
        s[1] = 0.0  # and so is standing still
        if prior is not None:
            s[2] = np.clip(prior, -self.bound, self.bound)  # and the proposal itself
        return s

    def optimize(self, evaluate: Evaluate, prior: np.ndarray | None = None) -> OptimResult:
        """The chosen sequence; `prior` (H, J), if given, is proposed in every iteration."""
        raise NotImplementedError


class CEM(SamplingOptimizer):
    def optimize(self, evaluate: Evaluate, prior: np.ndarray | None = None) -> OptimResult:
        cfg = self.cfg
        mean, std = self._start()
        min_std = cfg.min_std * self.bound
        history = []
        elites = min(cfg.elites, cfg.samples)
        for _ in range(cfg.iterations):
            samples = self._draw(mean, std, prior)
            costs = evaluate(samples)
            order = np.argsort(costs)
            best = samples[order[:elites]]
            mean = cfg.momentum * mean + (1 - cfg.momentum) * best.mean(axis=0)
            std = np.maximum(best.std(axis=0), min_std)
            history.append(float(costs[order[0]]))
        chosen = samples[order[0]].copy()
        self.mean = mean.astype(np.float32)
        return OptimResult(chosen, float(costs[order[0]]), int(order[0]), history)


class MPPI(SamplingOptimizer):
    def optimize(self, evaluate: Evaluate, prior: np.ndarray | None = None) -> OptimResult:
        cfg = self.cfg
        mean, std = self._start()
        history = []
        for _ in range(cfg.iterations):
            samples = self._draw(mean, std, prior)
            costs = evaluate(samples)
            spread = float(np.std(costs)) + 1e-9
            weights = np.exp(-(costs - costs.min()) / (cfg.temperature * spread))
            weights /= weights.sum()
            new_mean = np.tensordot(weights, samples, axes=1)
            mean = cfg.momentum * mean + (1 - cfg.momentum) * new_mean
            var = np.tensordot(weights, (samples - new_mean) ** 2, axes=1)
            std = np.maximum(np.sqrt(var), cfg.min_std * self.bound)
            history.append(float(costs.min()))
        best = int(np.argmin(costs))
        self.mean = mean.astype(np.float32)
        # MPPI executes the weighted mean; its cost is estimated by the best sample's.
        return OptimResult(np.clip(mean, -self.bound, self.bound).astype(np.float32),
                           float(costs[best]), best, history, sampled=False)


def make_optimizer(cfg: OptimizerConfig, bound: np.ndarray, horizon: int) -> SamplingOptimizer:
    return {"cem": CEM, "mppi": MPPI}[cfg.algorithm](cfg, bound, horizon)

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
"""`wmp refit-ensemble`: re-train only the dynamics ensemble of a trained model, each member on
its own bootstrap resample of the training episodes, on the frozen encoder's latents.

Why: the planner reads ensemble disagreement as "the model is dreaming" (the disagreement cost
and the report's rank correlation with actual error). Members trained on the very same batches
differ only by their initialisation and agree where they are all wrong; a member that never saw
some episodes disagrees with the others where those episodes mattered, the usual bootstrap
ensemble. Training over longer imagined paths than the main run (20 steps against 10 by default)
covers the horizons the report measures.

The encoder, proprio head and decoder are kept as they are, so the latent space the planner,
goal images and surprise monitor use does not move: every frame is encoded once, and each
training step is then a batch of latent sequences, cheap on a CPU. Validation uses the source
run's episode split, so the report's held-out episodes stay unseen.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import RefitConfig
from . import checkpoint
from .batches import SequenceData, SequenceSampler
from .networks import EnsembleDynamics, WorldModel
from .part_retrain import frozen_source, source_split, warmup_cosine

log = logging.getLogger(__name__)


class RefitError(ValueError):
    """The data does not fit the checkpoint (robot, camera or control period)."""


@torch.no_grad()
def encode_frames(model: WorldModel, seq: SequenceData, batch: int = 1024,
                  progress: bool = False) -> torch.Tensor:
    """Latents (F, D) of every frame from the full observation (image and joints), as a plan
    starts and as the report's targets are."""
    from tqdm import tqdm

    out = []
    for i in tqdm(range(0, len(seq.joint_state), batch), desc="encode frames", unit="batch",
                  file=sys.stderr, disable=not progress):
        js = seq.joint_state[i:i + batch]
        out.append(model.encoder(seq.images[i:i + batch], js, torch.ones(len(js), 2)))
    return torch.cat(out)


def bootstrap_weights(members: int, episodes: int, seed: int, enabled: bool = True
                      ) -> torch.Tensor:
    """(K, E): how many times member k draws episode e in its resample, Poisson(1) per pair
    (the limit of drawing E of E episodes with replacement), fixed for the whole run."""
    if not enabled:
        return torch.ones(members, episodes)
    rng = np.random.default_rng([seed, 0xB007])
    return torch.from_numpy(rng.poisson(1.0, (members, episodes)).astype(np.float32))


def _window_ids(sampler: SequenceSampler, flat: np.ndarray
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The sampler's episode, frame and step ids of sequences `flat`, as torch indices."""
    return tuple(torch.from_numpy(a.astype(np.int64)) for a in sampler.windows(flat))


def _losses(model: WorldModel, dynamics: EnsembleDynamics, latents: torch.Tensor,
            seq: SequenceData, frames: torch.Tensor, steps: torch.Tensor,
            discount: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per member and sequence (K, B): discounted latent error and proprio-head error of the
    imagined path, the two dynamics terms of the main training loss."""
    z = latents[frames]
    imagined = dynamics.rollout(z[:, 0], seq.actions[steps])  # (K,B,H,D)
    latent = ((imagined - z[None, :, 1:]) ** 2).mean(-1)
    head = model.proprio_head
    wanted = head.normalizer(seq.joint_state[frames[:, 1:]])
    proprio = ((head.normalized(imagined) - wanted[None]) ** 2).mean(-1)
    return (latent * discount).sum(-1), (proprio * discount).sum(-1)


class _MemberLoss:
    """The dynamics terms of the main training loss on precomputed latents, per ensemble member,
    each member's sequences weighted by how often its bootstrap resample drew their episode."""

    def __init__(self, model: WorldModel, dynamics: EnsembleDynamics, latents: torch.Tensor,
                 seq: SequenceData, weights: dict[str, Any], horizon: int) -> None:
        self.model, self.dynamics, self.latents, self.seq = model, dynamics, latents, seq
        discount = float(weights["discount"]) ** torch.arange(horizon, dtype=torch.float32)
        self.discount = discount / discount.sum()
        self.w_latent, self.w_proprio = float(weights["latent"]), float(weights["proprio"])

    def terms(self, frames: torch.Tensor, steps: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        return _losses(self.model, self.dynamics, self.latents, self.seq, frames, steps,
                       self.discount)

    def batch(self, sampler: SequenceSampler, flat: np.ndarray, resample: torch.Tensor
              ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of training sequences `flat` and its parts (latent, proprio, total)."""
        episodes, frames, steps = _window_ids(sampler, flat)
        lat, pro = self.terms(frames, steps)
        w = resample[:, episodes]  # (K,B): each member's share of each sequence
        per_member = ((self.w_latent * lat + self.w_proprio * pro) * w).sum(1) / w.sum(1).clamp(
            min=1.0)
        loss = per_member.mean()
        return loss, {"latent": lat.mean().item(), "proprio": pro.mean().item()}

    @torch.no_grad()
    def validate(self, sampler: SequenceSampler, index: np.ndarray) -> dict[str, float]:
        self.dynamics.eval()
        latent, proprio = [], []
        for i in range(0, len(index), 512):
            _, frames, steps = _window_ids(sampler, index[i:i + 512])
            lat, pro = self.terms(frames, steps)
            latent.append(lat.mean(0))
            proprio.append(pro.mean(0))
        self.dynamics.train()
        lat_v, pro_v = torch.cat(latent).mean().item(), torch.cat(proprio).mean().item()
        return {"latent": lat_v, "proprio": pro_v,
                "total": self.w_latent * lat_v + self.w_proprio * pro_v}


def _dynamics_to_train(model: WorldModel, fresh: bool) -> EnsembleDynamics:
    """The source's ensemble, or new members (same action scale) with `fresh`."""
    dynamics = model.dynamics
    if fresh:
        dynamics = EnsembleDynamics(model.cfg, model.joints)
        dynamics.action_scale.copy_(model.dynamics.action_scale)
    dynamics.requires_grad_(True).train()
    return dynamics


@dataclasses.dataclass
class _Fitted:
    history: list[dict[str, Any]]
    best_val: float
    best_step: int
    best_weights: dict[str, torch.Tensor]


def _fit_members(loss: _MemberLoss, cfg: RefitConfig, train: SequenceSampler,
                 val: SequenceSampler, resample: torch.Tensor, rng: np.random.Generator,
                 started: float, progress: bool) -> _Fitted:
    """Optimise the ensemble on the training windows; keep the weights of the best
    validation."""
    from tqdm import tqdm

    dynamics = loss.dynamics
    val_index = np.arange(0, val.sequences, max(1, val.sequences // 2048))
    optimizer = torch.optim.AdamW(dynamics.parameters(), lr=cfg.learning_rate,
                                  weight_decay=cfg.weight_decay)
    schedule = warmup_cosine(optimizer, cfg.warmup_steps, cfg.steps)
    first = loss.validate(val, val_index)
    fit = _Fitted([{"step": 0, "train": dict(first), "val": first, "seconds": 0.0}],
                  first["total"], 0, copy.deepcopy(dynamics.state_dict()))
    running: dict[str, float] = {}
    bar = tqdm(total=cfg.steps, desc="refit ensemble", unit="step", file=sys.stderr,
               disable=not progress, smoothing=0.05)
    for step in range(1, cfg.steps + 1):
        total, parts = loss.batch(train, rng.integers(0, train.sequences, cfg.batch_size),
                                  resample)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(dynamics.parameters(), cfg.grad_clip)
        optimizer.step()
        schedule.step()
        for k, v in (*parts.items(), ("total", total.item())):
            running[k] = 0.98 * running.get(k, v) + 0.02 * v
        bar.update(1)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            result = loss.validate(val, val_index)
            fit.history.append({"step": step, "train": dict(running), "val": result,
                                "seconds": time.perf_counter() - started})
            if result["total"] < fit.best_val:
                fit.best_val, fit.best_step = result["total"], step
                fit.best_weights = copy.deepcopy(dynamics.state_dict())
            if progress:
                bar.write(f"step {step}: val latent {result['latent']:.4g} proprio "
                          f"{result['proprio']:.4g} (best {fit.best_val:.4g} at "
                          f"{fit.best_step})", file=sys.stderr)
    bar.close()
    return fit


def refit_ensemble(source: str | Path, out: str | Path, cfg: RefitConfig = RefitConfig(), *,
                   data: Sequence[str | Path] | None = None, progress: bool = True
                   ) -> dict[str, Any]:
    """Write a checkpoint folder `out` (best/ as `wmp export` and `wmp report` read it) whose
    model is the source's with a re-trained dynamics ensemble; returns the run summary."""
    from ..export import checkpoint_folder

    torch.manual_seed(cfg.seed)
    model, state, roots, seq = frozen_source(source, data, RefitError, "refit")
    resolved = [str(Path(r).resolve()) for r in roots]
    if resolved != list(state["data"]):
        log.warning("--data is not the checkpoint's training data: validation episodes are drawn "
                    "anew over these episodes, so some the source held out may be trained on; "
                    "report on episodes that are in neither (wmp report --data)")
    train_eps, val_eps = source_split(state, seq.episodes)
    started = time.perf_counter()
    latents = encode_frames(model, seq, progress=progress)
    dynamics = _dynamics_to_train(model, cfg.fresh)
    resample = bootstrap_weights(dynamics.members, seq.episodes, cfg.seed, cfg.bootstrap)
    rng = np.random.default_rng(cfg.seed)
    try:
        train = SequenceSampler(seq, train_eps, cfg.horizon, rng)
        val = SequenceSampler(seq, val_eps, cfg.horizon, rng)
    except ValueError as exc:
        raise RefitError(f"no episode has {cfg.horizon} steps; lower --horizon") from exc
    loss = _MemberLoss(model, dynamics, latents, seq, state["config"]["loss"], cfg.horizon)
    fit = _fit_members(loss, cfg, train, val, resample, rng, started, progress)
    dynamics.load_state_dict(fit.best_weights)
    dynamics.eval().requires_grad_(False)
    model.dynamics = dynamics
    seconds = time.perf_counter() - started
    refit = {**dataclasses.asdict(cfg), "source": str(checkpoint_folder(source).resolve()),
             "source_best_step": state.get("best_step"), "train_episodes": int(len(train_eps)),
             "bootstrap_excluded_fraction": float((resample[:, train_eps] == 0).float().mean())}
    new_state = {**{k: v for k, v in state.items() if k != "optimizer_layout"},
                 "data": resolved, "data_digest": seq.digest,
                 "refit": refit, "step": cfg.steps, "best_step": fit.best_step,
                 "best_val": fit.best_val, "history": fit.history, "seconds": seconds}
    out = Path(out)
    checkpoint.save(out / "best", model, new_state)
    from .train import plot_history

    plot_history(fit.history, out / "losses.png", "refit ensemble")
    summary = {"best_step": fit.best_step, "best_val": fit.best_val,
               "initial_val": fit.history[0]["val"], "final_val": fit.history[-1]["val"],
               "seconds": seconds, "refit": refit}
    (out / "refit_summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return summary

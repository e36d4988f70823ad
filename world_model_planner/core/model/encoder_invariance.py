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
"""`wmp harden-encoder`: teach a trained model's image path to read scenes that look different
(light, colours, clutter) the way it reads the scenes it was trained on.

Why: the shipped model misreads the arm's pose under a changed light or with a box beside it,
and re-training it on widely varied scenes on a CPU budget cost it nominal accuracy every time
(README, "Where it fails"): its image path had to learn poses and looks at once. Here the pose
reading already exists. The simulator draws each training frame again, the arm in the same
pose, under a look drawn from a randomisation config; a copy of the encoder (the student) learns
to give the redrawn frame the latent the model's own encoder (the teacher) gives the frame as
recorded, with and without the joint state. Only the image convolutions and their projection
learn; the proprio path and the fusion stay, so a camera-less latent is unchanged.

The latent space does not move, so the dynamics ensemble, heads, goal images and planner cost
stay valid; only the surprise thresholds need calibrating again (`wmp export` does it).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import multiprocessing
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import config as cfgmod
from ..config import HardenConfig, RandomizationConfig, SimulationConfig
from . import checkpoint
from .batches import SequenceData
from .networks import ResidualConv, WorldModel
from .part_retrain import frozen_source, source_split, warmup_cosine
from .objectives import random_shift

log = logging.getLogger(__name__)

IMAGE_ONLY, FULL = (1.0, 0.0), (1.0, 1.0)


class HardenError(ValueError):
    """The data or scene config does not fit the checkpoint."""


@dataclasses.dataclass
class Redrawn:
    """Frames `frames` (indices into the sequence data) drawn again under new looks."""

    frames: np.ndarray  # (N,) int64
    images: torch.Tensor  # (N, H, W, 3) uint8


def simulation_of(roots: Sequence[str | Path]) -> SimulationConfig:
    """The simulator settings the datasets were collected with (one for all of them), so the
    redrawn frames show the same arm through the same camera."""
    from ..data.shards import open_datasets

    settings = []
    for ds in open_datasets(roots):
        sim = ds.manifest.get("config", {}).get("simulation")
        if ds.manifest.get("source") != "mujoco" or sim is None:
            raise HardenError(f"{ds.root}: not collected by 'wmp collect' (source "
                              f"'{ds.manifest.get('source')}'); the simulator can only redraw "
                              "its own episodes, pass --data folders written by wmp collect")
        settings.append(sim)
    if any(s != settings[0] for s in settings[1:]):
        raise HardenError("--data: the datasets were collected with different simulator "
                          "settings; harden on one kind of dataset at a time")
    return cfgmod.from_dict(SimulationConfig, settings[0], source="dataset manifest")


def _draw_episodes(job: tuple[dict[str, Any], dict[str, Any], int,
                              list[tuple[int, np.ndarray]]]) -> list[np.ndarray]:
    """Worker: each frame under its own look, drawn from (seed, episode). One look per
    episode gave the student only as many scenes as episodes, and it learnt those: its loss on
    training frames fell to half the validation loss."""
    from ..data.collect import randomized_scene
    from ..sim.arm import ArmSim

    simulation, scene, seed, episodes = job
    sim = ArmSim(cfgmod.from_dict(SimulationConfig, simulation).sim)
    scene_cfg = cfgmod.from_dict(RandomizationConfig, scene)
    out = []
    try:
        for episode, qpos in episodes:
            rng = np.random.default_rng([seed, episode])
            frames = []
            for q in qpos:
                look, perturbations = randomized_scene(scene_cfg, rng)
                sim.set_perturbations(perturbations, base=look)
                # the box anywhere along its path
                frames.append(sim.render_at(q, step=int(rng.integers(0, 1000))))
            out.append(np.stack(frames))
    finally:
        sim.close()
    return out


def redraw(seq: SequenceData, simulation: SimulationConfig, scene: RandomizationConfig,
           every: int, seed: int, workers: int = 1, progress: bool = False) -> Redrawn:
    """Every `every`-th frame of each episode, drawn again with the arm where it was."""
    from tqdm import tqdm

    jobs, frames = [], []
    qpos = seq.joint_state[:, :len(seq.joint_names)].numpy().astype(np.float64)
    for e in range(seq.episodes):
        index = seq.frame_start[e] + np.arange(0, int(seq.lengths[e]) + 1, every)
        frames.append(index)
        jobs.append((e, qpos[index]))
    chunk = max(1, math.ceil(len(jobs) / max(1, 8 * workers)))
    pieces = [(cfgmod.to_dict(simulation), cfgmod.to_dict(scene), seed, jobs[i:i + chunk])
              for i in range(0, len(jobs), chunk)]
    bar = tqdm(total=len(jobs), desc="redraw frames", unit="episode", file=sys.stderr,
               disable=not progress)
    images: list[np.ndarray] = []
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for part in pool.imap(_draw_episodes, pieces):
                images += part
                bar.update(len(part))
    else:
        for piece in pieces:
            part = _draw_episodes(piece)
            images += part
            bar.update(len(part))
    bar.close()
    return Redrawn(np.concatenate(frames), torch.from_numpy(np.concatenate(images)))


def modality(rows: int, image_only: torch.Tensor) -> torch.Tensor:
    """(rows, 2) masks: image only where `image_only`, image and joints elsewhere."""
    return torch.where(image_only[:, None], torch.tensor(IMAGE_ONLY), torch.tensor(FULL))


@torch.no_grad()
def encode(model: WorldModel, images: torch.Tensor, joint_state: torch.Tensor,
           image_only: bool, batch: int = 1024) -> torch.Tensor:
    out = []
    for i in range(0, len(images), batch):
        n = len(images[i:i + batch])
        mask = modality(n, torch.full((n,), image_only))
        out.append(model.encoder(images[i:i + batch], joint_state[i:i + batch], mask))
    return torch.cat(out)


@torch.no_grad()
def pose_reading_error(model: WorldModel, images: torch.Tensor, joint_state: torch.Tensor
                       ) -> float:
    """Mean absolute error (rad) of the joint angles the proprio head reads from the image alone:
    how well the model locates the arm (and a goal image) in these frames."""
    joints = model.joints
    z = encode(model, images, joint_state, image_only=True)
    read = model.proprio_head(z)[:, :joints]
    return float((read - joint_state[:, :joints]).abs().mean())


def deeper_student(teacher: WorldModel, state: dict[str, Any], cnn_blocks: int
                   ) -> tuple[WorldModel, dict[str, Any]]:
    """A copy of `teacher` whose image path has `cnn_blocks` residual convolutions per stage,
    computing exactly what the teacher computes until it learns: the added blocks start with
    a zero GroupNorm gain, so each is the identity (x + SiLU(0)). Returns the model and the
    state whose config describes it, as `wmp export` rebuilds it from there."""
    from ..config import TrainConfig

    have = teacher.cfg.cnn_blocks
    if cnn_blocks == have:
        return copy.deepcopy(teacher), state
    if cnn_blocks < have:
        raise HardenError(f"--cnn-blocks {cnn_blocks}: the model already has {have} residual "
                          "convolutions per stage; pass at least that many")
    config = copy.deepcopy(state["config"])
    config["model"]["cnn_blocks"] = cnn_blocks
    cfg = cfgmod.from_dict(TrainConfig, config, source="deeper student")
    student = WorldModel(cfg.model, teacher.image_hw, teacher.joints)
    weights = {}
    for key, value in teacher.state_dict().items():
        if key.startswith("encoder.cnn."):
            index, rest = key[len("encoder.cnn."):].split(".", 1)
            stage, offset = divmod(int(index), 3 + have)
            key = f"encoder.cnn.{stage * (3 + cnn_blocks) + offset}.{rest}"
        weights[key] = value
    missing, unexpected = student.load_state_dict(weights, strict=False)
    assert not unexpected and all(k.startswith("encoder.cnn.") for k in missing), missing
    for i, block in enumerate(student.encoder.cnn):
        if i % (3 + cnn_blocks) >= 3 + have:  # a block the teacher does not have
            assert isinstance(block, ResidualConv)
            torch.nn.init.zeros_(block.norm.weight)
    return student.eval(), {**state, "config": config}


def continued_student(teacher: WorldModel, state: dict[str, Any], init_from: str | Path
                      ) -> tuple[WorldModel, dict[str, Any]]:
    """The model of an earlier `wmp harden-encoder` run of the same source, to train on: all
    but its image path must be the teacher's, or its latents would mean something else."""
    from ..export import load_trained

    student, earlier = load_trained(init_from)
    mine = teacher.state_dict()
    theirs = student.state_dict()
    differ = [k for k in mine if not k.startswith(("encoder.cnn.", "encoder.image_fc."))
              and (k not in theirs or not torch.equal(mine[k], theirs[k]))]
    if differ or not earlier.get("hardened"):
        raise HardenError(f"--init-from {init_from}: not a 'wmp harden-encoder' run of this "
                          f"--checkpoint ({len(differ)} tensors outside the image path differ, "
                          f"e.g. {differ[:2]}); start it from the same checkpoint or drop "
                          "--init-from")
    return student, {**state, "config": earlier["config"]}


def _check_settings(cfg: HardenConfig, scene: RandomizationConfig) -> None:
    fractions = (cfg.original_fraction, cfg.blank_fraction)
    if cfg.every < 1 or not all(0.0 <= f <= 1.0 for f in fractions) or cfg.steps < 1:
        raise HardenError(f"--every {cfg.every}, --original-fraction {cfg.original_fraction}, "
                          f"--blank-fraction {cfg.blank_fraction}, --steps {cfg.steps}: need "
                          "every >= 1, fractions in [0, 1] and at least one step")
    if not scene.enabled:
        raise HardenError("the scene config's randomization is off, so every frame would be "
                          "redrawn as it was; pass --scene with randomization.enabled: true "
                          "(e.g. config/collect_wide.yaml)")


def _student_of(teacher: WorldModel, state: dict[str, Any], cfg: HardenConfig,
                init_from: str | Path | None) -> tuple[WorldModel, dict[str, Any]]:
    """A deeper copy of the teacher, or the student of an earlier run to go on with."""
    if init_from is None:
        return deeper_student(teacher, state, cfg.cnn_blocks or teacher.cfg.cnn_blocks)
    student, state = continued_student(teacher, state, init_from)
    if cfg.cnn_blocks and cfg.cnn_blocks != student.cfg.cnn_blocks:
        raise HardenError(f"--cnn-blocks {cfg.cnn_blocks}: --init-from {init_from} has "
                          f"{student.cfg.cnn_blocks} per stage and goes on with those; "
                          "drop --cnn-blocks")
    return student, state


class _TeacherTargets:
    """What the student learns to answer: the teacher's latents of the frames as recorded
    (image only, and image with joints), compared on the teacher's per-dimension scale."""

    def __init__(self, teacher: WorldModel, seq: SequenceData, drawn: Redrawn) -> None:
        self.teacher, self.drawn = teacher, drawn
        self.originals = seq.images[drawn.frames]
        self.joint_state = seq.joint_state[drawn.frames]
        self.latents = {True: encode(teacher, self.originals, self.joint_state, image_only=True),
                        False: encode(teacher, self.originals, self.joint_state,
                                      image_only=False)}
        self.scale = torch.cat(list(self.latents.values())).std(dim=0).clamp(min=1e-3)

    def target_of(self, rows: np.ndarray, image_only: torch.Tensor, blank: torch.Tensor,
                  images: torch.Tensor) -> torch.Tensor:
        """The teacher's latent: precomputed for frames as recorded; for black frames (a
        dropped camera) computed here, so the student answers them as the teacher does and
        the surprise monitor, calibrated on the teacher's answers, still sees a dropout."""
        index = torch.from_numpy(rows)
        target = torch.where(image_only[:, None], self.latents[True][index],
                             self.latents[False][index])
        if blank.any():
            with torch.no_grad():
                target[blank] = self.teacher.encoder(
                    images[blank], self.joint_state[index[blank]],
                    modality(int(blank.sum()), image_only[blank]))
        return target

    def loss_of(self, model: WorldModel, images: torch.Tensor, rows: np.ndarray,
                image_only: torch.Tensor, blank: torch.Tensor | None = None) -> torch.Tensor:
        blank = torch.zeros(len(rows), dtype=torch.bool) if blank is None else blank
        index = torch.from_numpy(rows)
        z = model.encoder(images, self.joint_state[index], modality(len(rows), image_only))
        return (((z - self.target_of(rows, image_only, blank, images)) / self.scale) ** 2).mean()

    @torch.no_grad()
    def validate(self, model: WorldModel, val_rows: np.ndarray, blank_fraction: float
                 ) -> dict[str, float]:
        model.eval()
        index = torch.from_numpy(val_rows)
        result = {}
        for name, images in (("redrawn", self.drawn.images[index]),
                             ("original", self.originals[index])):
            losses = [self.loss_of(model, images[i:i + 512], val_rows[i:i + 512],
                                   torch.full((len(val_rows[i:i + 512]),), flag))
                      for i in range(0, len(val_rows), 512) for flag in (True, False)]
            result[name] = float(torch.stack(losses).mean())
            result[f"pose_error_{name}"] = pose_reading_error(model, images,
                                                              self.joint_state[index])
        rows = val_rows[:512]
        black = torch.zeros((len(rows), *self.originals.shape[1:]), dtype=torch.uint8)
        every_row = torch.ones(len(rows), dtype=torch.bool)
        result["blank"] = float(torch.stack([
            self.loss_of(model, black, rows, torch.full((len(rows),), flag), every_row)
            for flag in (True, False)]).mean())
        # black frames count only where the run trains on them: --blank-fraction 0 selects
        # its best step as runs did before the option
        result["total"] = result["redrawn"] + result["original"] + (
            result["blank"] if blank_fraction > 0 else 0.0)
        return result


def _rows(seq: SequenceData, every: int, train_eps: np.ndarray, val_eps: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Redrawn frames of the training episodes, and up to about 4096 of the validation ones."""
    episode_of = np.repeat(np.arange(seq.episodes), seq.lengths // every + 1)
    train_rows = np.flatnonzero(np.isin(episode_of, train_eps))
    val_rows = np.flatnonzero(np.isin(episode_of, val_eps))
    return train_rows, val_rows[:: max(1, len(val_rows) // 4096)]


def _batch(t: _TeacherTargets, cfg: HardenConfig, train_rows: np.ndarray,
           rng: np.random.Generator, generator: torch.Generator
           ) -> tuple[torch.Tensor, np.ndarray, torch.Tensor, torch.Tensor]:
    """Frames (a share as recorded, the rest redrawn; some black), their rows, image-only
    flags and blank flags of one training batch, as `loss_of` takes them."""
    rows = rng.choice(train_rows, cfg.batch_size)
    keep = torch.from_numpy(rng.uniform(size=cfg.batch_size) < cfg.original_fraction)
    index = torch.from_numpy(rows)
    images = torch.where(keep[:, None, None, None], t.originals[index], t.drawn.images[index])
    images = random_shift(images, cfg.image_shift, generator)
    blank = torch.zeros(cfg.batch_size, dtype=torch.bool)
    if cfg.blank_fraction > 0:  # no draw without it: earlier runs' batches stay the same
        blank = torch.from_numpy(rng.uniform(size=cfg.batch_size) < cfg.blank_fraction)
        images[blank] = 0
    image_only = torch.rand(cfg.batch_size, generator=generator) < 0.5
    return images, rows, image_only, blank


def _fit_student(student: WorldModel, t: _TeacherTargets, cfg: HardenConfig,
                 rows: tuple[np.ndarray, np.ndarray], first: dict[str, float], started: float,
                 progress: bool) -> tuple[list[dict[str, Any]], int]:
    """Train the student's image path; leaves it with the weights of the best validation and
    returns the history and the best step."""
    from tqdm import tqdm

    train_rows, val_rows = rows
    learns = [student.encoder.cnn, student.encoder.image_fc]
    params = [p for m in learns for p in m.parameters()]
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    schedule = warmup_cosine(optimizer, cfg.warmup_steps, cfg.steps)
    generator = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    history = [{"step": 0, "val": first, "seconds": time.perf_counter() - started}]
    best_val, best_step = first["total"], 0
    best_weights = copy.deepcopy(student.encoder.state_dict())
    running = 0.0
    bar = tqdm(total=cfg.steps, desc="harden encoder", unit="step", file=sys.stderr,
               disable=not progress, smoothing=0.05)
    student.encoder.train()
    for step in range(1, cfg.steps + 1):
        loss = t.loss_of(student, *_batch(t, cfg, train_rows, rng, generator))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        schedule.step()
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        bar.update(1)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            result = t.validate(student, val_rows, cfg.blank_fraction)
            student.encoder.train()
            history.append({"step": step, "train": running, "val": result,
                            "seconds": time.perf_counter() - started})
            if result["total"] < best_val:
                best_val, best_step = result["total"], step
                best_weights = copy.deepcopy(student.encoder.state_dict())
            if progress:
                bar.write(f"step {step}: val redrawn {result['redrawn']:.4g} original "
                          f"{result['original']:.4g}, image-only pose error "
                          f"{result['pose_error_redrawn']:.3f} / "
                          f"{result['pose_error_original']:.3f} rad (best {best_val:.4g} at "
                          f"{best_step})", file=sys.stderr)
    bar.close()
    student.encoder.load_state_dict(best_weights)
    student.eval().requires_grad_(False)
    return history, best_step


def harden_encoder(source: str | Path, out: str | Path, scene: RandomizationConfig,
                   cfg: HardenConfig = HardenConfig(), *, data: Sequence[str | Path] | None = None,
                   init_from: str | Path | None = None, scene_source: str = "",
                   progress: bool = True) -> dict[str, Any]:
    """Write a checkpoint folder `out` (best/, as `wmp export` reads it) whose encoder reads
    frames under `scene`'s looks as the source reads its own frames; returns the run summary."""
    from ..export import checkpoint_folder

    _check_settings(cfg, scene)
    torch.manual_seed(cfg.seed)
    teacher, state, roots, seq = frozen_source(source, data, HardenError, "harden")
    simulation = simulation_of(roots)
    student, state = _student_of(teacher, state, cfg, init_from)
    train_eps, val_eps = source_split(state, seq.episodes)
    started = time.perf_counter()
    drawn = redraw(seq, simulation, scene, cfg.every, cfg.seed, cfg.workers, progress)
    drawn_seconds = time.perf_counter() - started
    targets = _TeacherTargets(teacher, seq, drawn)
    rows = _rows(seq, cfg.every, train_eps, val_eps)
    before = targets.validate(teacher, rows[1], cfg.blank_fraction)
    # a deeper student starts as the teacher exactly; a continued one has its own figures
    first = before if init_from is None else targets.validate(student, rows[1],
                                                              cfg.blank_fraction)
    history, best_step = _fit_student(student, targets, cfg, rows, first, started, progress)
    seconds = time.perf_counter() - started
    hardened = {**dataclasses.asdict(cfg), "source": str(checkpoint_folder(source).resolve()),
                "init_from": str(checkpoint_folder(init_from).resolve()) if init_from else None,
                "scene": cfgmod.to_dict(scene), "scene_source": scene_source,
                "frames": int(len(drawn.frames)), "train_episodes": int(len(train_eps)),
                "redraw_seconds": drawn_seconds, "best_step": best_step,
                "before": before, "after": next(h["val"] for h in history
                                                if h["step"] == best_step)}
    hardened.update(data=[str(Path(r).resolve()) for r in roots], data_digest=seq.digest)
    # "data" stays the source's: the dynamics and heads were trained there, and its held-out
    # split is what `wmp export` calibrates the surprise monitor on.
    new_state = {**{k: v for k, v in state.items() if k != "optimizer_layout"},
                 "hardened": hardened}
    out = Path(out)
    checkpoint.save(out / "best", student, new_state)
    summary = {"seconds": seconds, "history": history, "hardened": hardened}
    (out / "harden_summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return summary

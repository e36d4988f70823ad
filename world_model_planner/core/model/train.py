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
"""`wmp train`: fit the world model on collected episodes, on one process or under torchrun.

One process is deterministic for a seed on CPU. Under `torchrun --nproc_per_node=N` every process
samples its own batches, DistributedDataParallel averages gradients (gloo on CPU, NCCL on GPUs),
and the EMA target encoder and early-stopping decisions stay identical across processes because
they only depend on the synchronised parameters and on seeded validation batches.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ... import __version__
from .. import config as cfgmod
from ..config import TrainConfig
from . import checkpoint
from .batches import Batch, SequenceData, SequenceSampler, load_sequences, split_episodes
from .networks import WorldModel
from .objectives import ema_update, pose_loss, world_model_loss


@dataclass
class TrainResult:
    out: Path
    steps: int
    best_step: int
    best_val: float
    seconds: float
    stopped_early: bool
    history: list[dict[str, Any]]


class _Objective(nn.Module):
    """The loss as a module, so DistributedDataParallel sees one forward per step."""

    def __init__(self, model: WorldModel, target: nn.Module | None, cfg: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg
        self._target = [target]  # a list keeps it out of DDP's parameters

    def forward(self, images: torch.Tensor, joint_state: torch.Tensor, actions: torch.Tensor,
                object_pose: torch.Tensor | None, generator: torch.Generator
                ) -> tuple[torch.Tensor, dict[str, float]]:
        batch = Batch(images, joint_state, actions, object_pose)
        return world_model_loss(self.model, self._target[0], batch, self.cfg, generator)


def training_device(setting: str) -> torch.device:
    """optim.device as a torch device; under torchrun each process takes its LOCAL_RANK's GPU."""
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(setting)
    except RuntimeError as exc:
        raise cfgmod.ConfigError(f"optim.device: '{setting}' is not a device; use auto, cpu, "
                                 "cuda or cuda:N") from exc
    if device.type not in ("cpu", "cuda"):
        raise cfgmod.ConfigError(f"optim.device: '{setting}': training runs on cpu or cuda")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise cfgmod.ConfigError("optim.device: cuda asked for, but this PyTorch sees no GPU "
                                     f"(torch {torch.__version__}); set optim.device: cpu")
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def _distributed(device: torch.device) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def parameter_digest(model: nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _lr_factor(step: int, cfg: TrainConfig) -> float:
    warm = cfg.optim.warmup_steps
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, cfg.optim.steps - warm)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def validate(objective: _Objective, batches: list[Batch], seed: int) -> dict[str, float]:
    objective.eval()
    gen = torch.Generator().manual_seed(seed)
    sums: dict[str, float] = {}
    for batch in batches:
        _, parts = objective(batch.images, batch.joint_state, batch.actions, batch.object_pose,
                             gen)
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v / len(batches)
    objective.train()
    return sums


def plot_history(history: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    keys = [k for k in history[-1]["train"] if k != "total"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    steps = [h["step"] for h in history]
    for ax, split in zip(axes, ("train", "val")):
        for k in keys + ["total"]:
            ax.plot(steps, [max(h[split].get(k, float("nan")), 1e-8) for h in history], label=k,
                    linewidth=2.0 if k == "total" else 1.0)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(f"{title}: {split}")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


RESUME_MAY_CHANGE = ("steps", "eval_every", "patience", "val_batches", "threads", "device")


def _resumable(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a train config a resumed run must share (it may train longer)."""
    optim = {k: v for k, v in config.get("optim", {}).items() if k not in RESUME_MAY_CHANGE}
    return {**config, "optim": optim}


def _average_gradients(params: list[nn.Parameter], world: int) -> None:
    if world <= 1:
        return
    for p in params:
        if p.grad is not None:
            torch.distributed.all_reduce(p.grad)
            p.grad /= world


def pretrain_encoder(model: WorldModel, seq: Any, train_frames: torch.Tensor,
                     val_frames: torch.Tensor, cfg: TrainConfig, rng: np.random.Generator,
                     gen: torch.Generator, world: int, progress: bool, steps: int
                     ) -> dict[str, float]:
    """Stage 1: teach the encoder's image path joint angles, the skill goal images rely on.

    Pixels carry the arm's pose only through a small part of the frame, and inside the full
    world-model objective most encodings also see the joint state, which is an easy shortcut; a
    short supervised stage on single frames learns the image path several times faster per second
    of CPU than the full objective would.
    """
    from tqdm import tqdm

    o = cfg.optim
    started = time.perf_counter()
    params = list(model.encoder.parameters()) + list(model.proprio_head.parameters())
    if model.object_head is not None:
        params += list(model.object_head.parameters())
    optimizer = torch.optim.AdamW(params, lr=o.pretrain_learning_rate, weight_decay=o.weight_decay)
    bar = tqdm(total=steps, desc="stage 1: joint angles from images", unit="step",
               file=sys.stderr, disable=not progress, smoothing=0.05)
    running = float("nan")
    for step in range(steps):
        lr = o.pretrain_learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(
            math.pi * step / max(1, steps))))
        for group in optimizer.param_groups:
            group["lr"] = lr
        pick = train_frames[torch.from_numpy(rng.integers(0, len(train_frames),
                                                          size=o.pretrain_batch))]
        pick = pick.to(seq.images.device)
        objects = None if seq.object_pose is None else seq.object_pose[pick]
        loss = pose_loss(model, seq.images[pick], seq.joint_state[pick], o.image_shift, gen,
                         o.colour_jitter, objects)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        _average_gradients(params, world)
        nn.utils.clip_grad_norm_(params, o.grad_clip)
        optimizer.step()
        value = float(loss.detach())
        running = value if math.isnan(running) else 0.98 * running + 0.02 * value
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}")
    bar.close()
    return {"pose_loss": running, "seconds": time.perf_counter() - started,
            **image_joint_error(model, seq, val_frames)}


@torch.no_grad()
def image_joint_error(model: WorldModel, seq: Any, frames: torch.Tensor) -> dict[str, float]:
    """Mean |joint error| (rad) of the proprio head on image-only encodings of `frames`."""
    j = model.joints
    frames = frames[:: max(1, len(frames) // 2000)].to(seq.images.device)
    mask = torch.tensor([[1.0, 0.0]], device=seq.images.device).expand(len(frames), 2)
    js = seq.joint_state[frames]
    z = torch.cat([model.encoder(seq.images[frames[i:i + 500]], torch.zeros_like(js[i:i + 500]),
                                 mask[i:i + 500]) for i in range(0, len(frames), 500)])
    err = (model.proprio_head(z)[:, :j] - js[:, :j]).abs()
    out = {"image_joint_mae": float(err.mean()),
           **{f"image_joint_mae_{i}": float(e) for i, e in enumerate(err.mean(0))}}
    if model.object_head is not None and seq.object_pose is not None:
        xy = model.object_head(z)[:, :2]
        out["image_object_cm"] = float(100 * (xy - seq.object_pose[frames, :2]).norm(dim=-1)
                                       .mean())
    return out


def build_model(cfg: TrainConfig, image_hw: tuple[int, int], joints: int) -> WorldModel:
    return WorldModel(cfg.model, image_hw, joints)


@dataclass
class _Data:
    """The episodes on the training device, their split and what samples them."""

    seq: SequenceData
    train_eps: np.ndarray
    val_eps: np.ndarray
    sampler: SequenceSampler  # training sequences, drawn from the run's numpy generator
    val_batches: list[Batch]  # fixed for the whole run
    frames: torch.Tensor  # every frame of the training episodes
    val_frames: torch.Tensor  # every frame of the validation episodes


@dataclass
class _Progress:
    """Where a run stands: saved with every checkpoint and what `resume` restores."""

    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_val: float = math.inf
    best_step: int = 0
    bad_evals: int = 0
    elapsed: float = 0.0

    def state(self, meta: dict[str, Any], seconds: float,
              numpy_rng: dict[str, Any]) -> dict[str, Any]:
        return {**meta, "step": self.step, "history": self.history, "best_val": self.best_val,
                "best_step": self.best_step, "bad_evals": self.bad_evals, "seconds": seconds,
                "numpy_rng": numpy_rng}


@dataclass
class _Run:
    """Everything one training process works with."""

    cfg: TrainConfig
    out: Path
    rank: int
    world: int
    data: _Data
    model: WorldModel
    target: nn.Module | None  # the EMA target encoder (jepa)
    objective: _Objective
    optimizer: torch.optim.Optimizer
    np_rng: np.random.Generator
    gen: torch.Generator
    meta: dict[str, Any]


def _start_process(o: Any) -> tuple[torch.device, int, int]:
    """The training device, this process's rank and the world size; sets the torch threads."""
    device = training_device(o.device)
    rank, world = _distributed(device)
    if device.type == "cuda":  # TF32 matmuls and tuned convolutions: fast, not bit-reproducible
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(o.threads or max(1, (os.cpu_count() or 1) // world))
    return device, rank, world


def _load_data(data: Sequence[str | Path], robot: str | None, cfg: TrainConfig,
               device: torch.device, np_rng: np.random.Generator) -> _Data:
    o = cfg.optim
    seq = load_sequences([str(d) for d in data], robot)
    seq.images, seq.joint_state, seq.actions = (  # batches are gathered where they are used
        t.to(device) for t in (seq.images, seq.joint_state, seq.actions))
    if seq.object_pose is not None:
        seq.object_pose = seq.object_pose.to(device)
    elif cfg.model.object_head:
        raise cfgmod.ConfigError("model.object_head is on but the data holds no object poses; "
                                 "train on 'wmp collect --task push' data or turn it off")
    train_eps, val_eps = split_episodes(seq.episodes, o.val_fraction, o.seed)
    train_sampler = SequenceSampler(seq, train_eps, o.horizon, np_rng)
    val_sampler = SequenceSampler(seq, val_eps if len(val_eps) else train_eps, o.horizon,
                                  np.random.default_rng(o.seed))
    val_batches = val_sampler.fixed(o.val_batches, o.batch_size, seed=o.seed + 7)

    def frames_of(episodes: np.ndarray) -> torch.Tensor:
        return torch.cat([torch.arange(s, s + n + 1) for s, n in
                          zip(seq.frame_start[episodes], seq.lengths[episodes])])

    frames = frames_of(train_eps)
    val_frames = frames_of(val_eps) if len(val_eps) else frames
    return _Data(seq, train_eps, val_eps, train_sampler, val_batches, frames, val_frames)


def _build_networks(cfg: TrainConfig, d: _Data, device: torch.device
                    ) -> tuple[WorldModel, nn.Module | None, torch.optim.Optimizer]:
    """The model (normalised on the training frames), its EMA target and the optimiser."""
    o, seq = cfg.optim, d.seq
    js = seq.joint_state[d.frames.to(device)].cpu()
    joints = len(seq.joint_names)
    model = build_model(cfg, seq.image_hw, joints)
    objects = None if seq.object_pose is None else seq.object_pose[d.frames.to(device), :2].cpu()
    model.set_statistics(js.mean(0), js.std(0), torch.tensor(seq.action_bound, dtype=torch.float32),
                         objects)
    model.to(device, memory_format=torch.channels_last)  # NHWC frames permuted to NCHW are
    target = copy.deepcopy(model.encoder).requires_grad_(False) if cfg.objective == "jepa" else None
    cnn = list(model.encoder.cnn.parameters())
    cnn_ids = {id(p) for p in cnn}
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in model.parameters() if id(p) not in cnn_ids]},
         {"params": cnn, "lr": o.learning_rate * o.cnn_learning_rate_scale}],
        lr=o.learning_rate, weight_decay=o.weight_decay)
    return model, target, optimizer


def _run_meta(cfg: TrainConfig, data: Sequence[str | Path], split: _Data, world: int,
              device: torch.device) -> dict[str, Any]:
    """What every checkpoint of the run records about how it was trained."""
    seq = split.seq
    return {
        "objective": cfg.objective, "config": cfgmod.to_dict(cfg),
        "joint_names": seq.joint_names, "image_hw": list(seq.image_hw),
        "control_period": seq.control_period, "action_bound": seq.action_bound.tolist(),
        "data": [str(Path(d).resolve()) for d in data], "data_digest": seq.digest,
        "train_episodes": int(len(split.train_eps)), "val_episodes": int(len(split.val_eps)),
        "train_frames": int(len(split.frames)), "world_size": world,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "created_with": f"world_model_planner {__version__}",
    }


def _resume(run: _Run, ckpt_dir: Path) -> _Progress:
    """Weights, optimiser, generators and progress of the run's last checkpoint."""
    state = checkpoint.load_state(ckpt_dir)
    if _resumable(state.get("config", {})) != _resumable(run.meta["config"]) or \
            state.get("data_digest") != run.data.seq.digest:
        raise checkpoint.CheckpointError(
            f"{ckpt_dir}: was trained with another config or data; resume only with the same "
            "--config and --data, or train into a new --out")
    extra = checkpoint.load_model(ckpt_dir, run.model)
    if run.target is not None:
        run.target.load_state_dict({k[len("target."):]: v for k, v in extra.items()
                                    if k.startswith("target.")})
    checkpoint.load_optimizer(ckpt_dir, run.optimizer, state["optimizer_layout"])
    rank = run.rank
    run.gen.set_state(extra[f"generator.{rank}"] if f"generator.{rank}" in extra
                      else extra["generator.0"])
    run.np_rng.bit_generator.state = state["numpy_rng"][str(rank)] if str(rank) in state[
        "numpy_rng"] else state["numpy_rng"]["0"]
    if "pretrain" in state:
        run.meta["pretrain"] = state["pretrain"]
    return _Progress(state["step"], state["history"], state["best_val"], state["best_step"],
                     state["bad_evals"], state.get("seconds", 0.0))


def _stage_one(run: _Run, progress: bool) -> None:
    """A new run's first stage: the image path learns joint angles (from scratch, or briefly
    after loading optim.init_from's weights); the EMA target then starts from the result."""
    o, model, target = run.cfg.optim, run.model, run.target
    if o.init_from:
        from ..export import checkpoint_folder

        source = checkpoint_folder(o.init_from)
        checkpoint.load_model(source, model)
        run.meta["init_from"] = str(source.resolve())
        if target is not None:
            target.load_state_dict(model.encoder.state_dict())
        stage1 = o.init_pretrain_steps
    else:
        stage1 = o.pretrain_steps
    if stage1 > 0:
        d = run.data
        run.meta["pretrain"] = pretrain_encoder(model, d.seq, d.frames, d.val_frames, run.cfg,
                                                run.np_rng, run.gen, run.world,
                                                progress and run.rank == 0, stage1)
        if run.rank == 0:
            seen = run.meta["pretrain"]
            extra = (f", object error {seen['image_object_cm']:.2f} cm"
                     if "image_object_cm" in seen else "")
            print(f"stage 1 done: image-only joint error {seen['image_joint_mae']:.3f} rad"
                  f"{extra} on validation frames", file=sys.stderr)
        if target is not None:
            target.load_state_dict(model.encoder.state_dict())


def _validation(run: _Run) -> dict[str, float]:
    val = validate(run.objective, run.data.val_batches, run.cfg.optim.seed)
    val.update(image_joint_error(run.model, run.data.seq, run.data.val_frames))
    return val


def _first_evaluation(run: _Run, prog: _Progress) -> None:
    """Where the curves start: the model as initialised (after stage 1)."""
    val = _validation(run)
    prog.history.append({"step": 0, "train": dict(val), "val": val, "seconds": 0.0})
    prog.best_val = val["total"]
    if run.rank == 0:
        state = {**run.meta, "step": 0, "history": prog.history, "best_val": prog.best_val,
                 "best_step": 0, "bad_evals": 0, "seconds": 0.0, "numpy_rng": {}}
        checkpoint.save(run.out / "best", run.model, state)


def _evaluate(run: _Run, prog: _Progress, running: dict[str, float], started: float,
              bar: Any) -> None:
    """Validate, keep the best weights and (on rank 0) write the checkpoint and the curves."""
    val = _validation(run)
    prog.history.append({"step": prog.step, "train": dict(running), "val": val,
                         "seconds": time.perf_counter() - started})
    improved = val["total"] < prog.best_val
    if improved:
        prog.best_val, prog.best_step, prog.bad_evals = val["total"], prog.step, 0
    else:
        prog.bad_evals += 1
    if run.rank != 0:
        return
    extra = ({f"target.{k}": v for k, v in run.target.state_dict().items()}
             if run.target is not None else {})
    extra["generator.0"] = run.gen.get_state()
    state = prog.state(run.meta, time.perf_counter() - started,
                       {"0": run.np_rng.bit_generator.state})
    checkpoint.save(run.out / "checkpoint", run.model, state, run.optimizer, extra)
    if improved:
        checkpoint.save(run.out / "best", run.model, state)
    plot_history(prog.history, run.out / "losses.png", run.cfg.objective)
    (run.out / "history.json").write_text(json.dumps(prog.history, indent=1))
    extra = (f" object {val['object']:.4g} ({val['image_object_cm']:.2f} cm from "
             "images)" if "object" in val else "")
    bar.write(f"step {prog.step}: val total {val['total']:.4g} latent {val['latent']:.4g} "
              f"proprio {val['proprio']:.4g}{extra} (best {prog.best_val:.4g} at "
              f"{prog.best_step})", file=sys.stderr)  # stdout carries --json alone


def _fit(run: _Run, prog: _Progress, device: torch.device, progress: bool) -> tuple[float, bool]:
    """Stage 2, the full objective, until optim.steps or early stopping. Returns the origin of
    the run's clock (a resumed run counts its earlier seconds) and whether it stopped early."""
    from tqdm import tqdm

    o, model, optimizer = run.cfg.optim, run.model, run.optimizer
    wrapped: nn.Module = run.objective
    if run.world > 1:
        wrapped = nn.parallel.DistributedDataParallel(
            run.objective, device_ids=[device.index] if device.type == "cuda" else None)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, run.cfg),
                                                  last_epoch=prog.step - 1 if prog.step else -1)
    bar = tqdm(total=o.steps, initial=prog.step, desc=f"train {run.cfg.objective}", unit="step",
               file=sys.stderr, disable=not progress or run.rank != 0, smoothing=0.05)
    started = time.perf_counter() - prog.elapsed
    stopped_early = False
    running: dict[str, float] = {}
    if prog.step == 0:
        _first_evaluation(run, prog)
    while prog.step < o.steps:
        batch = run.data.sampler.sample(o.batch_size)
        loss, parts = wrapped(batch.images, batch.joint_state, batch.actions, batch.object_pose,
                              run.gen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), o.grad_clip)
        optimizer.step()
        scheduler.step()
        if run.target is not None:
            ema_update(run.target, model.encoder, o.ema)
        prog.step += 1
        for k, v in parts.items():
            running[k] = 0.98 * running.get(k, v) + 0.02 * v
        bar.update(1)
        bar.set_postfix({k: f"{running[k]:.3g}" for k in ("total", "latent", "proprio")})
        if prog.step % o.eval_every == 0 or prog.step == o.steps:
            _evaluate(run, prog, running, started, bar)
            if prog.bad_evals >= o.patience:
                stopped_early = True
                break
    bar.close()
    return started, stopped_early


def _finish(run: _Run, prog: _Progress, seconds: float, stopped_early: bool) -> None:
    """Compare the replicas' weights and (on rank 0) write train_summary.json."""
    digest = parameter_digest(run.model)
    digests = [digest]
    if run.world > 1:
        gathered: list[Any] = [None] * run.world
        torch.distributed.all_gather_object(gathered, digest)
        digests = gathered
    if run.rank == 0:
        summary = {"steps": prog.step, "best_step": prog.best_step, "best_val": prog.best_val,
                   "seconds": seconds, "stopped_early": stopped_early,
                   "final_val": prog.history[-1]["val"] if prog.history else {},
                   "replica_digests": digests, **run.meta}
        (run.out / "train_summary.json").write_text(json.dumps(summary, indent=2, default=float))
    if run.world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def train(data: Sequence[str | Path], out: str | Path, cfg: TrainConfig, *, resume: bool = False,
          progress: bool = True, robot: str | None = None) -> TrainResult:
    """Fit the model on dataset folders (or recorder MCAP folders of `robot`).

    The seeds are set before anything draws; the data, the networks' initialisation, stage 1
    and stage 2 then draw in that order, so one process on the CPU repeats a run exactly."""
    o = cfg.optim
    device, rank, world = _start_process(o)
    torch.manual_seed(o.seed)
    np_rng = np.random.default_rng([o.seed, rank])
    gen = torch.Generator().manual_seed(o.seed * 1000 + rank)
    out = Path(out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    d = _load_data(data, robot, cfg, device, np_rng)
    model, target, optimizer = _build_networks(cfg, d, device)
    run = _Run(cfg, out, rank, world, d, model, target, _Objective(model, target, cfg), optimizer,
               np_rng, gen, _run_meta(cfg, data, d, world, device))
    ckpt_dir = out / "checkpoint"
    prog = _Progress()
    if resume and (ckpt_dir / checkpoint.STATE_FILE).is_file():
        prog = _resume(run, ckpt_dir)
    if prog.step == 0:
        _stage_one(run, progress)
    started, stopped_early = _fit(run, prog, device, progress)
    seconds = time.perf_counter() - started
    _finish(run, prog, seconds, stopped_early)
    return TrainResult(out, prog.step, prog.best_step, prog.best_val, seconds, stopped_early,
                       prog.history)

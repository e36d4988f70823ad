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
"""`wmp report`: how good is the world model, measured on held-out episodes.

For each trained model (typically one per objective, on the same data):

* latent prediction error against horizon 1..20, open loop from an encoded start with the real
  actions, normalised by the latent spread (mean per-dimension variance), so a collapsed latent
  (tiny spread, tiny errors) cannot look good;
* the per-dimension latent spread itself;
* joint error of the proprio head: encodings (full, image only: how well a goal image is
  understood) and imagined states at horizon 1 and 10;
* Spearman rank correlation between ensemble disagreement and the actual prediction error, per
  horizon and pooled: does the model know when it is dreaming?
* a strip of real against imagined (decoded) frames.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..viz import contact_sheet, save_png
from .batches import SequenceData, load_sequences, split_episodes
from .networks import WorldModel
from .object_report import object_markdown, object_report

MAX_HORIZON = 20


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties not needed: continuous values)."""
    ra = np.argsort(np.argsort(a)).astype(np.float64)
    rb = np.argsort(np.argsort(b)).astype(np.float64)
    ra -= ra.mean()
    rb -= rb.mean()
    denom = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")


def _starts(data: SequenceData, episodes: np.ndarray, horizon: int,
            every: int) -> list[tuple[int, int]]:
    return [(int(e), t) for e in episodes
            for t in range(0, int(data.lengths[e]) - horizon + 1, every)]


@torch.no_grad()
def evaluate_model(model: WorldModel, data: SequenceData, episodes: np.ndarray,
                   horizon: int = MAX_HORIZON, every: int = 10) -> dict[str, Any]:
    model = model.eval()
    j = model.joints
    starts = _starts(data, episodes, horizon, every)
    frames = np.array([[data.frame_start[e] + t + h for h in range(horizon + 1)]
                       for e, t in starts])
    steps = np.array([[data.step_start[e] + t + h for h in range(horizon)] for e, t in starts])
    images = data.images[torch.from_numpy(frames)]  # (S, H+1, ...)
    js = data.joint_state[torch.from_numpy(frames)]
    actions = data.actions[torch.from_numpy(steps)]
    s = len(starts)
    flat_img = images.reshape(s * (horizon + 1), *images.shape[2:])
    flat_js = js.reshape(s * (horizon + 1), -1)
    full = torch.ones(len(flat_js), 2)
    z = torch.cat([model.encoder(flat_img[i:i + 512], flat_js[i:i + 512], full[i:i + 512])
                   for i in range(0, len(flat_js), 512)]).view(s, horizon + 1, -1)
    image_only = torch.tensor([1.0, 0.0]).expand(len(flat_js), 2)
    z_img = torch.cat([model.encoder(flat_img[i:i + 512], torch.zeros_like(flat_js[i:i + 512]),
                                     image_only[i:i + 512])
                       for i in range(0, len(flat_js), 512)])
    spread = z.reshape(-1, z.shape[-1]).var(dim=0)
    members = model.dynamics.rollout(z[:, 0], actions)  # (K,S,H,D)
    mean = members.mean(0)
    err = ((mean - z[:, 1:]) ** 2).mean(-1)  # (S,H)
    nerr = err / spread.mean()
    disagreement = ((members - mean) ** 2).mean(dim=(0, 3))  # (S,H)
    q_true = js[:, 1:, :j]
    q_pred = model.proprio_head(mean)[..., :j]
    joint_err = (q_pred - q_true).abs()  # (S,H,J)
    q_enc = model.proprio_head(z.reshape(-1, z.shape[-1]))[:, :j]
    q_img = model.proprio_head(z_img)[:, :j]
    per_h = [spearman(disagreement[:, h].numpy(), err[:, h].numpy()) for h in range(horizon)]
    return {
        "starts": s,
        "normalized_latent_error": nerr.mean(0).tolist(),
        "latent_spread": spread.sqrt().tolist(),
        "latent_spread_mean": float(spread.sqrt().mean()),
        "joint_error_rad": {
            "encoded_full": float((q_enc - flat_js[:, :j]).abs().mean()),
            "encoded_image_only": float((q_img - flat_js[:, :j]).abs().mean()),
            "encoded_image_only_per_joint": (q_img - flat_js[:, :j]).abs().mean(0).tolist(),
            "imagined_h1": float(joint_err[:, 0].mean()),
            "imagined_h10": float(joint_err[:, min(9, horizon - 1)].mean()),
            "imagined_per_horizon": joint_err.mean(dim=(0, 2)).tolist(),
        },
        "spearman_disagreement_error": {
            "per_horizon": per_h,
            "mean_over_horizons": float(np.nanmean(per_h)),
            "pooled": spearman(disagreement.flatten().numpy(), err.flatten().numpy()),
        },
    }


@torch.no_grad()
def imagined_strip(model: WorldModel, data: SequenceData, episode: int, start: int,
                   steps: int = 10) -> np.ndarray:
    f0 = int(data.frame_start[episode]) + start
    s0 = int(data.step_start[episode]) + start
    real = data.images[f0:f0 + steps + 1]
    js = data.joint_state[f0:f0 + 1]
    z0 = model.encoder(real[:1], js, torch.ones(1, 2))
    members = model.dynamics.rollout(z0, data.actions[s0:s0 + steps][None])
    imagined = (model.decoder(members.mean(0)[0]) * 255).clamp(0, 255).to(torch.uint8)
    recon = (model.decoder(z0) * 255).clamp(0, 255).to(torch.uint8)
    return contact_sheet([list(real.numpy()), [recon[0].numpy()] + list(imagined.numpy())],
                         row_labels=["real", "imagined"],
                         column_labels=[f"t+{i}" for i in range(steps + 1)])


def _plot(results: Mapping[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for name, r in results.items():
        h = np.arange(1, len(r["normalized_latent_error"]) + 1)
        axes[0].plot(h, r["normalized_latent_error"], marker="o", ms=3, label=name)
        axes[1].plot(h, r["joint_error_rad"]["imagined_per_horizon"], marker="o", ms=3,
                     label=name)
        axes[2].bar(np.arange(len(r["latent_spread"])) + (0.4 if name != list(results)[0] else 0),
                    r["latent_spread"], width=0.4, label=name)
    axes[0].set(xlabel="horizon (steps)", ylabel="error / latent spread",
                title="latent prediction error")
    axes[1].set(xlabel="horizon (steps)", ylabel="mean |joint error| (rad)",
                title="proprio head on imagined latents")
    axes[2].set(xlabel="latent dimension", ylabel="std", title="per-dimension latent spread")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(checkpoints: Sequence[str | Path], out: str | Path,
                 data: Sequence[str | Path] | None = None, figures: str | Path | None = None,
                 command: str = "") -> dict[str, Any]:
    """Evaluate each checkpoint on the held-out episodes and write Markdown, JSON and PNGs."""
    from ..export import load_trained

    out = Path(out)
    figures = Path(figures) if figures else out.parent / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    loaded = [load_trained(c) for c in checkpoints]
    roots = list(data) if data else loaded[0][1]["data"]
    seq = load_sequences([str(r) for r in roots])
    optim = loaded[0][1]["config"]["optim"]
    train_eps, val = split_episodes(seq.episodes, optim["val_fraction"], optim["seed"])
    results: dict[str, Any] = {}
    for path, (model, state) in zip(checkpoints, loaded):
        run = _slug(Path(path).resolve().name)
        name = f"{state['objective']} ({run})"  # runs of one objective stay apart
        results[name] = evaluate_model(model, seq, val)
        if model.object_head is not None and seq.object_pose is not None:
            results[name]["object"] = object_report(model, seq, train_eps, val)
        results[name]["checkpoint"] = str(path)
        results[name]["run"] = run
        results[name]["training"] = {k: state.get(k) for k in (
            "step", "best_step", "best_val", "seconds", "train_frames", "data_digest", "refit")}
        run_optim = state["config"]["optim"]  # stage 1 ran here unless weights came from a run
        results[name]["training"]["stage1_steps"] = (
            None if run_optim.get("init_from") else int(run_optim.get("pretrain_steps", 0)))
        save_png(imagined_strip(model, seq, int(val[0]), 10),
                 figures / f"imagined_strip_{run}.png")
        loss_png = Path(path) / "losses.png"
        if loss_png.is_file():
            (figures / f"losses_{run}.png").write_bytes(loss_png.read_bytes())
    _plot(results, figures / "model_comparison.png")
    (out.with_suffix(".json")).write_text(json.dumps(results, indent=2))
    out.write_text(_markdown(results, seq, val, figures, out, command))
    return results


def _digest(results: Mapping[str, Any]) -> str:
    digests = {r["training"].get("data_digest") or "" for r in results.values()}
    return ", ".join(d[:12] for d in sorted(digests) if d) or "unknown"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "run"


def _markdown(results: Mapping[str, Any], seq: SequenceData, val: np.ndarray, figures: Path,
              out: Path, command: str) -> str:
    rel = lambda p: Path(p).resolve().relative_to(out.parent.resolve()).as_posix()  # noqa: E731
    names = list(results)
    lines = [
        "# World model report",
        "",
        "Generated by `" + (command or "wmp report") + "`. Held-out data: "
        f"{len(val)} validation episodes (split by episode, never seen in training) of the "
        f"training data (digest `{_digest(results)}`), starts every 10 steps, 20-step open-loop "
        "rollouts with the recorded actions.",
        "",
        "| metric | " + " | ".join(names) + " | target |",
        "|---|" + "---|" * len(names) + "---|",
    ]

    def row(label: str, fn, target: str = "") -> None:
        lines.append(f"| {label} | " + " | ".join(fn(results[n]) for n in names) + f" | {target} |")

    row("stage 1 steps (joint angles from images)", lambda r: "from another run"
        if r["training"]["stage1_steps"] is None else f"{r['training']['stage1_steps']}")
    row("world-model steps (best at)", lambda r: f"{r['training']['step']} "
        f"({r['training']['best_step']})")
    row("world-model training time", lambda r: f"{(r['training']['seconds'] or 0) / 60:.0f} min")
    row("dynamics only, refit on bootstrap resamples (`wmp refit-ensemble`)", lambda r: "no"
        if not r["training"].get("refit") else f"{r['training']['refit']['horizon']}-step paths"
        + (", bootstrap" if r["training"]["refit"]["bootstrap"] else ", no bootstrap"))
    for h in (1, 5, 10, 20):
        row(f"latent error / spread, h={h}", lambda r, h=h:
            f"{r['normalized_latent_error'][h - 1]:.3f}")
    row("mean latent std per dimension", lambda r: f"{r['latent_spread_mean']:.3f}")
    row("min latent std per dimension", lambda r: f"{min(r['latent_spread']):.3f}")
    je = "joint_error_rad"
    row("joint error, full encoding (rad)", lambda r: f"{r[je]['encoded_full']:.4f}")
    row("joint error, image-only encoding (rad)", lambda r: f"{r[je]['encoded_image_only']:.4f}")
    row("joint error, imagined h=1 (rad)", lambda r: f"{r[je]['imagined_h1']:.4f}", "<= 0.05")
    row("joint error, imagined h=10 (rad)", lambda r: f"{r[je]['imagined_h10']:.4f}")
    sp = "spearman_disagreement_error"
    row("Spearman(disagreement, error), mean over horizons",
        lambda r: f"{r[sp]['mean_over_horizons']:.3f}", ">= 0.5")
    row("Spearman(disagreement, error), pooled", lambda r: f"{r[sp]['pooled']:.3f}")
    if all("object" in results[n] for n in names):
        lines += object_markdown({n: results[n]["object"] for n in names})
    lines += ["", f"![comparison]({rel(figures / 'model_comparison.png')})", ""]
    for n in names:
        run = results[n]["run"]
        lines += [f"## {n}", "",
                  "Real (top) against imagined (bottom, decoded) frames, 10 steps open loop:",
                  "", f"![strip]({rel(figures / f'imagined_strip_{run}.png')})", ""]
        if (figures / f"losses_{run}.png").is_file():
            lines += ["Training curves:", "", f"![losses]({rel(figures / f'losses_{run}.png')})",
                      ""]
    lines += ["Numbers: `" + out.with_suffix(".json").name + "` beside this file.", ""]
    return "\n".join(lines)

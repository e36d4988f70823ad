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
"""Does the latent hold the pushed object? Measured on held-out push episodes.

* A linear probe from the latent to the object pose, fitted on training-episode latents, and its
  error on held-out encodings (h = 0) and on imagined latents h steps open loop with the recorded
  actions, against "the object stays where it was last seen" (the baseline a model without a
  world has), on all windows and on windows where the object moved (contact).
* Object permanence: the camera goes black for a span while the arm keeps pushing (recorded
  pushes replayed with black frames). The belief (imagined forward, re-grounded on the joints)
  against the stays-put baseline and against what the encoder makes of the black frames.

The model's own object head is reported beside the probe: the probe shows what a linear read of
the latent gives, the head what the planner uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..planning.belief import reground
from ..sim.push_object import yaw_error
from .batches import SequenceData
from .networks import PROPRIO, WorldModel

HORIZONS = (1, 5, 10, 20)
MOVED = 0.02  # m: a window "with contact" moved the object at least this much
DROPOUTS = (10, 20)  # control steps of black frames (1 s and 2 s at 10 Hz)


def pose_features(pose: np.ndarray, symmetry: int) -> np.ndarray:
    """(N, 3) x, y, yaw -> (N, 4) x, y, cos and sin of symmetry * yaw."""
    a = pose[:, 2] * symmetry
    return np.column_stack([pose[:, 0], pose[:, 1], np.cos(a), np.sin(a)])


def features_to_pose(f: np.ndarray, symmetry: int) -> np.ndarray:
    return np.column_stack([f[:, 0], f[:, 1], np.arctan2(f[:, 3], f[:, 2]) / symmetry])


class LinearProbe:
    """Ridge regression from latents to object pose features."""

    def __init__(self, latents: np.ndarray, poses: np.ndarray, symmetry: int,
                 ridge: float = 1e-3) -> None:
        self.symmetry = symmetry
        x = np.column_stack([latents, np.ones(len(latents))]).astype(np.float64)
        y = pose_features(poses.astype(np.float64), symmetry)
        self.weights = np.linalg.solve(x.T @ x + ridge * len(x) * np.eye(x.shape[1]), x.T @ y)

    def __call__(self, latents: np.ndarray) -> np.ndarray:
        x = np.column_stack([latents, np.ones(len(latents))])
        return features_to_pose(x @ self.weights, self.symmetry)


def pose_errors(pred: np.ndarray, true: np.ndarray, symmetry: int) -> tuple[np.ndarray, np.ndarray]:
    """(distance in cm, yaw error in degrees modulo the symmetry) per row."""
    dist = 100 * np.linalg.norm(pred[:, :2] - true[:, :2], axis=1)
    yaw = np.degrees(yaw_error(pred[:, 2], true[:, 2], symmetry))
    return dist, yaw


@torch.no_grad()
def encode(model: WorldModel, data: SequenceData, frames: np.ndarray,
           modality: Sequence[float] = (1.0, 1.0), images: torch.Tensor | None = None
           ) -> np.ndarray:
    """Latents (N, D) of frames (N,) (their images, or `images` in their place)."""
    out = []
    mask = torch.tensor([list(modality)], dtype=torch.float32)
    for i in range(0, len(frames), 512):
        f = torch.from_numpy(np.asarray(frames[i:i + 512]))
        img = data.images[f] if images is None else images[i:i + 512]
        js = data.joint_state[f]
        if modality[PROPRIO] == 0:
            js = torch.zeros_like(js)
        out.append(model.encoder(img, js, mask.expand(len(f), 2)))
    return torch.cat(out).numpy()


def _frames(data: SequenceData, episodes: np.ndarray, every: int = 1) -> np.ndarray:
    return np.concatenate([np.arange(data.frame_start[e], data.frame_start[e] + data.lengths[e]
                                     + 1, every) for e in episodes])


def _summary(dist: np.ndarray, yaw: np.ndarray) -> dict[str, float]:
    if len(dist) == 0:
        return {"count": 0}
    return {"count": int(len(dist)), "mean_cm": float(dist.mean()),
            "median_cm": float(np.median(dist)), "p90_cm": float(np.percentile(dist, 90)),
            "mean_yaw_deg": float(yaw.mean())}


def fit_probe(model: WorldModel, data: SequenceData, train_eps: np.ndarray,
              max_frames: int = 20000) -> LinearProbe:
    """The probe on full-observation latents of (up to max_frames of) the training episodes."""
    assert data.object_pose is not None
    frames = _frames(data, train_eps)
    frames = frames[:: max(1, len(frames) // max_frames)]
    z = encode(model, data, frames)
    return LinearProbe(z, data.object_pose[frames].numpy(), model.cfg.object_symmetry)


def _head(model: WorldModel, z: np.ndarray) -> np.ndarray:
    assert model.object_head is not None
    with torch.no_grad():
        f = model.object_head(torch.from_numpy(np.asarray(z, np.float32))).numpy()
    return features_to_pose(f.reshape(-1, 4), model.cfg.object_symmetry)


@torch.no_grad()
def open_loop(model: WorldModel, data: SequenceData, episodes: np.ndarray, probe: LinearProbe,
              horizons: Sequence[int] = HORIZONS, every: int = 5) -> dict[str, Any]:
    """Object error of encoded (h=0) and imagined latents, probe and head, against stays-put."""
    assert data.object_pose is not None
    k, longest = model.cfg.object_symmetry, max(horizons)
    starts = [(int(e), t) for e in episodes
              for t in range(0, int(data.lengths[e]) - longest + 1, every)]
    f0 = np.array([data.frame_start[e] + t for e, t in starts])
    s0 = np.array([data.step_start[e] + t for e, t in starts])
    poses = data.object_pose.numpy()
    z0 = encode(model, data, f0)
    actions = data.actions[torch.from_numpy(s0[:, None] + np.arange(longest)[None])]
    mean = model.dynamics.rollout(torch.from_numpy(z0), actions).mean(0).numpy()  # (S,H,D)
    out: dict[str, Any] = {"starts": len(starts)}
    for name, read in (("probe", probe), ("head", lambda z: _head(model, z))):
        d, y = pose_errors(read(z0), poses[f0], k)
        out[f"h0_{name}"] = _summary(d, y)
    for h in horizons:
        true = poses[f0 + h]
        moved = np.linalg.norm(true[:, :2] - poses[f0, :2], axis=1) >= MOVED
        row: dict[str, Any] = {"contact_share": float(moved.mean())}
        preds = {"probe": probe(mean[:, h - 1]), "head": _head(model, mean[:, h - 1]),
                 "stays_put": poses[f0]}
        for name, pred in preds.items():
            d, y = pose_errors(pred, true, k)
            row[name] = _summary(d, y)
            row[f"{name}_contact"] = _summary(d[moved], y[moved])
        base, probe_c = row["stays_put_contact"], row["probe_contact"]
        if probe_c.get("count"):
            row["contact_ratio_stays_put_over_probe"] = base["mean_cm"] / probe_c["mean_cm"]
        out[f"h{h}"] = row
    return out


def dropout_windows(data: SequenceData, episodes: np.ndarray, steps: int,
                    lead: int = 5) -> list[tuple[int, int]]:
    """(episode, first dark step) per episode: the first span of `steps` dark steps, at least
    `lead` steps in, by whose end the recorded push has moved the object at least MOVED from
    where the camera last saw it."""
    assert data.object_pose is not None
    poses = data.object_pose.numpy()
    out = []
    for e in episodes:
        f = int(data.frame_start[e])
        for t in range(lead, int(data.lengths[e]) - steps + 1):
            if np.linalg.norm(poses[f + t + steps - 1, :2] - poses[f + t - 1, :2]) >= MOVED:
                out.append((int(e), t))
                break
    return out


@torch.no_grad()
def permanence(model: WorldModel, data: SequenceData, episodes: np.ndarray, probe: LinearProbe,
               steps: int) -> dict[str, Any]:
    """Camera black for `steps` steps while a recorded push goes on: belief against baselines.

    Frames t0..t0+steps-1 are black. The belief is the full encoding at t0-1, then each dark step
    the ensemble-mean prediction with the recorded action, re-grounded on that step's joints.
    "end" is the last dark step; "after" the first frame the camera is back, the belief predicted
    into it before the frame is encoded."""
    assert data.object_pose is not None and model.object_head is not None
    k = model.cfg.object_symmetry
    poses, js_all = data.object_pose.numpy(), data.joint_state.numpy()
    std = model.proprio_head.normalizer.std.numpy().astype(np.float64)

    def proprio(z: np.ndarray) -> np.ndarray:
        return model.proprio_head(torch.from_numpy(z)).numpy()

    def obj(z: np.ndarray) -> np.ndarray:
        return model.object_head(torch.from_numpy(z)).numpy()

    rows: dict[str, list[np.ndarray]] = {n: [] for n in (
        "belief", "belief_end", "belief_after", "stays_put", "stays_put_end", "black_encoder",
        "black_encoder_end", "no_reground_end")}
    for e, t0 in dropout_windows(data, episodes, steps):
        f, s = int(data.frame_start[e]), int(data.step_start[e])
        z = encode(model, data, np.array([f + t0 - 1]))[0]
        drift = z.copy()
        dark = np.arange(f + t0, f + t0 + steps)
        black = torch.zeros((steps, *data.images.shape[1:]), dtype=torch.uint8)
        z_black = encode(model, data, dark, images=black)
        beliefs = []
        for i, t in enumerate(range(t0, t0 + steps + 1)):
            a = data.actions[s + t - 1][None]
            z = _mean_step(model, z, a)
            drift = _mean_step(model, drift, a)
            if i < steps:
                z = reground(z, js_all[f + t], proprio, std, keep=obj)
            beliefs.append(z)
        beliefs = np.array(beliefs)
        true = poses[np.append(dark, f + t0 + steps)]
        last_seen = np.repeat(poses[f + t0 - 1][None], steps, axis=0)
        for name, pred, ref in (
                ("belief", probe(beliefs[:steps]), true[:steps]),
                ("stays_put", last_seen, true[:steps]),
                ("black_encoder", probe(z_black), true[:steps])):
            rows[name].append(pose_errors(pred, ref, k)[0])
            rows[f"{name}_end"].append(pose_errors(pred[-1:], ref[-2:-1], k)[0])
        rows["belief_after"].append(pose_errors(probe(beliefs[-1:]), true[-1:], k)[0])
        rows["no_reground_end"].append(pose_errors(probe(drift[None]), true[-1:], k)[0])
    report: dict[str, Any] = {"steps": steps, "episodes": len(rows["belief"])}
    for name, values in rows.items():
        d = np.concatenate(values) if values else np.zeros(0)
        report[name] = _summary(d, np.zeros_like(d))
    return report


def _mean_step(model: WorldModel, z: np.ndarray, action: torch.Tensor) -> np.ndarray:
    zk = torch.from_numpy(np.asarray(z, np.float32))[None].expand(model.dynamics.members, 1, -1)
    return model.dynamics.step(zk, action).mean(0)[0].numpy()


def object_report(model: WorldModel, data: SequenceData, train_eps: np.ndarray,
                  val_eps: np.ndarray) -> dict[str, Any]:
    """Probe, open-loop and permanence figures of one push model."""
    probe = fit_probe(model, data, train_eps)
    return {"symmetry": model.cfg.object_symmetry,
            "open_loop": open_loop(model, data, val_eps, probe),
            "permanence": {f"{n}": permanence(model, data, val_eps, probe, n) for n in DROPOUTS},
            "targets": {"h0_probe_cm": 1.0, "h0_probe_yaw_deg": 10.0, "h10_probe_cm": 2.0,
                        "h10_contact_ratio": 2.0, "permanence_1s_cm": 2.5}}


def object_markdown(results: dict[str, dict[str, Any]]) -> list[str]:
    """The object sections of the model report: one column per model."""
    names = list(results)
    lines = ["", "## The object (push models)", "",
             "A linear probe from the latent to the object pose is fitted on full-observation "
             "latents of the training episodes; errors are on the validation episodes. "
             "\"Stays put\" predicts the object where it was at the rollout's start; \"contact\" "
             f"rows keep the windows where the object moved at least {MOVED * 100:.0f} cm. "
             "\"Head\" is the model's own object head, which the planner uses.", "",
             "| metric | " + " | ".join(names) + " | target |",
             "|---|" + "---|" * len(names) + "---|"]

    def row(label: str, fn, target: str = "") -> None:
        lines.append(f"| {label} | " + " | ".join(fn(results[n]) for n in names) + f" | {target} |")

    def cm(entry: dict[str, Any]) -> str:
        return f"{entry['mean_cm']:.2f}" if entry.get("count") else "-"

    row("probe error at h=0, cm", lambda r: cm(r["open_loop"]["h0_probe"]), "<= 1")
    row("probe yaw error at h=0, degrees (modulo symmetry)",
        lambda r: f"{r['open_loop']['h0_probe']['mean_yaw_deg']:.1f}", "<= 10")
    row("head error at h=0, cm", lambda r: cm(r["open_loop"]["h0_head"]))
    for h in HORIZONS:
        key = f"h{h}"
        row(f"imagined h={h}: probe / head / stays put, cm", lambda r, k=key: (
            f"{cm(r['open_loop'][k]['probe'])} / {cm(r['open_loop'][k]['head'])} / "
            f"{cm(r['open_loop'][k]['stays_put'])}"), "<= 2 (probe, h=10)" if h == 10 else "")
        row(f"imagined h={h}, contact windows (their share): probe / head / stays put, cm",
            lambda r, k=key: (
                f"{cm(r['open_loop'][k]['probe_contact'])} / "
                f"{cm(r['open_loop'][k]['head_contact'])} / "
                f"{cm(r['open_loop'][k]['stays_put_contact'])} "
                f"({r['open_loop'][k]['contact_share']:.0%})"),
            "probe 2x better than stays put" if h == 10 else "")
    for steps in DROPOUTS:
        seconds = steps / 10
        row(f"camera dark {seconds:.0f} s while pushing: belief / stays put / black-frame encoder, "
            "mean over the dark steps, cm", lambda r, s=steps: (
                f"{cm(r['permanence'][str(s)]['belief'])} / "
                f"{cm(r['permanence'][str(s)]['stays_put'])} / "
                f"{cm(r['permanence'][str(s)]['black_encoder'])}"))
        row(f"camera dark {seconds:.0f} s: at the last dark step, belief / stays put / black "
            "encoder / belief without re-grounding, cm", lambda r, s=steps: (
                f"{cm(r['permanence'][str(s)]['belief_end'])} / "
                f"{cm(r['permanence'][str(s)]['stays_put_end'])} / "
                f"{cm(r['permanence'][str(s)]['black_encoder_end'])} / "
                f"{cm(r['permanence'][str(s)]['no_reground_end'])}"),
            "belief <= 2.5 after 1 s" if steps == 10 else "")
        row(f"camera dark {seconds:.0f} s: belief at the first frame back (before it is "
            "encoded), cm", lambda r, s=steps: cm(r["permanence"][str(s)]["belief_after"]))
    return lines

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
"""`wmp export`: the trained world model as ONNX files plus meta.json, with proof of parity.

Four graphs, each with a dynamic batch dimension and raw inputs (uint8 RGB, radians), so runtime
code does no preprocessing of its own:

* encoder.onnx      image (B,H,W,3) uint8, joint_state (B,2J), modality (B,2) -> latent (B,D)
* dynamics.onnx     latent (N,D), actions (N,H,J) -> latent_mean (N,H,D), disagreement (N,H),
                    joint_positions (N,H,J): H imagined steps of every ensemble member in one call,
                    reduced to what the planner's cost needs (ensemble mean, variance across
                    members, joints of the mean latent)
* proprio_head.onnx latent (B,D) -> joint_state (B,2J)
* decoder.onnx      latent (B,D) -> image (B,H,W,3) float in [0,1]
* object_head.onnx  latent (B,D) -> object (B,4): x, y (m), cos and sin of symmetry * yaw
                    (push models only; their dynamics.onnx also gives object (N,H,4) of the mean)

Every export is checked with onnx.checker and against PyTorch on random and real inputs; the
worst absolute error of each output is written into meta.json beside each file's sha256. The
PyTorch weights travel along as model.safetensors for the torch planning backend, with the
training state.json they came with, so the folder is also a starting point for further training.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import __version__
from . import config as cfgmod
from .config import TrainConfig
from .model import checkpoint
from .model.networks import WorldModel
from .paths import file_sha256

FORMAT = "wmp-model"
VERSION = 1
META = "meta.json"
WEIGHTS = "model.safetensors"
PARITY_TOLERANCE = 1e-4
DEFAULT_HORIZON = 8
DEFAULT_OPSET = 18


class ExportError(RuntimeError):
    """The export failed a check (ONNX validity or parity with PyTorch)."""


def checkpoint_folder(path: str | Path) -> Path:
    """The folder holding model.safetensors + state.json: `path` itself or its best/ subfolder."""
    path = Path(path)
    for candidate in (path / "best", path, path / "checkpoint"):
        if (candidate / checkpoint.MODEL_FILE).is_file() and \
                (candidate / checkpoint.STATE_FILE).is_file():
            return candidate
    raise checkpoint.CheckpointError(
        f"{path}: no model.safetensors and state.json here or in best/; pass the --out folder of "
        "'wmp train'")


def load_trained(path: str | Path) -> tuple[WorldModel, dict[str, Any]]:
    folder = checkpoint_folder(path)
    state = checkpoint.load_state(folder)
    cfg = cfgmod.from_dict(TrainConfig, state["config"], source=str(folder / "state.json"))
    model = WorldModel(cfg.model, tuple(state["image_hw"]), len(state["joint_names"]))
    checkpoint.load_model(folder, model)
    return model.eval(), state


class EncoderGraph(nn.Module):
    def __init__(self, model: WorldModel) -> None:
        super().__init__()
        self.encoder = model.encoder

    def forward(self, image: torch.Tensor, joint_state: torch.Tensor,
                modality: torch.Tensor) -> torch.Tensor:
        return self.encoder(image, joint_state, modality)


class DynamicsGraph(nn.Module):
    def __init__(self, model: WorldModel) -> None:
        super().__init__()
        self.dynamics = model.dynamics
        self.head = model.proprio_head
        self.object_head = model.object_head
        self.joints = model.joints

    def forward(self, latent: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        members = self.dynamics.rollout(latent, actions)  # (K,N,H,D)
        mean = members.mean(dim=0)
        disagreement = ((members - mean) ** 2).mean(dim=(0, 3))
        # Joints of the ensemble-mean latent: one head evaluation per sample and step instead
        # of one per member, which would cost nearly as much as the dynamics themselves.
        joints = self.head(mean)[..., : self.joints]
        if self.object_head is None:
            return mean, disagreement, joints
        return mean, disagreement, joints, self.object_head(mean)


class ObjectGraph(nn.Module):
    def __init__(self, model: WorldModel) -> None:
        super().__init__()
        self.head = model.object_head

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.head(latent)


class ProprioGraph(nn.Module):
    def __init__(self, model: WorldModel) -> None:
        super().__init__()
        self.head = model.proprio_head

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.head(latent)


class DecoderGraph(nn.Module):
    def __init__(self, model: WorldModel) -> None:
        super().__init__()
        self.decoder = model.decoder

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent)


def _graph_specs(model: WorldModel, horizon: int) -> dict[str, dict[str, Any]]:
    h, w = model.image_hw
    j, d = model.joints, model.cfg.latent_dim
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    n = torch.export.Dim("samples", min=1, max=1 << 20)
    specs: dict[str, dict[str, Any]] = {
        "encoder": {
            "module": EncoderGraph(model), "inputs": ("image", "joint_state", "modality"),
            "outputs": ("latent",),
            "example": (torch.zeros(2, h, w, 3, dtype=torch.uint8), torch.zeros(2, 2 * j),
                        torch.ones(2, 2)),
            "dynamic": {"image": {0: batch}, "joint_state": {0: batch}, "modality": {0: batch}},
            "shapes": {"image": ["B", h, w, 3], "joint_state": ["B", 2 * j], "modality": ["B", 2],
                       "latent": ["B", d]}},
        "dynamics": {
            "module": DynamicsGraph(model), "inputs": ("latent", "actions"),
            "outputs": ("latent_mean", "disagreement", "joint_positions"),
            "example": (torch.zeros(2, d), torch.zeros(2, horizon, j)),
            "dynamic": {"latent": {0: n}, "actions": {0: n}},
            "shapes": {"latent": ["N", d], "actions": ["N", horizon, j],
                       "latent_mean": ["N", horizon, d], "disagreement": ["N", horizon],
                       "joint_positions": ["N", horizon, j]}},
        "proprio_head": {
            "module": ProprioGraph(model), "inputs": ("latent",), "outputs": ("joint_state",),
            "example": (torch.zeros(2, d),), "dynamic": {"latent": {0: batch}},
            "shapes": {"latent": ["B", d], "joint_state": ["B", 2 * j]}},
        "decoder": {
            "module": DecoderGraph(model), "inputs": ("latent",), "outputs": ("image",),
            "example": (torch.zeros(2, d),), "dynamic": {"latent": {0: batch}},
            "shapes": {"latent": ["B", d], "image": ["B", h, w, 3]}},
    }
    if model.object_head is not None:
        dyn = specs["dynamics"]
        dyn["outputs"] = (*dyn["outputs"], "object")
        dyn["shapes"]["object"] = ["N", horizon, 4]
        specs["object_head"] = {
            "module": ObjectGraph(model), "inputs": ("latent",), "outputs": ("object",),
            "example": (torch.zeros(2, d),), "dynamic": {"latent": {0: batch}},
            "shapes": {"latent": ["B", d], "object": ["B", 4]}}
    return specs


def _export_graph(spec: dict[str, Any], path: Path, opset: int) -> None:
    import logging

    # The exporter warns once per missing torchvision op; we use none of them.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    module = spec["module"].eval()
    names = list(spec["inputs"])
    # torch.export names dynamic shapes by the forward() argument names, which equal the ONNX
    # input names above.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module, spec["example"], dynamo=True, input_names=names,
            output_names=list(spec["outputs"]), dynamic_shapes=spec["dynamic"],
            opset_version=opset, verbose=False, optimize=True)
        program.save(str(path), external_data=False)


def _random_inputs(name: str, model: WorldModel, horizon: int, rng: np.random.Generator,
                   latents: np.ndarray, count: int = 64) -> tuple[np.ndarray, ...]:
    h, w = model.image_hw
    j = model.joints
    mean = model.encoder.proprio_norm.mean.numpy()
    std = model.encoder.proprio_norm.std.numpy()
    if name == "encoder":
        mask = np.ones((count, 2), np.float32)
        mask[count // 3: 2 * count // 3, 1] = 0.0
        mask[2 * count // 3:, 0] = 0.0
        return (rng.integers(0, 256, (count, h, w, 3), dtype=np.uint8),
                (mean + std * rng.standard_normal((count, 2 * j))).astype(np.float32), mask)
    if name == "dynamics":
        bound = model.dynamics.action_scale.numpy()
        return (latents[:count], (bound * rng.uniform(-1, 1, (count, horizon, j))).astype(
            np.float32))
    return (latents[:count],)


def _parity(spec: dict[str, Any], path: Path, inputs: tuple[np.ndarray, ...]) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(list(spec["outputs"]), dict(zip(spec["inputs"], inputs)))
    with torch.no_grad():
        ref = spec["module"](*[torch.from_numpy(x) for x in inputs])
    ref = ref if isinstance(ref, tuple) else (ref,)
    return max(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, ref))


def real_inputs(data: Sequence[str | Path], count: int = 64, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """(images, joint_state) of `count` frames spread over the datasets, or None if absent."""
    from .data.shards import Dataset, DatasetError

    images, states = [], []
    for root in data:
        try:
            ds = Dataset(root)
            arrays = ds.shard_arrays(ds.shards[0])
        except (DatasetError, IndexError, OSError):
            continue
        images.append(arrays["images"])
        states.append(np.concatenate([arrays["qpos"], arrays["qvel"]], axis=1))
    if not images:
        return None
    img, js = np.concatenate(images), np.concatenate(states).astype(np.float32)
    pick = np.random.default_rng(seed).choice(len(img), size=min(count, len(img)), replace=False)
    return img[pick], js[pick]


def _export_graphs(model: WorldModel, out: Path, horizon: int, opset: int,
                   real: tuple[np.ndarray, np.ndarray] | None
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write and check every ONNX graph against PyTorch on random inputs (and on recorded
    frames when there are some); returns meta.json's file entries and parity figures."""
    import onnx

    specs = _graph_specs(model, horizon)
    rng = np.random.default_rng(0)
    files: dict[str, Any] = {}
    parity: dict[str, Any] = {}
    with torch.no_grad():
        enc_in = _random_inputs("encoder", model, horizon, rng, np.zeros(0))
        latents = model.encoder(*[torch.from_numpy(x) for x in enc_in]).numpy()
        real_latents = None
        if real is not None:
            full = np.ones((len(real[0]), 2), np.float32)
            real_latents = model.encoder(torch.from_numpy(real[0]), torch.from_numpy(real[1]),
                                         torch.from_numpy(full)).numpy()
    for graph, spec in specs.items():
        path = out / f"{graph}.onnx"
        _export_graph(spec, path, opset)
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        errors = {"random": _parity(spec, path, enc_in if graph == "encoder" else
                                    _random_inputs(graph, model, horizon, rng, latents))}
        if real is not None and real_latents is not None:
            if graph == "encoder":
                real_in = (real[0], real[1], np.ones((len(real[0]), 2), np.float32))
            else:
                real_in = _random_inputs(graph, model, horizon, rng, real_latents.astype(
                    np.float32), count=len(real_latents))
            errors["real"] = _parity(spec, path, real_in)
        worst = max(errors.values())
        if not worst <= PARITY_TOLERANCE:
            raise ExportError(f"{path}: ONNX Runtime differs from PyTorch by {worst:.3g} "
                              f"(tolerance {PARITY_TOLERANCE}); inputs {errors}")
        parity[graph] = errors
        files[path.name] = {"sha256": file_sha256(path), "bytes": path.stat().st_size,
                            "inputs": list(spec["inputs"]), "outputs": list(spec["outputs"]),
                            "shapes": spec["shapes"]}
    return files, parity


def _describe(model: WorldModel, state: dict[str, Any], name: str, horizon: int, opset: int,
              files: dict[str, Any], parity: dict[str, Any]) -> dict[str, Any]:
    """meta.json without the surprise calibration: shapes, normalisation, joints, training."""
    import onnx

    h, w = model.image_hw
    return {
        "format": FORMAT, "version": VERSION,
        "name": name,
        "created_with": f"world_model_planner {__version__}",
        "objective": state["objective"],
        "joint_names": state["joint_names"],
        "image": {"height": h, "width": w, "encoding": "rgb8"},
        "control_period": state["control_period"],
        "action_bound": state["action_bound"],
        "horizon": horizon,
        "task": "push" if model.object_head is not None else "reach",
        **({"object": {"symmetry": model.cfg.object_symmetry,
                       "features": "x, y (m), cos and sin of symmetry * yaw"}}
           if model.object_head is not None else {}),
        "latent_dim": model.cfg.latent_dim,
        "ensemble_size": model.cfg.ensemble_size,
        "proprio": {"mean": model.encoder.proprio_norm.mean.tolist(),
                    "std": model.encoder.proprio_norm.std.tolist()},
        "training": {k: state.get(k) for k in (
            "data_digest", "train_episodes", "val_episodes", "train_frames", "step",
            "best_step", "best_val", "seconds", "world_size")},
        **({"refit": {k: v for k, v in state["refit"].items() if k != "source"}}
           if state.get("refit") else {}),
        **({"hardened": {k: v for k, v in state["hardened"].items()
                         if k not in ("source", "data")}}
           if state.get("hardened") else {}),
        "train_config": state["config"],
        "files": files,
        "parity": {"tolerance": PARITY_TOLERANCE, "max_abs_error": parity},
        "opset": opset,
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__},
    }


def export_model(checkpoint_path: str | Path, out: str | Path, *, horizon: int = DEFAULT_HORIZON,
                 opset: int = DEFAULT_OPSET, data: Sequence[str | Path] | None = None,
                 name: str | None = None) -> dict[str, Any]:
    """Export, check and describe a trained model; returns meta.json's content."""
    model, state = load_trained(checkpoint_path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    real = real_inputs(data if data is not None else state.get("data", []))
    files, parity = _export_graphs(model, out, horizon, opset, real)
    shutil.copyfile(checkpoint_folder(checkpoint_path) / checkpoint.MODEL_FILE, out / WEIGHTS)
    # With the weights' training state beside them the model folder is also a checkpoint: a
    # user holding only the shipped model can fine-tune it (wmp train --init-from) or refit its
    # ensemble on recordings of their arm. The planner reads neither file's state.
    shutil.copyfile(checkpoint_folder(checkpoint_path) / checkpoint.STATE_FILE,
                    out / checkpoint.STATE_FILE)
    files[WEIGHTS] = {"sha256": file_sha256(out / WEIGHTS), "bytes": (out / WEIGHTS).stat().st_size}
    meta = _describe(model, state, name or out.name, horizon, opset, files, parity)
    write_meta(out, meta)
    surprise = calibrate_from_data(out, state, data)
    if surprise is not None:
        meta["surprise"] = surprise
        write_meta(out, meta)
    return meta


def calibrate_from_data(out: Path, state: dict[str, Any],
                        data: Sequence[str | Path] | None) -> dict[str, Any] | None:
    """Surprise thresholds from held-out episodes: the training run's validation episodes, or
    every episode of explicitly given `data` folders. None (with a warning) without data."""
    import logging

    from .data.shards import DatasetError
    from .model.batches import load_sequences, split_episodes
    from .planning.calibration import calibrate
    from .runtime import OnnxWorldModel

    log = logging.getLogger(__name__)
    roots = list(data) if data is not None else list(state.get("data", []))
    try:
        seq = load_sequences([str(r) for r in roots]) if roots else None
    except DatasetError as exc:
        log.warning("no surprise calibration: %s", exc)
        seq = None
    if seq is None:
        log.warning("no data to calibrate the surprise monitor; pass --data to 'wmp export'")
        return None
    if data is None and seq.digest == state.get("data_digest"):
        optim = state["config"]["optim"]
        _, episodes = split_episodes(seq.episodes, optim["val_fraction"], optim["seed"])
    else:
        episodes = np.arange(seq.episodes)
    model = OnnxWorldModel(out, providers="cpu")
    return calibrate(model, seq, episodes)


def recalibrate(folder: str | Path, data: Sequence[str | Path], out: str | Path | None = None,
                robot: str | None = None, reground_quantile: float | None = None
                ) -> dict[str, Any]:
    """Calibrate an exported model's surprise monitor anew on other episodes; returns meta.json.

    The thresholds are quantiles of nominal scores on the episodes they were calibrated on. An
    arm that answers commands later than the simulator did (a ROS loop acts 15-25 ms late), or
    another camera, scores its nominal steps higher, and the shipped thresholds then read them
    as surprises. Episodes from the deployment itself (the recorder node's MCAP recordings, or
    `wmp collect` with `actuation_delay`) put the thresholds where its nominal steps are. Only
    meta.json's "surprise" section changes; the networks and their hashes do not. With `out`,
    the folder is copied there first and the original is left as it is. `reground_quantile`:
    see :func:`calibration.calibrate` (default: the quantile the model was calibrated with)."""
    from .model.batches import load_sequences
    from .planning.calibration import REGROUND_QUANTILE, calibrate
    from .runtime import OnnxWorldModel, read_meta

    source = Path(folder)
    meta = read_meta(source)
    if reground_quantile is None:
        reground_quantile = float(meta.get("surprise", {}).get("quantiles", {}).get(
            "reground", REGROUND_QUANTILE))
    target = source
    if out is not None:
        target = Path(out)
        if target.exists() and any(target.iterdir()):
            raise ExportError(f"{target}: exists and is not empty; choose another --out or "
                              "leave --out away to calibrate the model folder in place")
    seq = load_sequences([str(d) for d in data], robot=robot)
    unfit = seq.mismatch(meta["joint_names"], (meta["image"]["height"], meta["image"]["width"]),
                         meta.get("control_period", seq.control_period))
    if unfit:
        raise ExportError(f"{', '.join(str(d) for d in data)}: {unfit}; calibrate on episodes of "
                          "the model's arm, recorded at its camera size and control rate")
    if out is not None:
        shutil.copytree(source, target, dirs_exist_ok=True)
    surprise = calibrate(OnnxWorldModel(target, providers="cpu"), seq, np.arange(seq.episodes),
                         reground_quantile)
    surprise["data"] = {"roots": [str(d) for d in data], "digest": seq.digest[:12],
                        "episodes": int(seq.episodes)}
    meta["surprise"] = surprise
    write_meta(target, meta)
    return meta


def write_meta(folder: str | Path, meta: dict[str, Any]) -> None:
    path = Path(folder) / META
    tmp = path.with_name(f".{META}.tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)

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
"""ONNX Runtime sessions for a model folder: verified, on the best provider, with I/O binding.

Loading checks every file against meta.json (sha256, input and output shapes) before a session is
created, so a corrupt, tampered or mismatched model is refused with a message naming the file.
Providers are tried TensorRT > CUDA > CPU; the one chosen is logged, and a machine that can only
run on the CPU is told so with a warning. Where the provider supports it, the planner's rollout
call binds preallocated output buffers (I/O binding), so the hot path allocates nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .batch_shards import BatchShards, usable_cores
from .paths import file_sha256, resolve

log = logging.getLogger(__name__)

FORMAT = "wmp-model"
GRAPHS = ("encoder", "dynamics", "proprio_head", "decoder")
OBJECT_GRAPH = "object_head"  # push models only
PROVIDER_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
PROVIDER_ALIASES = {"tensorrt": "TensorrtExecutionProvider", "cuda": "CUDAExecutionProvider",
                    "cpu": "CPUExecutionProvider"}
DEFAULT_MODEL = "models/wmp_arm_reach"
# Fewer rows than this per slice and a rollout's slices cost more in hand-offs than they save.
ROLLOUT_MIN_ROWS = 32


class ModelError(RuntimeError):
    """A model folder is missing, corrupt, tampered with or does not fit the robot/camera."""


def _import_ort() -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ModelError("ONNX Runtime is not installed: pip install 'world_model_planner[cpu]' "
                         "(or [gpu] on a CUDA machine or Jetson)") from exc
    return ort


def select_providers(preference: str | Sequence[str] = "auto") -> list[str]:
    """Execution providers to use, best first, among those this ONNX Runtime build has."""
    ort = _import_ort()
    available = set(ort.get_available_providers())
    if isinstance(preference, str) and preference != "auto":
        preference = [p.strip() for p in preference.split(",") if p.strip()]
    if preference == "auto":
        wanted = list(PROVIDER_ORDER)
    else:
        wanted = [PROVIDER_ALIASES.get(p.lower(), p) for p in preference]
        missing = [p for p in wanted if p not in available]
        if missing:
            raise ModelError(f"execution provider(s) {missing} not available in this ONNX Runtime "
                             f"(available: {sorted(available)}); install onnxruntime-gpu for "
                             "CUDA/TensorRT or choose 'cpu'")
    chosen = [p for p in wanted if p in available]
    if "CPUExecutionProvider" not in chosen and "CPUExecutionProvider" in available:
        chosen.append("CPUExecutionProvider")  # fallback for ops a GPU provider lacks
    return chosen


def read_meta(folder: Path) -> dict[str, Any]:
    path = folder / "meta.json"
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: missing; a model folder is written by 'wmp export'") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: not valid JSON ({exc}); re-export the model") from exc
    if meta.get("format") != FORMAT:
        raise ModelError(f"{path}: format {meta.get('format')!r} is not {FORMAT!r}")
    for key in ("files", "joint_names", "image", "horizon", "latent_dim", "action_bound"):
        if key not in meta:
            raise ModelError(f"{path}: lacks '{key}'; re-export the model with 'wmp export'")
    return meta


def _dims_match(declared: Sequence[Any], actual: Sequence[Any]) -> bool:
    if len(declared) != len(actual):
        return False
    return all(isinstance(d, str) or not isinstance(a, int) or int(d) == a
               for d, a in zip(declared, actual))


@dataclass(frozen=True)
class Rollout:
    """What the planner's cost needs from N imagined H-step futures."""

    latent_mean: np.ndarray  # (N, H, D)
    disagreement: np.ndarray  # (N, H)
    joint_positions: np.ndarray  # (N, H, J)
    object: np.ndarray | None = None  # (N, H, 4) push models: x, y, cos/sin(symmetry * yaw)


class OnnxWorldModel:
    """The four ONNX graphs of a model folder as numpy-in, numpy-out calls."""

    def __init__(self, folder: str | Path = DEFAULT_MODEL, *,
                 providers: str | Sequence[str] = "auto", threads: int = 0,
                 batch_shards: bool = True,
                 expected_joints: Sequence[str] | None = None,
                 expected_image: tuple[int, int] | None = None) -> None:
        ort = _import_ort()
        self.folder = resolve(folder, kind="model folder")
        self.meta = read_meta(self.folder)
        self.verify(expected_joints, expected_image)
        self.providers = select_providers(providers)
        on_cpu = self.providers[0] == "CPUExecutionProvider"
        # On the CPU a batched call runs as one single-threaded slice per core (batch_shards.py
        # says why); elsewhere, and with batch_shards off, as one call over the runtime's threads.
        self.shards = BatchShards(threads or len(usable_cores()) if on_cpu and batch_shards else 1)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.shards.workers > 1:
            options.intra_op_num_threads = 1
        elif threads:
            options.intra_op_num_threads = threads
        # ONNX Runtime's worker threads spin after each call by default. Between the planner's
        # calls the main thread does numpy work (sampling, costs, refits), and on a small CPU the
        # spinning workers take its cores: measured on 2 cores, a control step went from 19 ms
        # to 15 ms p50 (29 ms to 16-19 ms p99) with spinning off (docs/BENCHMARKS.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.sessions = {g: ort.InferenceSession(str(self.folder / f"{g}.onnx"), options,
                                                 providers=self.providers)
                         for g in self.graphs()}
        self._check_shapes()
        self.provider = self.sessions["dynamics"].get_providers()[0]
        if self.provider == "CPUExecutionProvider" and providers == "auto":
            log.warning("world model on CPUExecutionProvider: no CUDA or TensorRT provider in "
                        "this ONNX Runtime (install onnxruntime-gpu on a GPU machine)")
        log.info("world model %s on %s%s", self.meta.get("name", self.folder.name), self.provider,
                 f", batches in {self.shards.workers} single-threaded slices"
                 if self.shards.workers > 1 else "")
        self.joint_names = list(self.meta["joint_names"])
        self.joints = len(self.joint_names)
        self.latent_dim = int(self.meta["latent_dim"])
        self.horizon = int(self.meta["horizon"])
        self.image_hw = (int(self.meta["image"]["height"]), int(self.meta["image"]["width"]))
        self.action_bound = np.asarray(self.meta["action_bound"], dtype=np.float32)
        self.task = str(self.meta.get("task", "reach"))
        self.object_symmetry = int(self.meta.get("object", {}).get("symmetry", 1))
        self._binding: dict[int, tuple[dict[tuple[int, int], Any], Rollout]] = {}

    # -- verification ----------------------------------------------------------------------

    def graphs(self) -> tuple[str, ...]:
        """The graphs this model has: the four of every model, plus the object head of a push
        model."""
        return GRAPHS + ((OBJECT_GRAPH,) if self.meta.get("task") == "push" else ())

    @property
    def has_object(self) -> bool:
        return self.meta.get("task") == "push"

    def verify(self, expected_joints: Sequence[str] | None,
               expected_image: tuple[int, int] | None) -> None:
        meta, folder = self.meta, self.folder
        for graph in self.graphs():
            name = f"{graph}.onnx"
            entry = meta["files"].get(name)
            path = folder / name
            if entry is None:
                raise ModelError(f"{folder / 'meta.json'}: does not list {name}")
            if not path.is_file():
                raise ModelError(f"{path}: missing")
            actual = file_sha256(path)
            if actual != entry["sha256"]:
                raise ModelError(f"{path}: sha256 {actual[:16]}... does not match meta.json "
                                 f"({entry['sha256'][:16]}...); the file is corrupt or was "
                                 "modified: refusing to load it. Re-export or restore the model.")
        if expected_joints is not None and list(expected_joints) != list(meta["joint_names"]):
            raise ModelError(f"{folder / 'meta.json'}: model joints {meta['joint_names']} differ "
                             f"from the robot's {list(expected_joints)}; use a model trained for "
                             "this robot (model:= / --model)")
        image = (int(meta["image"]["height"]), int(meta["image"]["width"]))
        if expected_image is not None and tuple(expected_image) != image:
            raise ModelError(f"{folder / 'meta.json'}: model expects {image[1]}x{image[0]} images, "
                             f"the camera gives {expected_image[1]}x{expected_image[0]}")

    def _check_shapes(self) -> None:
        for graph, session in self.sessions.items():
            declared = self.meta["files"][f"{graph}.onnx"]["shapes"]
            for arg in list(session.get_inputs()) + list(session.get_outputs()):
                if arg.name not in declared or not _dims_match(declared[arg.name], arg.shape):
                    raise ModelError(
                        f"{self.folder / (graph + '.onnx')}: '{arg.name}' has shape {arg.shape}, "
                        f"meta.json says {declared.get(arg.name)}")

    # -- calls -----------------------------------------------------------------------------

    def _run(self, graph: str, output: str, feeds: dict[str, np.ndarray],
             min_rows: int = 1) -> np.ndarray:
        """One graph over a batch, sliced across the shard threads where it is big enough."""
        session = self.sessions[graph]
        bounds = self.shards.bounds(len(next(iter(feeds.values()))), min_rows)
        parts = self.shards.run(lambda lo, hi: session.run(
            [output], {k: v[lo:hi] for k, v in feeds.items()})[0], bounds)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def encode(self, image: np.ndarray, joint_state: np.ndarray,
               modality: np.ndarray) -> np.ndarray:
        return self._run("encoder", "latent", {
            "image": np.ascontiguousarray(image, dtype=np.uint8),
            "joint_state": np.ascontiguousarray(joint_state, dtype=np.float32),
            "modality": np.ascontiguousarray(modality, dtype=np.float32)})

    def rollout(self, latent: np.ndarray, actions: np.ndarray) -> Rollout:
        """Imagined futures of N action sequences (N,H,J) from latents (N,D)."""
        latent = np.ascontiguousarray(latent, dtype=np.float32)
        actions = np.ascontiguousarray(actions, dtype=np.float32)
        session = self.sessions["dynamics"]
        n = latent.shape[0]
        if self.provider in ("CPUExecutionProvider", "CUDAExecutionProvider"):
            bindings, out = self._binding.get(n) or self._bind(n)

            def run(lo: int, hi: int) -> None:
                binding = bindings[lo, hi]
                binding.bind_cpu_input("latent", latent[lo:hi])
                binding.bind_cpu_input("actions", actions[lo:hi])
                session.run_with_iobinding(binding)

            self.shards.run(run, list(bindings))
            return out
        outputs = session.run(None, {"latent": latent, "actions": actions})
        return Rollout(*outputs)

    def _bind(self, n: int) -> tuple[dict[tuple[int, int], Any], Rollout]:
        """Output buffers for batch size n, reused by every later call of that size, with one
        binding per batch slice writing straight into its rows of them."""
        session = self.sessions["dynamics"]
        h, d, j = self.horizon, self.latent_dim, self.joints
        out = Rollout(np.empty((n, h, d), np.float32), np.empty((n, h), np.float32),
                      np.empty((n, h, j), np.float32),
                      np.empty((n, h, 4), np.float32) if self.has_object else None)
        buffers = [("latent_mean", out.latent_mean), ("disagreement", out.disagreement),
                   ("joint_positions", out.joint_positions)]
        if out.object is not None:
            buffers.append(("object", out.object))
        bindings = {}
        for lo, hi in self.shards.bounds(n, ROLLOUT_MIN_ROWS):
            binding = session.io_binding()
            for name, buf in buffers:
                rows = buf[lo:hi]
                binding.bind_output(name, "cpu", 0, np.float32, list(rows.shape),
                                    rows.ctypes.data)
            bindings[lo, hi] = binding
        self._binding[n] = (bindings, out)
        return bindings, out

    def proprio(self, latent: np.ndarray) -> np.ndarray:
        return self._run("proprio_head", "joint_state", {
            "latent": np.ascontiguousarray(latent, dtype=np.float32)}, ROLLOUT_MIN_ROWS)

    def object(self, latent: np.ndarray) -> np.ndarray:
        """Object pose features (B, 4) of latents (B, D): push models only."""
        if not self.has_object:
            raise ModelError(f"{self.folder}: a {self.task} model has no object head; use a "
                             "push model (meta.json task: push)")
        return self._run(OBJECT_GRAPH, "object", {
            "latent": np.ascontiguousarray(latent, dtype=np.float32)}, ROLLOUT_MIN_ROWS)

    def decode(self, latent: np.ndarray) -> np.ndarray:
        return self._run("decoder", "image", {
            "latent": np.ascontiguousarray(latent, dtype=np.float32)})

    @property
    def model_id(self) -> str:
        """Short identity for diagnostics: name and the dynamics file's hash."""
        return f"{self.meta.get('name', self.folder.name)}@" \
               f"{self.meta['files']['dynamics.onnx']['sha256'][:12]}"


def verify_model_folder(folder: str | Path, **kwargs: Any) -> Mapping[str, Any]:
    """Check a model folder without creating sessions; returns its meta.json."""
    holder = OnnxWorldModel.__new__(OnnxWorldModel)
    holder.folder = resolve(folder, kind="model folder")
    holder.meta = read_meta(holder.folder)
    holder.verify(kwargs.get("expected_joints"), kwargs.get("expected_image"))
    return holder.meta

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
"""The world model on PyTorch, behind the same interface as the ONNX Runtime backend.

For comparison (`wmp bench` measures ONNX Runtime against torch eager on the same weights) and for
machines where a PyTorch build is the better accelerator path. It loads model.safetensors from the
same model folder, verified against meta.json like the ONNX files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import config as cfgmod
from ..config import TrainConfig
from ..export import WEIGHTS, DynamicsGraph
from ..model.networks import WorldModel
from ..paths import file_sha256, resolve
from ..runtime import ModelError, Rollout, read_meta


class CudaGraphs:
    """Replays each call as a captured CUDA graph, one per input shape.

    The planner calls the same few networks with the same shapes every control step; in eager
    mode each call is dozens of small kernel launches whose launch cost, not arithmetic, sets the
    latency. A graph captured once per shape (static input buffers, the inputs copied in, the
    graph replayed) launches them all at once. Outputs live in the graph's static buffers and are
    overwritten by the next call of the same shape, so callers copy them out at once.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.graphs: dict[tuple, tuple[Any, list[torch.Tensor], Any]] = {}

    def __call__(self, *args: torch.Tensor) -> Any:
        key = tuple((tuple(a.shape), a.dtype) for a in args)
        entry = self.graphs.get(key)
        if entry is None:
            static = [a.clone() for a in args]
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm-up outside the graph (cuBLAS handles, autotune)
                for _ in range(2):
                    self.fn(*static)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                out = self.fn(*static)
            entry = self.graphs[key] = (graph, static, out)
        graph, static, out = entry
        for buffer, a in zip(static, args):
            buffer.copy_(a)
        graph.replay()
        return out


class TorchWorldModel:
    provider = "torch"

    def __init__(self, folder: str | Path, *, threads: int = 0,
                 expected_joints: Sequence[str] | None = None, device: str = "cpu",
                 cuda_graphs: bool = True) -> None:
        from safetensors.torch import load_file

        self.folder = resolve(folder, kind="model folder")
        self.meta = read_meta(self.folder)
        entry = self.meta["files"].get(WEIGHTS)
        path = self.folder / WEIGHTS
        if entry is None or not path.is_file():
            raise ModelError(f"{path}: missing; the torch backend needs the weights exported "
                             "beside the ONNX files")
        if file_sha256(path) != entry["sha256"]:
            raise ModelError(f"{path}: sha256 does not match meta.json; refusing to load it")
        self.joint_names = list(self.meta["joint_names"])
        if expected_joints is not None and list(expected_joints) != self.joint_names:
            raise ModelError(f"model joints {self.joint_names} differ from the robot's "
                             f"{list(expected_joints)}")
        cfg = cfgmod.from_dict(TrainConfig, self.meta["train_config"], source=str(path))
        image = self.meta["image"]
        self.net = WorldModel(cfg.model, (image["height"], image["width"]), len(self.joint_names))
        tensors = load_file(str(path))
        try:
            self.net.load_state_dict({k: v for k, v in tensors.items()
                                      if not k.startswith("extra.")})
        except RuntimeError as exc:
            raise ModelError(f"{path}: does not fit the architecture in meta.json's train_config "
                             f"({str(exc).splitlines()[0]}); re-export the model") from exc
        try:
            self.device = torch.device(device)
        except RuntimeError as exc:
            raise ModelError(f"planner.torch_device: '{device}' is not a torch device; use cpu, "
                             "cuda or cuda:N") from exc
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ModelError(f"planner.torch_device: {device}, but this PyTorch "
                             f"({torch.__version__}) sees no GPU; set torch_device: cpu")
        self.net = self.net.eval().to(self.device)
        self.rollout_graph = DynamicsGraph(self.net)
        self._encoder: Callable[..., Any] = self.net.encoder
        self._rollout: Callable[..., Any] = self.rollout_graph
        self._proprio: Callable[..., Any] = self.net.proprio_head
        if cuda_graphs and self.device.type == "cuda":
            self._encoder, self._rollout, self._proprio = (
                CudaGraphs(self._encoder), CudaGraphs(self._rollout), CudaGraphs(self._proprio))
            self.provider = "torch-cuda-graphs"
        elif self.device.type == "cuda":
            self.provider = "torch-cuda"
        if threads:
            torch.set_num_threads(threads)
        self.joints = len(self.joint_names)
        self.latent_dim = int(self.meta["latent_dim"])
        self.horizon = int(self.meta["horizon"])
        self.action_bound = np.asarray(self.meta["action_bound"], dtype=np.float32)

    def _t(self, x: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(x)).to(self.device, dtype)

    @torch.inference_mode()
    def encode(self, image: np.ndarray, joint_state: np.ndarray,
               modality: np.ndarray) -> np.ndarray:
        return self._encoder(self._t(image, torch.uint8), self._t(joint_state),
                             self._t(modality)).cpu().numpy()

    @torch.inference_mode()
    def rollout(self, latent: np.ndarray, actions: np.ndarray) -> Rollout:
        return Rollout(*(out.cpu().numpy() for out in self._rollout(self._t(latent),
                                                                    self._t(actions))))

    @torch.inference_mode()
    def object(self, latent: np.ndarray) -> np.ndarray:
        """Object pose features (B, 4): push models only."""
        if self.net.object_head is None:
            raise ModelError(f"{self.folder}: a reach model has no object head; use a push "
                             "model (meta.json task: push)")
        return self.net.object_head(self._t(latent)).cpu().numpy()

    @torch.inference_mode()
    def proprio(self, latent: np.ndarray) -> np.ndarray:
        return self._proprio(self._t(latent)).cpu().numpy()

    @torch.inference_mode()
    def decode(self, latent: np.ndarray) -> np.ndarray:
        return self.net.decoder(self._t(latent)).cpu().numpy()

    @property
    def model_id(self) -> str:
        digest = self.meta["files"][WEIGHTS]["sha256"][:12]
        return f"{self.meta.get('name', self.folder.name)}@{digest}"

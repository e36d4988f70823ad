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
"""Checkpoints as safetensors + JSON: nothing is ever unpickled.

A training folder holds `checkpoint/` (latest: model, optimiser, trainer state, for resuming) and
`best/` (lowest validation loss: model and state, for export). Optimiser state is flattened into
named tensors; random-generator states are stored as tensors (torch) or JSON (numpy).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

MODEL_FILE = "model.safetensors"
OPTIM_FILE = "optimizer.safetensors"
STATE_FILE = "state.json"


class CheckpointError(RuntimeError):
    """A checkpoint folder is missing files or does not fit the model."""


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save(folder: str | Path, model: torch.nn.Module, state: dict[str, Any],
         optimizer: torch.optim.Optimizer | None = None,
         extra_tensors: dict[str, torch.Tensor] | None = None) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    tensors.update({f"extra.{k}": v.detach().cpu().contiguous()
                    for k, v in (extra_tensors or {}).items()})
    _atomic(folder / MODEL_FILE, lambda p: save_file(tensors, str(p)))
    if optimizer is not None:
        flat, layout = flatten_optimizer(optimizer)
        _atomic(folder / OPTIM_FILE, lambda p: save_file(flat, str(p)))
        state = {**state, "optimizer_layout": layout}
    _atomic(folder / STATE_FILE,
            lambda p: p.write_text(json.dumps(state, indent=2, sort_keys=True, default=float)))


def load_state(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / STATE_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path}: missing; is '{folder}' a folder written by 'wmp train'?"
                              ) from exc


def load_model(folder: str | Path, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Load weights into `model` (strict); returns the extra tensors saved beside them."""
    path = Path(folder) / MODEL_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    tensors = load_file(str(path))
    extra = {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
    weights = {k: v for k, v in tensors.items() if not k.startswith("extra.")}
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: does not fit the model in the config ({exc})") from exc
    return extra


def flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = optimizer.state_dict()
    flat: dict[str, torch.Tensor] = {}
    for pid, pstate in sd["state"].items():
        for key, value in pstate.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            flat[f"{pid}.{key}"] = tensor.detach().cpu().contiguous().clone()
    return flat, {"param_groups": sd["param_groups"]}


def load_optimizer(folder: str | Path, optimizer: torch.optim.Optimizer,
                   layout: dict[str, Any]) -> None:
    path = Path(folder) / OPTIM_FILE
    flat = load_file(str(path))
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in flat.items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = tensor
    optimizer.load_state_dict({"state": state, "param_groups": layout["param_groups"]})

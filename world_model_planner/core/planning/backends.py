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
"""Choosing and loading the world-model backend named in the planner config."""

from __future__ import annotations

from typing import Any

from ..config import PlannerConfig
from ..robot import Robot


def load_world_model(folder: str, cfg: PlannerConfig, robot: Robot | None = None,
                     image_hw: tuple[int, int] | None = None) -> Any:
    """ONNX Runtime (default) or PyTorch, verified against meta.json and the robot/camera."""
    joints = list(robot.joint_names) if robot is not None else None
    if cfg.backend == "torch":
        from .torch_backend import TorchWorldModel

        return TorchWorldModel(folder, threads=cfg.threads, expected_joints=joints,
                               device=cfg.torch_device, cuda_graphs=cfg.cuda_graphs)
    from ..runtime import OnnxWorldModel

    return OnnxWorldModel(folder, providers=cfg.providers, threads=cfg.threads,
                          batch_shards=cfg.batch_shards,
                          expected_joints=joints, expected_image=image_hw)

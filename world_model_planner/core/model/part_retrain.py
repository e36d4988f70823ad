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
"""What the commands that re-train one part of a trained model share (`wmp refit-ensemble`,
`wmp harden-encoder`): the frozen source model with data it fits, the source run's episode
split, and a short warm-up into a cosine decay.

Why one place: both must refuse data of another arm, camera or rate in the same words, and
validate on the episodes the source held out, or their figures stop being comparable with the
source run's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .batches import SequenceData, load_sequences, split_episodes
from .networks import WorldModel


def frozen_source(source: str | Path, data: Sequence[str | Path] | None,
                  error: type[ValueError], verb: str
                  ) -> tuple[WorldModel, dict[str, Any], list[str], SequenceData]:
    """The source model with every weight frozen, its run state, the data roots (default: the
    run's own) and their episodes; `error` when the episodes do not fit the model."""
    from ..export import load_trained

    model, state = load_trained(source)
    model.requires_grad_(False)
    roots = [str(d) for d in data] if data else list(state["data"])
    seq = load_sequences(roots)
    unfit = seq.mismatch(state["joint_names"], state["image_hw"], state["control_period"])
    if unfit:
        raise error(f"--data: {unfit}; {verb} on data of the robot, camera and control rate "
                    "the model was trained for")
    return model, state, roots, seq


def source_split(state: dict[str, Any], episodes: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) episodes as the source run split them; all of them for both when
    there are too few to hold any out."""
    optim = state["config"]["optim"]
    train, val = split_episodes(episodes, optim["val_fraction"], optim["seed"])
    return train, (val if len(val) else train)


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, steps: int
                  ) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over `warmup_steps`, then cosine decay to zero at `steps`."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(
        1.0, (s + 1) / max(1, warmup_steps)) * 0.5 * (1 + math.cos(math.pi * s / steps)))

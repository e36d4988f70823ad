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
"""`wmp sheet`: a contact sheet of a dataset, to see at a glance what its episodes show."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..viz import contact_sheet, save_png
from .shards import Dataset


def dataset_sheet(data: str | Path, out: str | Path, episodes: int = 4, columns: int = 8) -> Path:
    """PNG of goal images and evenly spaced frames of the first episodes of a dataset."""
    rows, labels = [], []
    for ep in Dataset(data).episodes():
        picks = np.linspace(0, ep.steps, columns).round().astype(int)
        rows.append([ep.goal_image] + [ep.images[t] for t in picks])
        labels.append(f"episode {ep.index}")
        if len(rows) >= episodes:
            break
    heads = ["goal"] + [f"t={t}" for t in picks]
    return save_png(contact_sheet(rows, row_labels=labels, column_labels=heads), out)

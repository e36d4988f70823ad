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
"""Small image helpers for reports: contact sheets of camera frames with labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def contact_sheet(rows: Sequence[Sequence[np.ndarray]], *, scale: int = 3,
                  row_labels: Sequence[str] | None = None,
                  column_labels: Sequence[str] | None = None, gap: int = 4) -> np.ndarray:
    """Grid of uint8 RGB frames (rows may differ in length), upscaled, with text labels."""
    from PIL import Image, ImageDraw

    h, w = rows[0][0].shape[:2]
    cell_h, cell_w = h * scale, w * scale
    label_w = 110 if row_labels else 0
    head_h = 16 if column_labels else 0
    cols = max(len(r) for r in rows)
    width = label_w + cols * (cell_w + gap) + gap
    height = head_h + len(rows) * (cell_h + gap) + gap
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for c, text in enumerate(column_labels or []):
        draw.text((label_w + gap + c * (cell_w + gap), 2), text, fill=(0, 0, 0))
    for r, row in enumerate(rows):
        top = head_h + gap + r * (cell_h + gap)
        if row_labels:
            draw.text((4, top + cell_h // 2 - 6), row_labels[r], fill=(0, 0, 0))
        for c, frame in enumerate(row):
            tile = Image.fromarray(np.asarray(frame, dtype=np.uint8)).resize(
                (cell_w, cell_h), Image.NEAREST)
            sheet.paste(tile, (label_w + gap + c * (cell_w + gap), top))
    return np.asarray(sheet)


def save_png(image: np.ndarray, path: str | Path) -> Path:
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path

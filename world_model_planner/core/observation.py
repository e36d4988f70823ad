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
"""What the planner sees at one control step, whatever produced it (simulator, Gazebo, real arm)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Observation:
    """Camera frame plus joint state, joint vectors in the robot's joint_names order.

    image: uint8 RGB (H, W, 3); qpos, qvel: float64 (J,) in rad and rad/s; stamp: seconds.
    """

    image: np.ndarray
    qpos: np.ndarray
    qvel: np.ndarray
    stamp: float = 0.0


def fit_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """`image` (H, W, 3) uint8 at the model's input size: centre-cropped to its aspect ratio,
    then area-resampled (a camera driver's 640x480 frame becomes what the model was trained on).
    Returns the input itself when it already has that size."""
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    from PIL import Image

    target = width / height
    if w / h > target:  # too wide: crop the sides
        keep = int(round(h * target))
        left = (w - keep) // 2
        image = image[:, left:left + keep]
    elif w / h < target:
        keep = int(round(w / target))
        top = (h - keep) // 2
        image = image[top:top + keep]
    return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(
        (width, height), Image.BOX))

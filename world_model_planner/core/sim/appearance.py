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
"""Changes to how the scene looks: lighting, camera pose, colours and a distractor object.

Evaluation perturbations and the mild per-episode randomisation of data collection both go through
:class:`SceneEditor`, which remembers the nominal model values so every change can be undone and
every episode starts from the same scene.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Any

import numpy as np
import transforms3d

from .scene import DISTRACTOR_BODY, FILL_LIGHT, FLOOR_GEOM, HIDDEN_POS, KEY_LIGHT


def _shift_hue(rgba: np.ndarray, shift: float) -> np.ndarray:
    out = rgba.copy()
    h, s, v = colorsys.rgb_to_hsv(*np.clip(rgba[:3], 0.0, 1.0))
    out[:3] = colorsys.hsv_to_rgb((h + shift) % 1.0, s, v)
    return out


@dataclass(frozen=True)
class Appearance:
    """One look of the scene; the default is the nominal scene."""

    light_intensity: float = 1.0
    light_tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    key_light_shift: tuple[float, float, float] = (0.0, 0.0, 0.0)
    camera_translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    camera_rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    hue_shift: float = 0.0
    floor_rgba: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    distractor_size: float = 0.0  # 0: no distractor
    distractor_rgba: tuple[float, float, float, float] = (0.95, 0.85, 0.1, 1.0)


class SceneEditor:
    """Applies an :class:`Appearance` to a MuJoCo model, always starting from the nominal one."""

    def __init__(self, model: Any, camera: str) -> None:
        import mujoco

        self._model = model
        self._cam = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        self._key = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_LIGHT, KEY_LIGHT)
        self._fill = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_LIGHT, FILL_LIGHT)
        self._floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, FLOOR_GEOM)
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, DISTRACTOR_BODY)
        self._distractor_mocap = int(model.body_mocapid[body])
        self._distractor_geom = int(np.flatnonzero(model.geom_bodyid == body)[0])
        # Every URDF visual is in geom group 2 (scene.py); the floor and distractor are not.
        self._arm_geoms = np.flatnonzero(model.geom_group == 2)
        self._nominal = {
            "light_diffuse": model.light_diffuse.copy(),
            "light_specular": model.light_specular.copy(),
            "light_pos": model.light_pos.copy(),
            "headlight_diffuse": model.vis.headlight.diffuse.copy(),
            "headlight_ambient": model.vis.headlight.ambient.copy(),
            "cam_pos": model.cam_pos[self._cam].copy(),
            "cam_quat": model.cam_quat[self._cam].copy(),
            "geom_rgba": model.geom_rgba.copy(),
            "geom_size": model.geom_size.copy(),
            "floor_mat_rgba": model.mat_rgba.copy(),
        }
        self.appearance = Appearance()

    def apply(self, look: Appearance) -> None:
        m, n = self._model, self._nominal
        tint = np.asarray(look.light_tint) * look.light_intensity
        m.light_diffuse[:] = np.clip(n["light_diffuse"] * tint, 0.0, 1.0)
        m.light_specular[:] = np.clip(n["light_specular"] * tint, 0.0, 1.0)
        m.light_pos[:] = n["light_pos"]
        m.light_pos[self._key] += look.key_light_shift
        m.vis.headlight.diffuse[:] = np.clip(n["headlight_diffuse"] * tint, 0.0, 1.0)
        m.vis.headlight.ambient[:] = np.clip(n["headlight_ambient"] * tint, 0.0, 1.0)
        # Camera: translate and rotate in its own frame.
        rot0 = transforms3d.quaternions.quat2mat(n["cam_quat"])
        m.cam_pos[self._cam] = n["cam_pos"] + rot0 @ np.asarray(look.camera_translation)
        delta = transforms3d.euler.euler2mat(*np.radians(look.camera_rotation_deg), axes="sxyz")
        m.cam_quat[self._cam] = transforms3d.quaternions.mat2quat(rot0 @ delta)
        # Colours.
        m.geom_rgba[:] = n["geom_rgba"]
        if look.hue_shift:
            for g in self._arm_geoms:
                m.geom_rgba[g] = _shift_hue(n["geom_rgba"][g], look.hue_shift)
        m.mat_rgba[:] = n["floor_mat_rgba"]
        floor_mat = m.geom_matid[self._floor]
        if floor_mat >= 0:
            m.mat_rgba[floor_mat] = n["floor_mat_rgba"][floor_mat] * np.asarray(look.floor_rgba)
        # Distractor: sized and coloured here, placed by place_distractor().
        m.geom_size[self._distractor_geom] = n["geom_size"][self._distractor_geom]
        if look.distractor_size > 0:
            m.geom_size[self._distractor_geom, :3] = look.distractor_size
            m.geom_rgba[self._distractor_geom] = look.distractor_rgba
        self.appearance = look

    def place_distractor(self, data: Any, position: np.ndarray | None) -> None:
        """Put the distractor at `position` (world, m), or out of sight when None."""
        data.mocap_pos[self._distractor_mocap] = HIDDEN_POS if position is None else position

    def restore(self) -> None:
        self.apply(Appearance())

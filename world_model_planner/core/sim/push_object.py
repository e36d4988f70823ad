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
"""The pushed object's shape as boxes in its own frame, and planar pose arithmetic.

The object is defined once (`push.object` in the sim config); the MuJoCo scene, the Gazebo world
SDF, the camera-view check and the scripted pusher all read its boxes from here. The object's frame
sits at the footprint's centroid, so its pose (x, y, yaw) is where it is and how it is turned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import PushObjectConfig


@dataclass(frozen=True)
class ObjectBox:
    """One box of the object: centre (x, y) in the object frame and half extents (m)."""

    centre: tuple[float, float]
    half: tuple[float, float, float]
    mass: float


def object_boxes(cfg: PushObjectConfig) -> list[ObjectBox]:
    """The object's boxes, with the object frame at the footprint's centroid."""
    h = cfg.height / 2
    if cfg.shape == "box":
        return [ObjectBox((0.0, 0.0), (cfg.length / 2, cfg.width / 2, h), cfg.mass)]
    # Tee: the stem spans y in [0, stem_length], the bar [stem_length, stem_length + width].
    bar_area, stem_area = cfg.length * cfg.width, cfg.stem_length * cfg.width
    bar_y, stem_y = cfg.stem_length + cfg.width / 2, cfg.stem_length / 2
    centroid = (bar_area * bar_y + stem_area * stem_y) / (bar_area + stem_area)
    share = bar_area / (bar_area + stem_area)
    return [ObjectBox((0.0, bar_y - centroid), (cfg.length / 2, cfg.width / 2, h),
                      cfg.mass * share),
            ObjectBox((0.0, stem_y - centroid), (cfg.width / 2, cfg.stem_length / 2, h),
                      cfg.mass * (1 - share))]


def footprint_corners(cfg: PushObjectConfig, pose: np.ndarray) -> np.ndarray:
    """(4 * boxes, 2) world xy corners of the object's footprint at pose (x, y, yaw)."""
    c, s = math.cos(pose[2]), math.sin(pose[2])
    rot = np.array([[c, -s], [s, c]])
    corners = []
    for box in object_boxes(cfg):
        for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            local = np.array([box.centre[0] + sx * box.half[0], box.centre[1] + sy * box.half[1]])
            corners.append(rot @ local + pose[:2])
    return np.array(corners)


def bounding_radius(cfg: PushObjectConfig) -> float:
    """Distance from the object frame to its farthest footprint corner (m)."""
    return float(np.max(np.linalg.norm(footprint_corners(cfg, np.zeros(3)), axis=1)))


def wrap_angle(angle: np.ndarray | float) -> np.ndarray | float:
    """Angle(s) wrapped into [-pi, pi)."""
    return (np.asarray(angle) + math.pi) % (2 * math.pi) - math.pi


def yaw_error(yaw: np.ndarray | float, goal: np.ndarray | float, symmetry: int) -> np.ndarray:
    """|yaw - goal| in radians, modulo the turns that leave the shape unchanged."""
    period = 2 * math.pi / symmetry
    diff = (np.asarray(yaw) - np.asarray(goal) + period / 2) % period - period / 2
    return np.abs(diff)


def yaw_from_quat(quat: np.ndarray) -> float:
    """Heading (rotation about world z) of a MuJoCo (w, x, y, z) quaternion."""
    w, x, y, z = (float(v) for v in quat)
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def quat_from_yaw(yaw: float) -> np.ndarray:
    """The (w, x, y, z) quaternion of a turn by `yaw` about world z."""
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


@dataclass(frozen=True)
class ObjectLook:
    """A change of the pushed object from its config: size, mass, friction, colour.

    Training data draws these per episode in a mild range; the evaluation's object conditions
    use values outside it."""

    size_scale: float = 1.0
    mass_scale: float = 1.0
    friction_scale: float = 1.0
    rgba: tuple[float, float, float, float] | None = None  # None: the config's colour


class ObjectEditor:
    """Applies an :class:`ObjectLook` to a compiled MuJoCo model, always from the nominal one.

    MuJoCo derives constants from masses and inertias at compile time (the constraint solver's
    inverse weights among them); after editing them, mj_setConst recomputes those. Without it a
    doubled mass left the solver scaled for the old object and the simulation diverged in most
    pushes (MuJoCo then resets the state, teleporting arm and object)."""

    def __init__(self, model: Any, body: int) -> None:
        self._model = model
        self._body = body
        self._geoms = np.flatnonzero(model.geom_bodyid == body)
        self._nominal = {name: getattr(model, name)[self._geoms].copy()
                         for name in ("geom_size", "geom_pos", "geom_rbound", "geom_aabb",
                                      "geom_friction", "geom_rgba")}
        self._mass = float(model.body_mass[body])
        self._inertia = model.body_inertia[body].copy()
        self._ipos = model.body_ipos[body].copy()
        self.look = ObjectLook()

    def apply(self, look: ObjectLook) -> None:
        m, n, g, s = self._model, self._nominal, self._geoms, look.size_scale
        m.geom_size[g] = n["geom_size"] * s
        m.geom_pos[g] = n["geom_pos"] * s
        m.geom_rbound[g] = n["geom_rbound"] * s
        m.geom_aabb[g] = n["geom_aabb"] * s
        m.geom_friction[g] = n["geom_friction"]
        m.geom_friction[g, 0] = n["geom_friction"][:, 0] * look.friction_scale
        m.geom_rgba[g] = n["geom_rgba"] if look.rgba is None else np.asarray(look.rgba)
        m.body_mass[self._body] = self._mass * look.mass_scale
        m.body_inertia[self._body] = self._inertia * look.mass_scale * s * s
        m.body_ipos[self._body] = self._ipos * s
        import mujoco  # the simulator's own dependency, loaded with the scene already

        mujoco.mj_setConst(m, mujoco.MjData(m))
        self.look = look

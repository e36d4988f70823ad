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
"""How the arm's position loop answers a command: the monitor's check for pushes and collisions.

The world model reads joint motion out of a 32-number latent, to within a few hundredths of a
radian; an external push of a few degrees hides in that. The position controller itself is far
more predictable: given where the arm was, how fast it moved and the command it was sent, where it
is one control period later follows from the servo gains, gravity and the arm's inertia to within
about a millirad in free space. This module fits that response from held-out episodes and scores
each measured step against it, so something pushing or blocking the arm shows up within a step.

The model is linear in features that cover a serial chain to first order: the commanded step and
the velocity, each scaled by 1, sin and cos of every joint and cos of the cumulative pitch angles
(gravity and inertia change with the pose). It is fitted only on free-space transitions (tool
above `min_tool_height`): touching the floor is expected during exploration and is not a push.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FEATURES = "serial-chain-v1"  # the feature layout below; meta.json records it


def pose_terms(qpos: np.ndarray) -> np.ndarray:
    """(..., J) -> (..., 3J): 1, sin q, cos q, cos of cumulative sums of joints 1..J-1."""
    q = np.asarray(qpos, dtype=np.float64)
    ones = np.ones(q.shape[:-1] + (1,))
    chain = np.cos(np.cumsum(q[..., 1:], axis=-1))
    return np.concatenate([ones, np.sin(q), np.cos(q), chain], axis=-1)


def features(qpos: np.ndarray, qvel: np.ndarray, delta: np.ndarray, period: float) -> np.ndarray:
    """(..., J) state and commanded step (command - qpos) -> (..., 6J^2 + 3J) regressors."""
    motion = np.concatenate([np.asarray(delta, np.float64),
                             np.asarray(qvel, np.float64) * period], axis=-1)  # both in rad
    pose = pose_terms(qpos)
    cross = (motion[..., :, None] * pose[..., None, :]).reshape(motion.shape[:-1] + (-1,))
    return np.concatenate([cross, pose], axis=-1)


@dataclass(frozen=True)
class TrackingModel:
    """q_next = q + features(q, qdot, command - q) @ weights; scores in units of `scale`."""

    weights: np.ndarray  # (F, J)
    scale: np.ndarray  # (J,) residual spread per joint on free-space held-out steps
    period: float
    min_tool_height: float  # below this the tool may touch the floor: no score

    def predict(self, qpos: np.ndarray, qvel: np.ndarray, delta: np.ndarray) -> np.ndarray:
        q = np.asarray(qpos, np.float64)
        return q + features(q, qvel, delta, self.period) @ self.weights

    def score(self, qpos: np.ndarray, qvel: np.ndarray, delta: np.ndarray,
              measured: np.ndarray) -> np.ndarray | float:
        """Mean squared residual over joints in units of the nominal spread (1.0 is typical)."""
        residual = np.asarray(measured, np.float64) - self.predict(qpos, qvel, delta)
        value = np.mean((residual / self.scale) ** 2, axis=-1)
        return float(value) if np.ndim(value) == 0 else value

    def to_meta(self) -> dict[str, Any]:
        return {"features": FEATURES, "weights": self.weights.tolist(),
                "scale": self.scale.tolist(), "period": self.period,
                "min_tool_height": self.min_tool_height}

    @classmethod
    def from_meta(cls, section: dict[str, Any]) -> TrackingModel:
        if section.get("features") != FEATURES:
            raise ValueError(f"meta.json surprise.tracking uses features "
                             f"{section.get('features')!r}, this version reads {FEATURES!r}; "
                             "re-export the model with 'wmp export --data ...'")
        return cls(np.asarray(section["weights"], np.float64),
                   np.asarray(section["scale"], np.float64), float(section["period"]),
                   float(section["min_tool_height"]))


def fit(qpos: np.ndarray, qvel: np.ndarray, delta: np.ndarray, qpos_next: np.ndarray,
        period: float, min_tool_height: float, ridge: float = 1e-6) -> TrackingModel:
    """Least squares (lightly ridge-regularised) on free-space transitions only."""
    x = features(qpos, qvel, delta, period)
    y = np.asarray(qpos_next, np.float64) - np.asarray(qpos, np.float64)
    if len(x) <= x.shape[1]:
        raise ValueError(f"tracking model: {len(x)} free-space transitions for {x.shape[1]} "
                         "features; calibrate on more held-out episodes")
    gram = x.T @ x
    gram[np.diag_indices_from(gram)] += ridge * len(x)
    weights = np.linalg.solve(gram, x.T @ y)
    scale = (y - x @ weights).std(axis=0) + 1e-6
    return TrackingModel(weights, scale, float(period), float(min_tool_height))


def free_space(tool: np.ndarray, tool_next: np.ndarray, min_tool_height: float) -> np.ndarray:
    """Transitions whose tool stays above `min_tool_height` at both ends."""
    return (np.asarray(tool)[..., 2] >= min_tool_height) & \
        (np.asarray(tool_next)[..., 2] >= min_tool_height)

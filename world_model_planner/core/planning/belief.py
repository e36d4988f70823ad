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
"""The belief while the camera is dark: imagined forward, re-grounded on the measured joints.

With the camera out, only the model knows where the object is. The belief is rolled forward with
the executed commands; the joint encoders still measure the arm, so the belief is moved the least
it can (a minimum-norm latent step) to make the proprio head read the measured joint state,
under the constraint that the object head's reading does not change. The arm is then where it is
measured and the object where the model imagines it, which a joint-only encoding (it holds no
object) or an encoding of a black frame (it reads a dark scene) cannot give.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Head = Callable[[np.ndarray], np.ndarray]  # latents (B, D) -> readings (B, K)


def _jacobian(head: Head, z: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(reading at z, (K, D) forward-difference Jacobian), in one batched head call."""
    d = z.shape[-1]
    probes = np.vstack([z[None], z[None] + eps * np.eye(d, dtype=z.dtype)])
    out = head(probes.astype(np.float32)).astype(np.float64)
    return out[0], (out[1:] - out[0]).T / eps


def reground(z: np.ndarray, joint_state: np.ndarray, proprio: Head, proprio_scale: np.ndarray,
             keep: Head | None = None, iterations: int = 3, damping: float = 1e-2,
             max_step: float = 1.0, eps: float = 1e-3) -> np.ndarray:
    """The latent nearest `z` whose proprio reading is `joint_state`, keeping `keep`'s reading.

    `proprio_scale` (2J,) weighs the joint-state residual (the training data's std), so joint
    positions and velocities count alike. Damped Gauss-Newton steps on the linearised heads, each
    at most `max_step` long: the heads are only linear near z, and a belief thrown far off by
    one bad linearisation would be worse than one left a little off."""
    z = np.asarray(z, dtype=np.float64)
    target = np.asarray(joint_state, dtype=np.float64) / proprio_scale
    kept = None if keep is None else _jacobian(keep, z, eps)[0]
    for _ in range(iterations):
        reading, jp = _jacobian(proprio, z, eps)
        residual = [target - reading / proprio_scale]
        rows = [jp / proprio_scale[:, None]]
        if keep is not None and kept is not None:
            now, jk = _jacobian(keep, z, eps)
            residual.append(kept - now)
            rows.append(jk)
        jac, r = np.vstack(rows), np.concatenate(residual)
        step = jac.T @ np.linalg.solve(jac @ jac.T + damping * np.eye(len(r)), r)
        length = float(np.linalg.norm(step))
        z = z + (step if length <= max_step else step * (max_step / length))
    return z.astype(np.float32)

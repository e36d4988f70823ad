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
"""Surprise and disagreement thresholds, calibrated on held-out episodes.

For every held-out transition the model predicts the next latent from the current one and the
executed action; the residual against the encoding of the real next observation (full, and joint
state alone) is scaled per latent dimension by its spread on one half of the episodes, and the
thresholds are quantiles of the scores on the other half. A nominal step scores about 1; the
re-ground threshold lets through all but 0.5% of nominal steps.

The position loop's response to each command (core/tracking.py) is fitted and scored the same
way, half against half, on the transitions where the tool stays clear of the floor.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .. import tracking
from ..config import ReachTaskConfig
from ..model.batches import SequenceData
from .planner import WorldModelBackend

REGROUND_QUANTILE = 0.995
HOLD_QUANTILE = 0.9999
HOLD_FACTOR = 3.0
DISAGREEMENT_QUANTILE = 0.99
# The reach task's goal clearance (reach.min_tool_height): plans stay above it, so below it the
# tool may be on the floor and the position loop is not free.
TRACKING_MIN_TOOL_HEIGHT = ReachTaskConfig().min_tool_height

log = logging.getLogger(__name__)


def _episode_span(data: SequenceData, e: int) -> tuple[int, int, int]:
    """(first frame, first step, steps) of episode e."""
    return int(data.frame_start[e]), int(data.step_start[e]), int(data.lengths[e])


def _episode_arrays(data: SequenceData, e: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f0, s0, n = _episode_span(data, e)
    return (data.images[f0:f0 + n + 1].numpy(), data.joint_state[f0:f0 + n + 1].numpy(),
            data.actions[s0:s0 + n].numpy())


def transition_residuals(model: WorldModelBackend, data: SequenceData, episodes: np.ndarray
                         ) -> dict[str, np.ndarray]:
    """Per-transition residuals (full, joint-state-only) and per-start plan disagreement."""
    full_res, prop_res, disagreement = [], [], []
    h, j = model.horizon, model.joints
    for e in episodes:
        images, js, actions = _episode_arrays(data, int(e))
        n = len(actions)
        masks = np.concatenate([np.tile([1.0, 1.0], (n + 1, 1)), np.tile([0.0, 1.0], (n + 1, 1))])
        z = model.encode(np.concatenate([images, np.zeros_like(images)]),
                         np.concatenate([js, js]), masks.astype(np.float32))
        z_full, z_prop = z[: n + 1], z[n + 1:]
        one_step = np.zeros((n, h, j), np.float32)
        one_step[:, 0] = actions
        predicted = model.rollout(z_full[:-1], one_step).latent_mean[:, 0].copy()
        full_res.append(z_full[1:] - predicted)
        prop_res.append(z_prop[1:] - predicted)
        if n >= h:
            starts = np.arange(n - h + 1)
            seqs = np.stack([actions[s:s + h] for s in starts]).astype(np.float32)
            disagreement.append(model.rollout(z_full[starts], seqs).disagreement.mean(axis=1))
    return {"full": np.concatenate(full_res), "proprio": np.concatenate(prop_res),
            "disagreement": np.concatenate(disagreement) if disagreement else np.zeros(0)}


def _tracking_transitions(data: SequenceData, episodes: np.ndarray, min_tool_height: float
                          ) -> tuple[np.ndarray, ...]:
    """(qpos, qvel, delta, qpos_next) of the free-space transitions of `episodes`."""
    j = len(data.joint_names)
    js, actions = data.joint_state.numpy(), data.actions.numpy()
    parts: list[tuple[np.ndarray, ...]] = []
    for e in episodes:
        f0, s0, n = _episode_span(data, e)
        free = tracking.free_space(data.tool[f0:f0 + n], data.tool[f0 + 1:f0 + n + 1],
                                   min_tool_height)
        state = js[f0:f0 + n + 1]
        parts.append((state[:-1, :j][free], state[:-1, j:][free], actions[s0:s0 + n][free],
                      state[1:, :j][free]))
    return tuple(np.concatenate(column) for column in zip(*parts))


def calibrate_tracking(data: SequenceData, first: np.ndarray, second: np.ndarray,
                       min_tool_height: float = TRACKING_MIN_TOOL_HEIGHT
                       ) -> dict[str, Any] | None:
    """The meta.json "surprise.tracking" section: fitted on `first`, thresholds from `second`.

    None (with a warning) when the episodes hold too few free-space transitions, e.g. a
    recording without tool positions."""
    try:
        model = tracking.fit(*_tracking_transitions(data, first, min_tool_height),
                             period=data.control_period, min_tool_height=min_tool_height)
    except ValueError as exc:
        log.warning("no push/collision check in the surprise monitor: %s", exc)
        return None
    q, v, delta, q_next = _tracking_transitions(data, second, min_tool_height)
    scores = np.asarray(model.score(q, v, delta, q_next))
    reground = float(np.quantile(scores, REGROUND_QUANTILE))
    hold = max(float(np.quantile(scores, HOLD_QUANTILE)), HOLD_FACTOR * reground)
    return {**model.to_meta(), "reground": reground, "hold": hold,
            "held_out": {"transitions": int(len(scores)),
                         "false_alarm_rate": float(np.mean(scores > reground)),
                         "median_score": float(np.median(scores)),
                         "spread_rad": model.scale.tolist()}}


def calibrate(model: WorldModelBackend, data: SequenceData, episodes: np.ndarray,
              reground_quantile: float = REGROUND_QUANTILE) -> dict[str, Any]:
    """The meta.json "surprise" section from held-out `episodes` of `data`.

    `reground_quantile`: share of held-out steps the latent re-ground thresholds let through.
    Held-out episodes with heavy-tailed scores (wide scene variation, fast exploration) put the
    default 0.995 so high that a model which absorbs a black frame with a moderate score never
    flags the dropout; 0.99 spends at most the task's 1% false-alarm budget instead."""
    if not 0.5 < reground_quantile < 1.0:
        raise ValueError(f"reground quantile {reground_quantile} must lie between 0.5 and 1")
    episodes = np.asarray(episodes)
    if len(episodes) < 2:
        raise ValueError("surprise calibration needs at least 2 held-out episodes")
    half = len(episodes) // 2
    a = transition_residuals(model, data, episodes[:half])
    b = transition_residuals(model, data, episodes[half:])
    scale_full = a["full"].std(axis=0) + 1e-6
    scale_prop = a["proprio"].std(axis=0) + 1e-6
    s_full = np.mean((b["full"] / scale_full) ** 2, axis=1)
    s_prop = np.mean((b["proprio"] / scale_prop) ** 2, axis=1)
    reground = float(np.quantile(s_full, reground_quantile))
    proprio_reground = float(np.quantile(s_prop, reground_quantile))
    hold = max(float(np.quantile(s_prop, HOLD_QUANTILE)), HOLD_FACTOR * proprio_reground)
    dis = np.concatenate([a["disagreement"], b["disagreement"]])
    return {
        "tracking": calibrate_tracking(data, episodes[:half], episodes[half:]),
        "scale_full": scale_full.tolist(), "scale_proprio": scale_prop.tolist(),
        "reground": reground, "proprio_reground": proprio_reground, "hold": hold,
        "disagreement": float(np.quantile(dis, DISAGREEMENT_QUANTILE)) if len(dis) else None,
        "quantiles": {"reground": reground_quantile, "hold": HOLD_QUANTILE,
                      "hold_factor": HOLD_FACTOR, "disagreement": DISAGREEMENT_QUANTILE},
        "held_out": {"episodes": int(len(episodes)), "transitions": int(len(s_full) +
                                                                        len(a["full"])),
                     "false_alarm_rate": float(np.mean(s_full > reground)),
                     "median_score": float(np.median(s_full))},
    }

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
"""Training sequences from datasets: everything in memory, sampled by episode and start step.

A 100k-frame dataset of 64x64 frames is 1.2 GB of uint8, so the whole of it is held as one tensor
and batches are gathered by index: no worker processes, no per-sample Python, and the same seed
gives the same batches on every machine. Validation is split by episode, never by frame, so no
validation frame has a near-twin neighbour in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..data.mcap_import import dataset_root
from ..data.shards import Dataset, open_datasets


@dataclass
class SequenceData:
    """Frames and steps of many episodes, concatenated; episode e owns frames
    [frame_start[e], frame_start[e] + lengths[e]] and steps [step_start[e], + lengths[e])."""

    images: torch.Tensor  # (F, H, W, 3) uint8
    joint_state: torch.Tensor  # (F, 2J) qpos then qvel
    actions: torch.Tensor  # (S, J) joint deltas (rad)
    tool: np.ndarray  # (F, 3) tool position (m); zeros where the recording did not know it
    frame_start: np.ndarray
    step_start: np.ndarray
    lengths: np.ndarray
    joint_names: list[str]
    control_period: float
    action_bound: np.ndarray
    digest: str
    object_pose: torch.Tensor | None = None  # (F, 3) x, y, yaw of the pushed object (push data)

    @property
    def episodes(self) -> int:
        return len(self.lengths)

    @property
    def image_hw(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])

    def mismatch(self, joint_names: Sequence[str], image_hw: Sequence[int],
                 control_period: float) -> str | None:
        """What makes these episodes unfit for a model of that arm, camera size and control
        period (a model reads neither another arm's joints nor frames of another size, and its
        imagined step is one period long), or None when they fit."""
        if list(self.joint_names) != list(joint_names):
            return f"joints {self.joint_names} differ from the model's {list(joint_names)}"
        if list(self.image_hw) != [int(v) for v in image_hw]:
            return (f"camera size {self.image_hw[0]}x{self.image_hw[1]} differs from the "
                    f"model's {image_hw[0]}x{image_hw[1]}")
        if abs(self.control_period - float(control_period)) > 1e-6:
            return (f"control period {self.control_period} s differs from the model's "
                    f"{float(control_period)} s")
        return None


def load_sequences(roots: Sequence[str] | Sequence[Dataset],
                   robot: str | None = None) -> SequenceData:
    """All episodes of the dataset folders (same robot, camera and control period).

    A recording (a .mcap file, or a folder of them without manifest.json) is imported first into
    `<path>.episodes/`, which later calls re-use while the recording is unchanged."""
    datasets = open_datasets([r.root if isinstance(r, Dataset) else dataset_root(r, robot)
                              for r in roots])
    images, joint_state, actions, tool, lengths, objects = [], [], [], [], [], []
    for ds in datasets:
        for shard in ds.shards:
            arrays = ds.shard_arrays(shard)
            objects.append(arrays.get("object_pose"))
            images.append(arrays["images"])
            joint_state.append(np.concatenate([arrays["qpos"], arrays["qvel"]], axis=1))
            actions.append(arrays["actions"])
            tool.append(arrays["tool"])
            lengths.append(arrays["lengths"])
    lens = np.concatenate(lengths).astype(np.int64)
    frame_start = np.concatenate([[0], np.cumsum(lens + 1)[:-1]])
    step_start = np.concatenate([[0], np.cumsum(lens)[:-1]])
    first = datasets[0].manifest
    bounds = np.array([d.manifest["action_bound"] for d in datasets], dtype=np.float64)
    import hashlib

    digest = hashlib.sha256("".join(d.digest for d in datasets).encode()).hexdigest()
    # Object poses only where every episode has them (a model learns an object it always sees).
    object_pose = (torch.from_numpy(np.concatenate(objects).astype(np.float32))
                   if all(o is not None for o in objects) else None)
    return SequenceData(
        images=torch.from_numpy(np.concatenate(images)),
        joint_state=torch.from_numpy(np.concatenate(joint_state).astype(np.float32)),
        actions=torch.from_numpy(np.concatenate(actions).astype(np.float32)),
        tool=np.concatenate(tool).astype(np.float32),
        frame_start=frame_start, step_start=step_start, lengths=lens,
        joint_names=list(first["robot"]["joint_names"]),
        control_period=float(first["control_period"]),
        action_bound=bounds.max(axis=0), digest=digest, object_pose=object_pose)


def split_episodes(count: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) episode indices; at least one episode in each when count >= 2."""
    order = np.random.default_rng(seed).permutation(count)
    n_val = min(max(1, int(round(count * val_fraction))), count - 1) if count > 1 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


@dataclass
class Batch:
    images: torch.Tensor  # (B, L, H, W, 3) uint8
    joint_state: torch.Tensor  # (B, L, 2J)
    actions: torch.Tensor  # (B, L-1, J)
    object_pose: torch.Tensor | None = None  # (B, L, 3) push data only


class SequenceSampler:
    """Uniform over (episode, start) pairs whose next `horizon` steps exist."""

    def __init__(self, data: SequenceData, episodes: np.ndarray, horizon: int,
                 rng: np.random.Generator) -> None:
        self.data, self.horizon, self.rng = data, horizon, rng
        eligible = [e for e in episodes if data.lengths[e] >= horizon]
        if not eligible:
            raise ValueError(f"no episode has {horizon} steps; lower optim.horizon in the train "
                             "config or collect longer episodes")
        self.episodes = np.array(eligible)
        starts = data.lengths[self.episodes] - horizon + 1  # valid start steps per episode
        self._cum = np.cumsum(starts)

    @property
    def sequences(self) -> int:
        return int(self._cum[-1])

    def _indices(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.searchsorted(self._cum, flat, side="right")
        before = np.concatenate([[0], self._cum[:-1]])[pos]
        episode = self.episodes[pos]
        t0 = flat - before
        return episode, t0

    def windows(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Episode (B,), frame ids (B, horizon+1) and step ids (B, horizon) of sequences `flat`
        (each in [0, sequences))."""
        episode, t0 = self._indices(flat)
        steps = np.arange(self.horizon + 1)
        frames = (self.data.frame_start[episode] + t0)[:, None] + steps[None, :]
        acts = (self.data.step_start[episode] + t0)[:, None] + steps[None, :-1]
        return episode, frames, acts

    def gather(self, flat: np.ndarray) -> Batch:
        _, frames, acts = self.windows(flat)
        f = torch.from_numpy(frames)
        objects = self.data.object_pose
        return Batch(self.data.images[f], self.data.joint_state[f],
                     self.data.actions[torch.from_numpy(acts)],
                     None if objects is None else objects[f])

    def sample(self, batch: int) -> Batch:
        return self.gather(self.rng.integers(0, self.sequences, size=batch))

    def fixed(self, batches: int, batch: int, seed: int) -> list[Batch]:
        """The same validation batches every time (seeded)."""
        rng = np.random.default_rng(seed)
        return [self.gather(rng.integers(0, self.sequences, size=batch)) for _ in range(batches)]

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
"""Episodes on disk: compressed shards plus a JSON manifest, written atomically, read safely.

A dataset folder holds `manifest.json` and `shard-NNNNN.npz` files. Each shard is an uncompressed
zip of `.npy` arrays deflated per member (readable by `numpy.load` with pickling off), written
with fixed timestamps so the same episodes give byte-identical files and a stable digest. A shard
is written under a temporary name and renamed into place, and the manifest after it, so an
interrupted run leaves only whole shards that the manifest lists.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..paths import file_sha256

FORMAT = "wmp-episodes"
VERSION = 1
MANIFEST = "manifest.json"
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

# Arrays every shard holds: per frame (F = sum of episode lengths + episodes), per step
# (S = sum of episode lengths) and per episode (E).
FRAME_ARRAYS = ("images", "qpos", "qvel", "tool", "stamps")
STEP_ARRAYS = ("actions", "commands")
EPISODE_ARRAYS = ("lengths", "seeds", "episode_index", "goal_qpos", "goal_tool", "goal_images")
# Push episodes also hold the object's planar pose (x, y, yaw) per frame and at the goal. Reach
# episodes and real-arm recordings without an object tracker have neither.
OBJECT_FRAME_ARRAYS = ("object_pose",)
OBJECT_EPISODE_ARRAYS = ("goal_object",)


class DatasetError(RuntimeError):
    """A dataset folder, manifest or shard is missing, corrupt or inconsistent."""


@dataclass
class Episode:
    """One episode: T steps, T + 1 frames. Joint arrays are in the manifest's joint order."""

    images: np.ndarray  # (T+1, H, W, 3) uint8
    qpos: np.ndarray  # (T+1, J)
    qvel: np.ndarray  # (T+1, J)
    tool: np.ndarray  # (T+1, 3) tool position (zeros when unknown, e.g. real-arm recordings)
    stamps: np.ndarray  # (T+1,) seconds
    actions: np.ndarray  # (T, J) executed joint deltas: commands - qpos[:-1]
    commands: np.ndarray  # (T, J) absolute joint targets
    goal_qpos: np.ndarray  # (J,)
    goal_tool: np.ndarray  # (3,)
    goal_image: np.ndarray  # (H, W, 3)
    seed: int = 0
    index: int = 0
    object_pose: np.ndarray | None = None  # (T+1, 3) x, y, yaw of the pushed object
    goal_object: np.ndarray | None = None  # (3,) where the goal image shows it

    @property
    def steps(self) -> int:
        return len(self.actions)


def pack_episodes(episodes: Sequence[Episode]) -> dict[str, np.ndarray]:
    """Shard arrays for a list of episodes (concatenated along time)."""
    if not episodes:
        raise ValueError("a shard needs at least one episode")
    for ep in episodes:
        if len(ep.images) != ep.steps + 1:
            raise ValueError(f"episode {ep.index}: {len(ep.images)} frames for {ep.steps} steps")
    cat = np.concatenate
    with_object = [e.object_pose is not None and e.goal_object is not None for e in episodes]
    if any(with_object) and not all(with_object):
        raise ValueError("a shard holds push episodes (with object poses) or episodes without "
                         "an object, not both")
    extra = {}
    if all(with_object):
        extra = {"object_pose": cat([e.object_pose for e in episodes]).astype(np.float32),
                 "goal_object": np.stack([e.goal_object for e in episodes]).astype(np.float32)}
    return extra | {
        "images": cat([e.images for e in episodes]).astype(np.uint8),
        "qpos": cat([e.qpos for e in episodes]).astype(np.float32),
        "qvel": cat([e.qvel for e in episodes]).astype(np.float32),
        "tool": cat([e.tool for e in episodes]).astype(np.float32),
        "stamps": cat([e.stamps for e in episodes]).astype(np.float64),
        "actions": cat([e.actions for e in episodes]).astype(np.float32),
        "commands": cat([e.commands for e in episodes]).astype(np.float32),
        "lengths": np.array([e.steps for e in episodes], dtype=np.int32),
        "seeds": np.array([e.seed for e in episodes], dtype=np.int64),
        "episode_index": np.array([e.index for e in episodes], dtype=np.int64),
        "goal_qpos": np.stack([e.goal_qpos for e in episodes]).astype(np.float32),
        "goal_tool": np.stack([e.goal_tool for e in episodes]).astype(np.float32),
        "goal_images": np.stack([e.goal_image for e in episodes]).astype(np.uint8),
    }


def unpack_episodes(arrays: Mapping[str, np.ndarray]) -> list[Episode]:
    out = []
    frame = step = 0
    for i, length in enumerate(arrays["lengths"].tolist()):
        f = slice(frame, frame + length + 1)
        s = slice(step, step + length)
        out.append(Episode(
            images=arrays["images"][f], qpos=arrays["qpos"][f], qvel=arrays["qvel"][f],
            tool=arrays["tool"][f], stamps=arrays["stamps"][f], actions=arrays["actions"][s],
            commands=arrays["commands"][s], goal_qpos=arrays["goal_qpos"][i],
            goal_tool=arrays["goal_tool"][i], goal_image=arrays["goal_images"][i],
            seed=int(arrays["seeds"][i]), index=int(arrays["episode_index"][i]),
            object_pose=arrays["object_pose"][f] if "object_pose" in arrays else None,
            goal_object=arrays["goal_object"][i] if "goal_object" in arrays else None))
        frame += length + 1
        step += length
    return out


def content_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over names, dtypes, shapes and bytes: equal for equal data, whatever the zip does."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` so readers see either the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_shard(path: str | Path, arrays: Mapping[str, np.ndarray], compression: int = 6) -> str:
    """Write a shard atomically; returns the file's sha256."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", allowZip64=True) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED if compression else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]),
                                      allow_pickle=False)
            zf.writestr(info, member.getvalue(), compresslevel=compression or None)
    payload = buffer.getvalue()
    atomic_write_bytes(Path(path), payload)
    return hashlib.sha256(payload).hexdigest()


def read_shard(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of a shard, checked for the expected names and consistent lengths."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: shard file is missing") from exc
    except Exception as exc:  # zipfile.BadZipFile, EOFError, ValueError, zlib.error, OSError
        raise DatasetError(f"{path}: shard is corrupt or truncated ({type(exc).__name__}: {exc}); "
                           "delete it and run 'wmp collect' again with the same --out and --seed "
                           "to recreate it") from exc
    check_arrays(arrays, str(path))
    return arrays


def check_arrays(arrays: Mapping[str, np.ndarray], where: str) -> None:
    missing = [n for n in FRAME_ARRAYS + STEP_ARRAYS + EPISODE_ARRAYS if n not in arrays]
    if missing:
        raise DatasetError(f"{where}: shard lacks arrays {missing}")
    lengths = arrays["lengths"]
    episodes, steps = len(lengths), int(lengths.sum())
    frames = steps + episodes
    problems = [f"{n} has {len(arrays[n])} rows, expected {frames}" for n in FRAME_ARRAYS
                if len(arrays[n]) != frames]
    problems += [f"{n} has {len(arrays[n])} rows, expected {steps}" for n in STEP_ARRAYS
                 if len(arrays[n]) != steps]
    problems += [f"{n} has {len(arrays[n])} rows, expected {episodes}" for n in EPISODE_ARRAYS
                 if len(arrays[n]) != episodes]
    present = [n in arrays for n in OBJECT_FRAME_ARRAYS + OBJECT_EPISODE_ARRAYS]
    if any(present) and not all(present):
        problems.append("object_pose and goal_object come together (push episodes) or not at all")
    elif all(present):
        problems += [f"{n} has {len(arrays[n])} rows, expected {frames}"
                     for n in OBJECT_FRAME_ARRAYS if len(arrays[n]) != frames]
        problems += [f"{n} has {len(arrays[n])} rows, expected {episodes}"
                     for n in OBJECT_EPISODE_ARRAYS if len(arrays[n]) != episodes]
    if arrays["images"].dtype != np.uint8 or arrays["images"].ndim != 4:
        problems.append(f"images must be uint8 (F, H, W, 3), got {arrays['images'].dtype} "
                        f"{arrays['images'].shape}")
    for n in ("qpos", "qvel", "actions", "commands", *OBJECT_FRAME_ARRAYS):
        if n in arrays and not np.all(np.isfinite(arrays[n])):
            problems.append(f"{n} holds NaN or inf")
    if problems:
        raise DatasetError(f"{where}: " + "; ".join(problems))


# --------------------------------------------------------------------------------------------


def write_manifest(root: Path, manifest: Mapping[str, Any]) -> None:
    payload = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    atomic_write_bytes(root / MANIFEST, payload)


def dataset_digest(shards: Sequence[Mapping[str, Any]]) -> str:
    """Digest of a dataset: the content digests of its shards, in order."""
    h = hashlib.sha256()
    for shard in sorted(shards, key=lambda s: s["file"]):
        h.update(f"{shard['file']}:{shard['content_digest']}\n".encode())
    return h.hexdigest()


class Dataset:
    """A dataset folder: manifest, shard listing, episode iteration and validation."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        path = self.root / MANIFEST
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: not a folder; collect data with "
                               f"'wmp collect --out {self.root}'")
        try:
            self.manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise DatasetError(f"{path}: missing; '{self.root}' is not a dataset written by "
                               "'wmp collect' (or the collection never finished a shard)") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{path}: not valid JSON ({exc})") from exc
        if self.manifest.get("format") != FORMAT:
            raise DatasetError(f"{path}: format is {self.manifest.get('format')!r}, expected "
                               f"{FORMAT!r}")
        if self.manifest.get("version") != VERSION:
            raise DatasetError(f"{path}: version {self.manifest.get('version')} is not supported "
                               f"(this package reads version {VERSION})")

    @property
    def shards(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("shards", []))

    @property
    def joint_names(self) -> list[str]:
        return list(self.manifest["robot"]["joint_names"])

    @property
    def image_shape(self) -> tuple[int, int]:
        cam = self.manifest["camera"]
        return int(cam["height"]), int(cam["width"])

    @property
    def control_period(self) -> float:
        return float(self.manifest["control_period"])

    @property
    def digest(self) -> str:
        return str(self.manifest["digest"])

    @property
    def episodes_count(self) -> int:
        return int(self.manifest["episodes"])

    @property
    def frames_count(self) -> int:
        return int(self.manifest["frames"])

    def shard_arrays(self, shard: Mapping[str, Any], *, verify_hash: bool = False
                     ) -> dict[str, np.ndarray]:
        path = self.root / shard["file"]
        if verify_hash:
            if not path.is_file():
                raise DatasetError(f"{path}: shard file is missing")
            actual = file_sha256(path)
            if actual != shard["sha256"]:
                raise DatasetError(f"{path}: sha256 {actual[:12]}... does not match the manifest "
                                   f"({shard['sha256'][:12]}...); the file is corrupt or was "
                                   "replaced; delete it and collect again")
        arrays = read_shard(path)
        if len(arrays["lengths"]) != shard["episodes"]:
            raise DatasetError(f"{path}: holds {len(arrays['lengths'])} episodes, the manifest "
                               f"says {shard['episodes']}")
        return arrays

    def episodes(self) -> Iterator[Episode]:
        for shard in self.shards:
            yield from unpack_episodes(self.shard_arrays(shard))

    def validate(self) -> dict[str, Any]:
        """Check every shard (hash, arrays, counts, digest); returns a summary or raises.

        Push datasets also report how much the object moved: a world model can only learn
        contacts the data holds."""
        episodes = frames = 0
        motion: list[np.ndarray] = []
        joints = len(self.joint_names)
        height, width = self.image_shape
        for shard in self.shards:
            arrays = self.shard_arrays(shard, verify_hash=True)
            where = str(self.root / shard["file"])
            if content_digest(arrays) != shard["content_digest"]:
                raise DatasetError(f"{where}: content digest does not match the manifest")
            if arrays["images"].shape[1:] != (height, width, 3):
                raise DatasetError(f"{where}: images are {arrays['images'].shape[1:]}, the "
                                   f"manifest says {(height, width, 3)}")
            if arrays["qpos"].shape[1] != joints:
                raise DatasetError(f"{where}: {arrays['qpos'].shape[1]} joints, the manifest "
                                   f"names {joints}")
            episodes += len(arrays["lengths"])
            frames += len(arrays["images"])
            if "object_pose" in arrays:
                motion.append(object_motion(arrays))
        if episodes != self.episodes_count or frames != self.frames_count:
            raise DatasetError(f"{self.root / MANIFEST}: says {self.episodes_count} episodes and "
                               f"{self.frames_count} frames, the shards hold {episodes} and "
                               f"{frames}")
        if dataset_digest(self.shards) != self.digest:
            raise DatasetError(f"{self.root / MANIFEST}: digest does not match its shards")
        summary = {"root": str(self.root), "episodes": episodes, "frames": frames,
                   "shards": len(self.shards), "digest": self.digest}
        if motion:
            summary["contact"] = contact_summary(np.concatenate(motion))
        return summary


# An episode "moves the object" when it ends up or passes this far (m) from where it started.
MOVED = 0.02


def object_motion(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per episode of a shard: (largest, final) distance of the object from its start (m)."""
    out, frame = [], 0
    for length in arrays["lengths"].tolist():
        xy = arrays["object_pose"][frame:frame + length + 1, :2].astype(np.float64)
        away = np.linalg.norm(xy - xy[0], axis=1)
        out.append((away.max(), away[-1]))
        frame += length + 1
    return np.array(out).reshape(-1, 2)


def contact_summary(motion: np.ndarray) -> dict[str, float]:
    """Share of episodes that moved the object at least MOVED, and mean displacements (m)."""
    return {"episodes_moved": float(np.mean(motion[:, 0] >= MOVED)),
            "moved_threshold_m": MOVED,
            "mean_final_displacement_m": float(motion[:, 1].mean()),
            "mean_largest_displacement_m": float(motion[:, 0].mean())}


def open_datasets(roots: Sequence[str | Path]) -> list[Dataset]:
    """Several dataset folders that must describe the same robot, camera and control period."""
    datasets = [Dataset(r) for r in roots]
    if not datasets:
        raise DatasetError("no dataset folders given")
    first = datasets[0]
    for other in datasets[1:]:
        for what, a, b in (("joint names", first.joint_names, other.joint_names),
                           ("image size", first.image_shape, other.image_shape),
                           ("control period", first.control_period, other.control_period)):
            if a != b:
                raise DatasetError(f"{other.root}: {what} {b} differ from {first.root}: {a}; "
                                   "train on datasets of one robot and camera setup")
    return datasets

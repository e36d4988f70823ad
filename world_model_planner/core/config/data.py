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
"""Data schemas: how `wmp collect` explores and varies scenes, and what the recorder writes."""

from __future__ import annotations

import dataclasses
from typing import Literal

from .schema import param


@dataclasses.dataclass(frozen=True)
class ExplorationConfig:
    """How `wmp collect` moves the arm: smooth random motion mixed with goal-directed segments."""

    goal_directed_fraction: float = param(0.5, "share of segments that move to a random target",
                                          ge=0.0, le=1.0)
    segment_steps: tuple[int, int] = param((8, 25), "min and max control steps of a segment",
                                           ge=1)
    smoothness: float = param(0.8, "correlation of random motion from one step to the next",
                              ge=0.0, lt=1.0)
    random_scale: float = param(0.8, "random motion step size as a fraction of the action bound",
                                ge=0.0, le=1.0)
    goal_gain: float = param(0.5, "fraction of the remaining distance a goal segment covers per "
                             "step", gt=0.0, le=1.0)
    goal_noise: float = param(0.15, "noise on goal-directed steps, fraction of the action bound",
                              ge=0.0, le=1.0)


@dataclasses.dataclass(frozen=True)
class RandomizationConfig:
    """Per-episode variation of the scene in training data.

    The default is mild (the shipped model's data), well inside the evaluation perturbations so
    the model does not learn one exact light level or camera pose. config/collect_wide.yaml turns
    on the wider options below (key light, floor tint, a moving box); the fields default to off
    so the mild config keeps giving the same episodes."""

    enabled: bool = param(True, "vary the scene per episode")
    light_intensity: tuple[float, float] = param((0.8, 1.2), "light brightness range", gt=0.0)
    light_tint: float = param(0.05, "per-channel light colour variation", ge=0.0, le=0.5)
    key_light_shift: float = param(0.0, "key light position jitter per axis (m)", ge=0.0)
    camera_translation: float = param(0.01, "camera position jitter per axis (m)", ge=0.0)
    camera_rotation_deg: float = param(0.75, "camera angle jitter per axis (degrees)", ge=0.0)
    hue_jitter: float = param(0.02, "arm colour hue variation (fraction of the wheel)",
                              ge=0.0, le=0.5)
    floor_tint: float = param(0.0, "floor colour: each channel scaled by a factor drawn from "
                              "[1 - floor_tint, 1]", ge=0.0, lt=1.0)
    distractor_probability: float = param(0.0, "fraction of episodes with a box moving through "
                                          "the workspace", ge=0.0, le=1.0)
    distractor_size: tuple[float, float] = param((0.03, 0.08), "half edge range of the box (m)",
                                                 gt=0.0, le=0.5)
    distractor_low: tuple[float, float, float] = param((-0.1, -0.45, 0.03),
                                                       "orbit centre range, low corner (m)")
    distractor_high: tuple[float, float, float] = param((0.5, 0.45, 0.2),
                                                        "orbit centre range, high corner (m)")
    distractor_radius: float = param(0.15, "largest orbit radius (m)", ge=0.0)
    distractor_period: tuple[float, float] = param((3.0, 12.0), "orbit period range (s)", gt=0.0)
    object_size: tuple[float, float] = param((1.0, 1.0), "push task: the object's size scaled "
                                             "by a factor from this range", gt=0.0, le=3.0)
    object_mass: tuple[float, float] = param((1.0, 1.0), "push task: mass scale range", gt=0.0)
    object_friction: tuple[float, float] = param((1.0, 1.0), "push task: friction scale range",
                                                 gt=0.0)
    object_hue: float = param(0.0, "push task: object colour hue variation (fraction of the "
                              "wheel)", ge=0.0, le=0.5)


@dataclasses.dataclass(frozen=True)
class PushExplorationConfig:
    """How `wmp collect` explores the push task: scripted pushes with noise, so most episodes
    move the object, mixed with the arm's own exploration, which mostly leaves it alone."""

    push_fraction: float = param(0.75, "share of segments that push the object somewhere",
                                 ge=0.0, le=1.0)
    goal_fraction: float = param(0.4, "share of pushes aimed at the episode's goal (the rest at "
                                 "random points of the workspace)", ge=0.0, le=1.0)
    push_steps: tuple[int, int] = param((20, 50), "min and max control steps of a push segment",
                                        ge=1)
    noise: float = param(0.2, "noise on pushing steps, fraction of the action bound", ge=0.0,
                         le=1.0)


@dataclasses.dataclass(frozen=True)
class RecorderConfig:
    """config/recorder.yaml: what the recorder node writes to MCAP for training on real data."""

    output_dir: str = param("recordings", "folder for .mcap files (created)")
    prefix: str = param("wmp", "file name prefix; files are <prefix>_<UTC time>.mcap")
    record_images: bool = param(True, "record camera/image_raw (needed for training)")
    split_seconds: float = param(0.0, "start a new file after this many seconds (0: never)",
                                 ge=0.0)
    chunk_size: int = param(4 * 1024 * 1024, "MCAP chunk size (bytes)", ge=1024)
    compression: Literal["zstd", "lz4", "none"] = param("zstd", "MCAP chunk compression")


@dataclasses.dataclass(frozen=True)
class CollectConfig:
    """config/collect.yaml: how `wmp collect` explores (the scene itself is config/sim.yaml)."""

    exploration: ExplorationConfig = param(ExplorationConfig(), "exploration policy")
    push: PushExplorationConfig = param(PushExplorationConfig(), "push task: how the object is "
                                        "pushed around")
    randomization: RandomizationConfig = param(RandomizationConfig(), "scene variation")
    actuation_delay: tuple[float, float] = param(
        (0.0, 0.0), "range (s) from which each episode draws how late its commands act: the "
        "previous command holds for that long at the start of every period, as behind a ROS "
        "node's planning time and servo tick (README, 'Where it fails')", ge=0.0)
    episodes_per_shard: int = param(20, "episodes per shard file", ge=1)
    compression: int = param(6, "zlib level for shards (0 store .. 9 smallest)", ge=0, le=9)

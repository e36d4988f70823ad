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
"""The embedded simulator's cell around an arm (the robot config's `sim:` block).

A URDF built for a real arm's driver (config/robots/ur5e.yaml) carries no camera, and its joint
limits (+-360 degrees on a UR) say nothing about where the arm works. The simulator needs both:
a scene camera placed as the arm's cell would place one, and the joint ranges its tasks draw
starts and goals from and its exploration stays in. Only the simulator reads this block; the
safety filter keeps the URDF limits and the robot config's velocity and acceleration limits.
"""

from __future__ import annotations

import dataclasses

from .schema import ConfigError, param


@dataclasses.dataclass(frozen=True)
class SceneCameraConfig:
    """A fixed camera the simulator adds to the URDF, named by the robot config's `camera`."""

    parent: str = param("", "link the camera is mounted on (usually the base link); empty: the "
                        "URDF declares the camera itself")
    xyz: tuple[float, float, float] = param((0.0, 0.0, 0.0),
                                            "camera body origin in the parent link (m)")
    rpy: tuple[float, float, float] = param(
        (0.0, 0.0, 0.0), "camera body orientation in the parent link (rad; REP-103 body frame: "
        "x looks forward, z up), as a URDF joint origin")
    horizontal_fov: float = param(1.0, "horizontal field of view (rad)", gt=0.05, lt=3.1)


@dataclasses.dataclass(frozen=True)
class WorkspaceConfig:
    """Joint ranges of the simulated tasks, inside the URDF limits."""

    lower: list[float] = param([], "per joint in the robot config's joint order (rad); empty: "
                               "the URDF limits")
    upper: list[float] = param([], "per joint, as lower")

    def __post_init__(self) -> None:
        if len(self.lower) != len(self.upper):
            raise ConfigError(f"workspace: lower has {len(self.lower)} values and upper "
                              f"{len(self.upper)}; give one per joint in both")
        bad = [i for i, (lo, hi) in enumerate(zip(self.lower, self.upper)) if not lo < hi]
        if bad:
            raise ConfigError(f"workspace: joint(s) {bad} have lower >= upper")


@dataclasses.dataclass(frozen=True)
class SimCellConfig:
    """How the embedded simulator sets up this arm's cell."""

    camera: SceneCameraConfig = param(SceneCameraConfig(), "scene camera to add")
    workspace: WorkspaceConfig = param(
        WorkspaceConfig(), "joint ranges where reach starts and goals are drawn and where "
        "exploration moves the arm (the safety filter still allows the whole URDF range)")

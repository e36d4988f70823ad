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
"""The arm's cell as the embedded simulator builds it: the URDF plus the robot config's `sim:`.

The URDF stays the only source of the arm's kinematics; the cell adds what a driver's URDF lacks
and the simulator needs: a `world` root the scene hangs from (the arm's root link fixed to it at
the origin, so tool positions stay in the base frame) and a scene camera where the robot config
places it. The joint ranges of the tasks come from here too, so a UR's +-360 degree joints do not
send goals behind the camera while the safety filter still allows the arm's whole range.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import ConfigError
from ..topics import CAMERA_IMAGE
from ..robot import CameraSensor, Joint, Link, Origin, Robot, RobotDescription

WORLD_LINK = "world"
# REP-103 body frame (x forward, z up) to optical frame (z forward, x right, y down).
OPTICAL_RPY = (-math.pi / 2, 0.0, -math.pi / 2)


def scene_description(robot: Robot) -> RobotDescription:
    """The robot's URDF mounted on a `world` link, with the robot config's scene camera."""
    desc = robot.description
    links, joints = dict(desc.links), list(desc.joints.values())
    cameras = list(desc.cameras.values())
    if desc.root != WORLD_LINK:
        if desc.links[desc.root].visuals:
            raise ConfigError(f"{desc.source}: the root link '{desc.root}' has visuals, which the "
                              "simulator cannot draw on the world; move them to a child link")
        links[WORLD_LINK] = Link(WORLD_LINK)
        joints.append(Joint(f"{WORLD_LINK}-{desc.root}", "fixed", WORLD_LINK, desc.root))
    cam = robot.config.sim.camera
    if cam.parent:
        name = robot.config.camera
        where = f"{robot.source}: sim.camera"
        if name in desc.cameras:
            raise ConfigError(f"{where}: {desc.source} already declares camera '{name}'; remove "
                              "sim.camera or rename the robot config's camera")
        if cam.parent not in links:
            raise ConfigError(f"{where}.parent: '{cam.parent}' is not a link of {desc.source} "
                              f"(links: {', '.join(desc.links)})")
        body, optical = f"{name}_link", f"{name}_optical_frame"
        links[body], links[optical] = Link(body), Link(optical)
        joints.append(Joint(f"{name}_joint", "fixed", cam.parent, body,
                            Origin(tuple(cam.xyz), tuple(cam.rpy))))
        joints.append(Joint(f"{name}_optical_joint", "fixed", body, optical,
                            Origin(rpy=OPTICAL_RPY)))
        # Size and rate come from the sim config when rendering; these fields are Gazebo's.
        cameras.append(CameraSensor(name=name, link=body, optical_frame=optical,
                                    horizontal_fov=cam.horizontal_fov, width=64, height=64,
                                    rate=30.0, topic=CAMERA_IMAGE))
    return RobotDescription(desc.name, links, joints, cameras, desc.source)


def workspace_limits(robot: Robot) -> tuple[np.ndarray, np.ndarray]:
    """Joint ranges (robot config order) of the simulated tasks: the robot config's
    sim.workspace, or the URDF limits when it is empty."""
    ws = robot.config.sim.workspace
    if not ws.lower:
        return robot.lower.copy(), robot.upper.copy()
    where = f"{robot.source}: sim.workspace"
    if len(ws.lower) != robot.dof:
        raise ConfigError(f"{where}: needs {robot.dof} values per bound "
                          f"({', '.join(robot.joint_names)}), got {len(ws.lower)}")
    lower, upper = np.array(ws.lower, float), np.array(ws.upper, float)
    outside = [name for name, lo, hi, a, b in
               zip(robot.joint_names, lower, upper, robot.lower, robot.upper) if lo < a or hi > b]
    if outside:
        raise ConfigError(f"{where}: {outside} reach outside the URDF limits; keep the "
                          "workspace inside them")
    return lower, upper

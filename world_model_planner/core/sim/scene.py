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
"""MJCF for the embedded simulator, generated from the URDF at load time.

MuJoCo's own URDF importer drops cameras, lights, actuators and materials, and silently merges
frames; generating the MJCF from our parsed :class:`RobotDescription` keeps the URDF the single
source of kinematics and inertia while the scene (floor, lights, camera placement, distractor,
position servos) is added here, in one readable place.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np
import transforms3d

from ..config import PushObjectConfig
from ..robot import CameraSensor, Geometry, Link, Origin, RobotDescription
from .push_object import object_boxes

# MuJoCo cameras look along -z with y up; REP-103 optical frames look along +z with y down.
OPTICAL_TO_MUJOCO_QUAT = "0 1 0 0"
TOOL_SITE = "tool"
DISTRACTOR_BODY = "distractor"
FLOOR_GEOM = "floor"
KEY_LIGHT = "key_light"
FILL_LIGHT = "fill_light"
HIDDEN_POS = (0.0, 0.0, -5.0)
PUSH_OBJECT_BODY = "push_object"


@dataclass(frozen=True)
class ServoGains:
    """Position servo of every joint: stiffness (N m/rad) and damping (N m s/rad) per joint."""

    kp: np.ndarray
    kv: np.ndarray


def _fmt(values) -> str:
    return " ".join(f"{float(v):.9g}" for v in np.atleast_1d(values))


def _quat(origin: Origin) -> str:
    return _fmt(transforms3d.euler.euler2quat(*origin.rpy, axes="sxyz"))


def _geom(parent: ET.Element, geom: Geometry, *, name: str, visual: bool) -> None:
    attrs = {"name": name, "pos": _fmt(geom.origin.xyz), "quat": _quat(geom.origin)}
    if geom.shape == "box":
        attrs.update(type="box", size=_fmt(np.asarray(geom.size) / 2))
    elif geom.shape == "cylinder":
        attrs.update(type="cylinder", size=_fmt((geom.size[0], geom.size[1] / 2)))
    else:
        attrs.update(type="sphere", size=_fmt(geom.size[:1]))
    if visual:
        attrs.update(contype="0", conaffinity="0", group="2",
                     rgba=_fmt(geom.rgba if geom.rgba is not None else (0.7, 0.7, 0.7, 1.0)))
    else:
        attrs.update(contype="1", conaffinity="1", group="3", rgba="0 0 0 0")
    ET.SubElement(parent, "geom", attrs)


def _inertial(body: ET.Element, link: Link) -> None:
    if link.inertial is None or link.inertial.mass <= 0:
        return
    # fullinertia is in the inertial frame's axes; rotate it into the body frame ourselves since
    # MuJoCo does not accept a quat beside fullinertia.
    ixx, iyy, izz, ixy, ixz, iyz = link.inertial.inertia
    tensor = np.array([[ixx, ixy, ixz], [ixy, iyy, iyz], [ixz, iyz, izz]])
    rot = link.inertial.origin.matrix()[:3, :3]
    t = rot @ tensor @ rot.T
    ET.SubElement(body, "inertial", {
        "pos": _fmt(link.inertial.origin.xyz), "mass": _fmt(link.inertial.mass),
        "fullinertia": _fmt((t[0, 0], t[1, 1], t[2, 2], t[0, 1], t[0, 2], t[1, 2]))})


def _push_object(world: ET.Element, cfg: PushObjectConfig) -> None:
    """A free rigid body resting on the floor at the origin (the task places it).

    Its geoms take priority in contacts, so the configured friction is what acts between it
    and the floor or the arm (MuJoCo otherwise takes the larger of the two geoms' values)."""
    body = ET.SubElement(world, "body", name=PUSH_OBJECT_BODY, pos=_fmt((0, 0, cfg.height / 2)))
    ET.SubElement(body, "freejoint", name=f"{PUSH_OBJECT_BODY}_joint")
    for i, box in enumerate(object_boxes(cfg)):
        ET.SubElement(body, "geom", name=f"{PUSH_OBJECT_BODY}_geom_{i}", type="box",
                      pos=_fmt((*box.centre, 0.0)), size=_fmt(box.half), mass=_fmt(box.mass),
                      rgba=_fmt(cfg.rgba), friction=_fmt((cfg.friction, 0.005, 0.0001)),
                      priority="1", contype="1", conaffinity="1", group="0")


def _options_and_assets(mj: ET.Element, physics_timestep: float, camera_width: int,
                        camera_height: int, shadows: bool) -> None:
    """Compiler, physics and rendering options, the floor's and the sky's textures."""
    ET.SubElement(mj, "compiler", angle="radian", autolimits="true")
    ET.SubElement(mj, "option", timestep=_fmt(physics_timestep), integrator="implicitfast")
    visual = ET.SubElement(mj, "visual")
    ET.SubElement(visual, "global", offwidth=str(max(camera_width, 640)),
                  offheight=str(max(camera_height, 480)))
    # Shadow maps cost most of a software render; four texels per image pixel is plenty.
    shadow = min(4096, max(256, 4 * max(camera_width, camera_height)))
    ET.SubElement(visual, "quality", shadowsize=str(shadow) if shadows else "0")
    ET.SubElement(visual, "headlight", ambient="0.35 0.35 0.35", diffuse="0.4 0.4 0.4",
                  specular="0 0 0")
    asset = ET.SubElement(mj, "asset")
    ET.SubElement(asset, "texture", name="floor_grid", type="2d", builtin="checker",
                  rgb1="0.82 0.82 0.80", rgb2="0.68 0.68 0.66", width="256", height="256")
    ET.SubElement(asset, "material", name="floor", texture="floor_grid", texrepeat="6 6",
                  reflectance="0")
    ET.SubElement(asset, "texture", name="sky", type="skybox", builtin="gradient",
                  rgb1="0.55 0.65 0.80", rgb2="0.95 0.95 0.95", width="128", height="128")


def _world(mj: ET.Element, shadows: bool, push_object: PushObjectConfig | None) -> ET.Element:
    """The worldbody with lights, floor, the (hidden) distractor and the push task's object."""
    world = ET.SubElement(mj, "worldbody")
    ET.SubElement(world, "light", name=KEY_LIGHT, pos="0.6 -0.4 2.2", dir="-0.25 0.15 -1",
                  diffuse="0.75 0.75 0.72", specular="0.1 0.1 0.1",
                  castshadow="true" if shadows else "false")
    ET.SubElement(world, "light", name=FILL_LIGHT, pos="-1.0 1.0 1.5", dir="0.5 -0.5 -0.6",
                  diffuse="0.25 0.25 0.28", specular="0 0 0", castshadow="false")
    ET.SubElement(world, "geom", name=FLOOR_GEOM, type="plane", size="2 2 0.05", material="floor",
                  contype="1", conaffinity="1", group="0")
    distractor = ET.SubElement(world, "body", name=DISTRACTOR_BODY, mocap="true",
                               pos=_fmt(HIDDEN_POS))
    ET.SubElement(distractor, "geom", name="distractor_geom", type="box", size="0.05 0.05 0.05",
                  rgba="0.95 0.85 0.10 1", contype="0", conaffinity="0", group="0")
    if push_object is not None:
        _push_object(world, push_object)
    return world


@dataclass(frozen=True)
class _Arm:
    """What the arm's bodies are built from: the URDF and the scene's choices for it."""

    robot: RobotDescription
    camera_width: int
    camera_height: int
    tool_frame: str
    armature: float


def _camera(body: ET.Element, cam: CameraSensor, arm: _Arm) -> None:
    aspect = arm.camera_height / arm.camera_width
    fovy = 2 * math.atan(math.tan(cam.horizontal_fov / 2) * aspect)
    ET.SubElement(body, "camera", name=cam.name, pos="0 0 0",
                  quat=OPTICAL_TO_MUJOCO_QUAT, fovy=_fmt(math.degrees(fovy)))


def _add_bodies(parent_elem: ET.Element, link_name: str, arm: _Arm) -> None:
    """The URDF's links below `link_name` as nested MuJoCo bodies, hinges on actuated joints."""
    robot = arm.robot
    actuated = set(robot.joint_names)
    optical = {cam.optical_frame: cam for cam in robot.cameras.values()}
    for joint in robot.children(link_name):
        child = robot.links[joint.child]
        body = ET.SubElement(parent_elem, "body", name=child.name,
                             pos=_fmt(joint.origin.xyz), quat=_quat(joint.origin))
        if joint.name in actuated:
            body.set("gravcomp", "1")
            ET.SubElement(body, "joint", name=joint.name, type="hinge", axis=_fmt(joint.axis),
                          range=_fmt((joint.lower, joint.upper)), damping=_fmt(joint.damping),
                          frictionloss=_fmt(joint.friction), armature=_fmt(arm.armature),
                          limited="true")
        elif joint.type != "fixed":
            raise ValueError(f"{robot.source}: joint '{joint.name}' of type '{joint.type}' "
                             "is not supported by the embedded simulator")
        _inertial(body, child)
        for i, geom in enumerate(child.visuals):
            _geom(body, geom, name=f"{child.name}_visual_{i}", visual=True)
        for i, geom in enumerate(child.collisions):
            _geom(body, geom, name=f"{child.name}_collision_{i}", visual=False)
        if child.name in optical:
            _camera(body, optical[child.name], arm)
        if child.name == arm.tool_frame:
            ET.SubElement(body, "site", name=TOOL_SITE, pos="0 0 0", size="0.01", group="4")
        _add_bodies(body, child.name, arm)


def build_mjcf(robot: RobotDescription, *, camera_width: int, camera_height: int,
               physics_timestep: float, gains: ServoGains, tool_frame: str = "tool_link",
               armature: float = 0.02, shadows: bool = True,
               push_object: PushObjectConfig | None = None) -> str:
    """The complete MJCF scene for `robot` as an XML string (with the push task's object when
    `push_object` is given)."""
    mj = ET.Element("mujoco", model=robot.name)
    _options_and_assets(mj, physics_timestep, camera_width, camera_height, shadows)
    world = _world(mj, shadows, push_object)
    if robot.links[robot.root].visuals or robot.root != "world":
        raise ValueError(f"{robot.source}: the root link must be an empty 'world' link")
    _add_bodies(world, robot.root, _Arm(robot, camera_width, camera_height, tool_frame, armature))

    actuator = ET.SubElement(mj, "actuator")
    for i, joint in enumerate(robot.moving_joints):
        ET.SubElement(actuator, "position", name=joint.name, joint=joint.name,
                      kp=_fmt(gains.kp[i]), kv=_fmt(gains.kv[i]),
                      ctrlrange=_fmt((joint.lower, joint.upper)),
                      forcerange=_fmt((-joint.effort, joint.effort)))
    ET.indent(mj)
    return ET.tostring(mj, encoding="unicode")

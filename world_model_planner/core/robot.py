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
"""The arm as the URDF describes it: joints, limits, links, cameras and forward kinematics.

The URDF in description/ is the only source of kinematics. The MuJoCo simulator builds its model
from a :class:`RobotDescription`, the planner turns predicted joint positions into tool positions
with :class:`ForwardKinematics`, and a test holds the two to 1 mm. Joint vectors are always in
`RobotDescription.joint_names` order; anything arriving from outside is matched by name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import transforms3d

from .config import RobotConfig, load
from .paths import resolve

DEFAULT_URDF = "description/wmp_arm.urdf"
DEFAULT_ROBOT = "config/robots/wmp_arm.yaml"
MOVING_JOINT_TYPES = ("revolute", "continuous", "prismatic")


class RobotDescriptionError(ValueError):
    """The URDF is malformed or lacks something the package needs (a joint, a frame, a limit)."""


@dataclass(frozen=True)
class Origin:
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def matrix(self) -> np.ndarray:
        """4x4 homogeneous transform; URDF rpy is roll, pitch, yaw about fixed x, y, z."""
        out = np.eye(4)
        out[:3, :3] = transforms3d.euler.euler2mat(*self.rpy, axes="sxyz")
        out[:3, 3] = self.xyz
        return out


@dataclass(frozen=True)
class Geometry:
    """A URDF visual or collision shape.

    size: box (x, y, z), cylinder (radius, length), sphere (radius)."""

    shape: str
    size: tuple[float, ...]
    origin: Origin = Origin()
    rgba: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Inertial:
    mass: float
    origin: Origin
    inertia: tuple[float, float, float, float, float, float]  # ixx iyy izz ixy ixz iyz


@dataclass(frozen=True)
class Link:
    name: str
    inertial: Inertial | None = None
    visuals: tuple[Geometry, ...] = ()
    collisions: tuple[Geometry, ...] = ()


@dataclass(frozen=True)
class Joint:
    name: str
    type: str
    parent: str
    child: str
    origin: Origin = Origin()
    axis: tuple[float, float, float] = (1.0, 0.0, 0.0)
    lower: float = -np.inf
    upper: float = np.inf
    velocity: float = np.inf
    effort: float = np.inf
    damping: float = 0.0
    friction: float = 0.0


@dataclass(frozen=True)
class CameraSensor:
    """A camera declared in the URDF's <gazebo><sensor type="camera"> block."""

    name: str
    link: str
    optical_frame: str
    horizontal_fov: float
    width: int
    height: int
    rate: float
    topic: str


def _floats(text: str | None, count: int, default: tuple[float, ...], where: str) -> tuple:
    if text is None:
        return default
    try:
        values = tuple(float(v) for v in text.split())
    except ValueError as exc:
        raise RobotDescriptionError(f"{where}: expected {count} numbers, got '{text}'") from exc
    if len(values) != count:
        raise RobotDescriptionError(f"{where}: expected {count} numbers, got '{text}'")
    return values


def _origin(elem: ET.Element | None, where: str) -> Origin:
    if elem is None:
        return Origin()
    return Origin(_floats(elem.get("xyz"), 3, (0.0, 0.0, 0.0), f"{where} origin xyz"),
                  _floats(elem.get("rpy"), 3, (0.0, 0.0, 0.0), f"{where} origin rpy"))


def _geometry(elem: ET.Element, materials: Mapping[str, tuple], where: str) -> Geometry | None:
    geom = elem.find("geometry")
    if geom is None or len(geom) == 0:
        raise RobotDescriptionError(f"{where}: <geometry> is missing")
    shape = geom[0]
    if shape.tag == "box":
        size = _floats(shape.get("size"), 3, (0.0, 0.0, 0.0), f"{where} box size")
    elif shape.tag == "cylinder":
        size = (float(shape.get("radius", 0)), float(shape.get("length", 0)))
    elif shape.tag == "sphere":
        size = (float(shape.get("radius", 0)),)
    elif shape.tag == "mesh":
        return None  # meshes are drawn by RViz/Gazebo; the embedded sim uses primitives only
    else:
        raise RobotDescriptionError(f"{where}: unsupported geometry <{shape.tag}>")
    rgba = None
    mat = elem.find("material")
    if mat is not None:
        color = mat.find("color")
        if color is not None:
            rgba = _floats(color.get("rgba"), 4, (1, 1, 1, 1), f"{where} material rgba")
        else:
            rgba = materials.get(mat.get("name", ""))
    return Geometry(shape.tag, size, _origin(elem.find("origin"), where), rgba)


class RobotDescription:
    """A parsed URDF: links, joints, moving-joint limits and camera sensors."""

    def __init__(self, name: str, links: Mapping[str, Link], joints: Sequence[Joint],
                 cameras: Sequence[CameraSensor], source: str = "<urdf>") -> None:
        self.name = name
        self.source = source
        self.links = dict(links)
        self.joints = {j.name: j for j in joints}
        self.cameras = {c.name: c for c in cameras}
        self._child_joint = {j.child: j for j in joints}
        roots = [name for name in self.links if name not in self._child_joint]
        if len(roots) != 1:
            raise RobotDescriptionError(f"{source}: expected one root link, found {roots}")
        self.root = roots[0]
        for joint in joints:
            for end in (joint.parent, joint.child):
                if end not in self.links:
                    raise RobotDescriptionError(
                        f"{source}: joint '{joint.name}' names link '{end}', which is not defined")

    # -- parsing -----------------------------------------------------------------------------

    @classmethod
    def from_urdf_string(cls, text: str, source: str = "<urdf>") -> RobotDescription:
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise RobotDescriptionError(f"{source}: not well-formed XML: {exc}") from exc
        if root.tag != "robot":
            raise RobotDescriptionError(f"{source}: top element is <{root.tag}>, expected <robot>")
        materials = {}
        for mat in root.findall("material"):
            color = mat.find("color")
            if color is not None:
                materials[mat.get("name", "")] = _floats(
                    color.get("rgba"), 4, (1, 1, 1, 1), f"{source} material {mat.get('name')}")
        links = {}
        for elem in root.findall("link"):
            name = elem.get("name") or ""
            where = f"{source} link '{name}'"
            inertial = None
            ie = elem.find("inertial")
            if ie is not None:
                mass_elem, inertia_elem = ie.find("mass"), ie.find("inertia")
                if mass_elem is None or inertia_elem is None:
                    raise RobotDescriptionError(f"{where}: <inertial> needs <mass> and <inertia>")
                inertia = tuple(float(inertia_elem.get(k, 0.0))
                                for k in ("ixx", "iyy", "izz", "ixy", "ixz", "iyz"))
                inertial = Inertial(float(mass_elem.get("value", 0.0)),
                                    _origin(ie.find("origin"), where), inertia)
            visuals = tuple(g for g in (_geometry(v, materials, f"{where} visual")
                                        for v in elem.findall("visual")) if g is not None)
            collisions = tuple(g for g in (_geometry(c, materials, f"{where} collision")
                                           for c in elem.findall("collision")) if g is not None)
            links[name] = Link(name, inertial, visuals, collisions)
        joints = []
        for elem in root.findall("joint"):
            name = elem.get("name") or ""
            where = f"{source} joint '{name}'"
            jtype = elem.get("type", "")
            parent, child = elem.find("parent"), elem.find("child")
            if parent is None or child is None:
                raise RobotDescriptionError(f"{where}: needs <parent> and <child>")
            kwargs: dict = {}
            axis = elem.find("axis")
            if axis is not None:
                kwargs["axis"] = _floats(axis.get("xyz"), 3, (1.0, 0.0, 0.0), f"{where} axis")
            limit = elem.find("limit")
            if jtype in ("revolute", "prismatic"):
                if limit is None:
                    raise RobotDescriptionError(f"{where}: a {jtype} joint needs <limit>")
                kwargs.update(lower=float(limit.get("lower", 0.0)),
                              upper=float(limit.get("upper", 0.0)))
            if limit is not None:
                kwargs.update(velocity=float(limit.get("velocity", np.inf)),
                              effort=float(limit.get("effort", np.inf)))
            dyn = elem.find("dynamics")
            if dyn is not None:
                kwargs.update(damping=float(dyn.get("damping", 0.0)),
                              friction=float(dyn.get("friction", 0.0)))
            joints.append(Joint(name, jtype, parent.get("link", ""), child.get("link", ""),
                                _origin(elem.find("origin"), where), **kwargs))
        cameras = []
        for gz in root.findall("gazebo"):
            link = gz.get("reference")
            for sensor in gz.findall("sensor"):
                if sensor.get("type") != "camera" or link is None:
                    continue
                cam = sensor.find("camera")
                img = cam.find("image") if cam is not None else None
                if cam is None or img is None:
                    raise RobotDescriptionError(f"{source}: camera sensor on '{link}' lacks "
                                                "<camera><image>")
                name = sensor.get("name", link)
                optical = cam.findtext("optical_frame_id") or f"{name}_optical_frame"
                topic = sensor.findtext("topic") or f"{name}/image_raw"
                cameras.append(CameraSensor(
                    name=name, link=link, optical_frame=optical,
                    horizontal_fov=float(cam.findtext("horizontal_fov") or 1.047),
                    width=int(img.findtext("width") or 64),
                    height=int(img.findtext("height") or 64),
                    rate=float(sensor.findtext("update_rate") or 30.0), topic=topic))
        return cls(root.get("name", "robot"), links, joints, cameras, source)

    @classmethod
    def from_file(cls, path: str | Path = DEFAULT_URDF) -> RobotDescription:
        resolved = resolve(path, kind="URDF")
        return cls.from_urdf_string(resolved.read_text(encoding="utf-8"), str(resolved))

    # -- structure ---------------------------------------------------------------------------

    def parent_joint(self, link: str) -> Joint | None:
        return self._child_joint.get(link)

    def children(self, link: str) -> list[Joint]:
        return [j for j in self.joints.values() if j.parent == link]

    def chain(self, frame: str) -> list[Joint]:
        """Joints from the root link to `frame`, root first."""
        if frame not in self.links:
            raise RobotDescriptionError(
                f"{self.source}: frame '{frame}' is not a link of the URDF (links: "
                f"{', '.join(self.links)})")
        out = []
        link = frame
        while (joint := self._child_joint.get(link)) is not None:
            out.append(joint)
            link = joint.parent
        return out[::-1]

    @cached_property
    def moving_joints(self) -> tuple[Joint, ...]:
        """Actuated joints, depth-first from the root: the canonical joint order."""
        out: list[Joint] = []

        def visit(link: str) -> None:
            for joint in self.children(link):
                if joint.type in MOVING_JOINT_TYPES:
                    out.append(joint)
                visit(joint.child)

        visit(self.root)
        return tuple(out)

    @cached_property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.moving_joints)

    @cached_property
    def lower(self) -> np.ndarray:
        return np.array([j.lower for j in self.moving_joints])

    @cached_property
    def upper(self) -> np.ndarray:
        return np.array([j.upper for j in self.moving_joints])

    @cached_property
    def velocity_limits(self) -> np.ndarray:
        return np.array([j.velocity for j in self.moving_joints])

    @cached_property
    def effort_limits(self) -> np.ndarray:
        return np.array([j.effort for j in self.moving_joints])

    def index_of(self, names: Sequence[str]) -> np.ndarray:
        """Positions of `names` in joint_names; a name the arm lacks is an error naming it."""
        lookup = {n: i for i, n in enumerate(self.joint_names)}
        missing = [n for n in names if n not in lookup]
        if missing:
            raise RobotDescriptionError(
                f"unknown joint(s) {missing}; {self.name} has {list(self.joint_names)}")
        return np.array([lookup[n] for n in names], dtype=int)

    def as_dict(self, q: np.ndarray) -> dict[str, float]:
        return dict(zip(self.joint_names, map(float, q)))

    # -- kinematics (reference implementation: one configuration, transforms3d) ----------------

    def frame_transform(self, q: np.ndarray | Mapping[str, float], frame: str) -> np.ndarray:
        """4x4 pose of `frame` in the root frame at joint positions `q`."""
        values = q if isinstance(q, Mapping) else self.as_dict(np.asarray(q, dtype=float))
        pose = np.eye(4)
        for joint in self.chain(frame):
            pose = pose @ joint.origin.matrix()
            if joint.type in ("revolute", "continuous"):
                motion = np.eye(4)
                motion[:3, :3] = transforms3d.axangles.axangle2mat(joint.axis, values[joint.name])
                pose = pose @ motion
            elif joint.type == "prismatic":
                motion = np.eye(4)
                axis = np.asarray(joint.axis) / np.linalg.norm(joint.axis)
                motion[:3, 3] = axis * values[joint.name]
                pose = pose @ motion
        return pose


@dataclass(frozen=True)
class KinematicStep:
    """One joint on the way from the root to a frame, in the URDF's terms."""

    fixed: np.ndarray  # 4x4 joint origin
    axis: np.ndarray | None  # unit axis for a revolute joint, None for fixed
    index: int  # position in RobotDescription.joint_names, -1 when fixed


@dataclass
class ForwardKinematics:
    """Batched forward kinematics to one frame: q (..., J) -> positions (..., 3).

    The planner evaluates the tool position of every imagined state of every sample in each
    optimiser iteration, so this is vectorised numpy (Rodrigues) rather than one transforms3d call
    per configuration; a test holds it to :meth:`RobotDescription.frame_transform`.
    """

    description: RobotDescription
    frame: str = "tool_link"
    _steps: list[KinematicStep] = field(init=False, repr=False)
    _plan: list[tuple[KinematicStep, int | None, bool, bool]] = field(init=False, repr=False)
    _cross: list[tuple[np.ndarray, np.ndarray] | None] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        index = {n: i for i, n in enumerate(self.description.joint_names)}
        self._steps = []
        for joint in self.description.chain(self.frame):
            if joint.type == "prismatic":
                raise RobotDescriptionError(
                    f"{self.description.source}: prismatic joint '{joint.name}' on the way to "
                    f"'{self.frame}' is not supported by the batched kinematics")
            axis = None
            if joint.type in ("revolute", "continuous"):
                axis = np.asarray(joint.axis, dtype=float)
                axis = axis / np.linalg.norm(axis)
            self._steps.append(KinematicStep(joint.origin.matrix(), axis,
                                             index.get(joint.name, -1)))
        self._cross = [None if step.axis is None else _cross_matrices(step.axis)
                       for step in self._steps]
        # What positions() asks of every step on every call, worked out once: tool to root,
        # the coordinate axis of the joint (or None), whether the origin rotates and shifts.
        self._plan = [(step, None if step.axis is None else _coordinate_axis(step.axis),
                       not np.array_equal(step.fixed[:3, :3], np.eye(3)),
                       bool(step.fixed[:3, 3].any())) for step in reversed(self._steps)]

    @property
    def to_root(self) -> tuple[tuple[KinematicStep, int | None, bool, bool], ...]:
        """The chain from the frame back to the root as positions() walks it: each step with its
        coordinate axis (or None) and whether its origin rotates and shifts. For other
        implementations of these kinematics (the planner's torch cost on the model's device)."""
        return tuple(self._plan)

    def transforms(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        batch = q.shape[:-1]
        rot = np.broadcast_to(_EYE3, batch + (3, 3)).copy()
        pos = np.zeros(batch + (3,))
        for step, cross in zip(self._steps, self._cross):
            pos = pos + rot @ step.fixed[:3, 3]
            rot = rot @ step.fixed[:3, :3]
            if cross is not None:
                rot = rot @ _rodrigues_from(cross, q[..., step.index])
        out = np.zeros(batch + (4, 4))
        out[..., :3, :3] = rot
        out[..., :3, 3] = pos
        out[..., 3, 3] = 1.0
        return out

    def positions(self, q: np.ndarray) -> np.ndarray:
        """The frame's origin only: carried from the tool back to the root as a point, so each
        joint costs a few (..., 3) operations instead of 3x3 matrix products (the planner calls
        this for every imagined state of every sample; it was a quarter of a control step).

        The point starts at the origin, so the steps before the first joint only translate it;
        identity rotations and zero offsets are skipped, and joints about a coordinate axis (most
        URDFs) rotate two coordinates instead of applying Rodrigues' formula to all three."""
        q = np.asarray(q)
        dtype = np.float32 if q.dtype == np.float32 else np.float64
        point: np.ndarray | None = None
        for step, k, turns, shifts in self._plan:
            if step.axis is not None and point is not None:
                angle = q[..., step.index]
                if k is None:
                    point = _rotate(step.axis, angle, point)
                else:
                    point = _rotate_about_coordinate_axis(k, step.axis[k], angle, point)
            rotation, offset = step.fixed[:3, :3], step.fixed[:3, 3]
            if point is None:
                point = np.broadcast_to(offset.astype(dtype), q.shape[:-1] + (3,)).copy()
                continue
            if turns:
                point = point @ rotation.T.astype(dtype)
            if shifts:
                point = point + offset.astype(dtype)
        if point is None:
            return np.zeros(q.shape[:-1] + (3,), dtype=dtype)
        return point


_EYE3 = np.eye(3)


def _cross_matrices(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cross-product matrix K of a unit axis, and K @ K (Rodrigues' formula's terms)."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return k, k @ k


def _rodrigues_from(cross: tuple[np.ndarray, np.ndarray], angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) by angles (...) about the axis whose `_cross_matrices`
    these are (worked out once per joint: transforms() runs inside IK loops)."""
    k, kk = cross
    angle = np.asarray(angle, dtype=np.float64)[..., None, None]
    return _EYE3 + np.sin(angle) * k + (1.0 - np.cos(angle)) * kk


def _coordinate_axis(axis: np.ndarray) -> int | None:
    """0, 1 or 2 when `axis` is +-x, +-y or +-z, else None."""
    nonzero = np.flatnonzero(np.abs(axis) > 1e-12)
    return int(nonzero[0]) if len(nonzero) == 1 else None


def _rotate_about_coordinate_axis(k: int, sign: float, angle: np.ndarray,
                                  v: np.ndarray) -> np.ndarray:
    """Points v (..., 3) rotated by angles (...) about coordinate axis k (sign: its direction)."""
    i, j = (k + 1) % 3, (k + 2) % 3
    c, s = np.cos(angle), np.sin(angle) * sign
    out = v.copy()
    out[..., i] = c * v[..., i] - s * v[..., j]
    out[..., j] = s * v[..., i] + c * v[..., j]
    return out


def _rotate(axis: np.ndarray, angle: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Points v (..., 3) rotated about a fixed unit axis by angles (...) (Rodrigues' formula)."""
    c, s = np.cos(angle), np.sin(angle)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    a0, a1, a2 = (float(a) for a in axis)
    along = (x * a0 + y * a1 + z * a2) * (1.0 - c)
    return np.stack([x * c + (a1 * z - a2 * y) * s + a0 * along,
                     y * c + (a2 * x - a0 * z) * s + a1 * along,
                     z * c + (a0 * y - a1 * x) * s + a2 * along], axis=-1)


def load_description(path: str | Path = DEFAULT_URDF) -> RobotDescription:
    """The URDF at `path` (default: the package's own arm)."""
    return RobotDescription.from_file(path)


def shrink_limits(lower: np.ndarray, upper: np.ndarray,
                  margin: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint limits moved `margin` inwards on each side, never past their midpoint."""
    mid = (lower + upper) / 2
    return np.minimum(lower + margin, mid), np.maximum(upper - margin, mid)


class Robot:
    """An arm as the package drives it: its config file plus the URDF that file names.

    Joint vectors handed to or returned from a Robot are in `joint_names` order, which is the
    command order of the arm's controllers.
    """

    def __init__(self, config: RobotConfig, description: RobotDescription,
                 source: str = "<robot config>") -> None:
        self.config = config
        self.description = description
        self.source = source
        names = tuple(config.joints) or description.joint_names
        if sorted(names) != sorted(description.joint_names):
            raise RobotDescriptionError(
                f"{source}: joints {list(names)} must be exactly the moving joints of "
                f"{description.source}: {list(description.joint_names)}")
        self.joint_names: tuple[str, ...] = names
        self._to_description = description.index_of(names)
        self.lower = description.lower[self._to_description]
        self.upper = description.upper[self._to_description]
        self.velocity_limits = description.velocity_limits[self._to_description]
        self.effort_limits = description.effort_limits[self._to_description]
        self.kinematics = ForwardKinematics(description, config.tool_frame)
        self._from_description = np.argsort(self._to_description)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_ROBOT) -> Robot:
        resolved = resolve(path, kind="robot config")
        config = load(RobotConfig, resolved)
        return cls(config, RobotDescription.from_file(config.description), str(resolved))

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def dof(self) -> int:
        return len(self.joint_names)

    def action_bound(self, control_period: float) -> np.ndarray:
        """Largest joint-position change per control step (rad): the planner's action bound."""
        return self.config.velocity_scale * self.velocity_limits * control_period

    def limits_with_margin(self, margin: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Position limits shrunk by `margin` (default: the configured position_margin)."""
        return shrink_limits(self.lower, self.upper,
                             self.config.position_margin if margin is None else margin)

    def to_description_order(self, q: np.ndarray) -> np.ndarray:
        return np.asarray(q)[..., self._from_description]

    def tool_positions(self, q: np.ndarray) -> np.ndarray:
        """Tool-frame positions (..., 3) in the root frame for joint vectors (..., J)."""
        return self.kinematics.positions(self.to_description_order(q))

    def reorder(self, names: Sequence[str], values: Sequence[float]) -> np.ndarray:
        """Values given with their joint names (any order) as a vector in joint_names order."""
        if len(names) != len(values):
            raise RobotDescriptionError(f"{len(names)} joint names but {len(values)} values")
        lookup = dict(zip(names, values))
        missing = [n for n in self.joint_names if n not in lookup]
        if missing:
            raise RobotDescriptionError(f"joint(s) {missing} missing (got {list(names)})")
        return np.array([lookup[n] for n in self.joint_names], dtype=float)


__all__ = [
    "CameraSensor", "ForwardKinematics", "Geometry", "Inertial", "Joint", "KinematicStep", "Link",
    "Origin",
    "Robot", "RobotDescription", "RobotDescriptionError", "load_description", "shrink_limits",
]

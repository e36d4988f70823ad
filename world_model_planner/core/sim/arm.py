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
"""The embedded MuJoCo arm: position-servoed joints, a camera, perturbations.

It stands in for Gazebo + ros2_control or a real arm: commands are absolute joint position targets
held for one control period, observations are a camera frame and the joint state. Everything is
deterministic for a given seed, so datasets and evaluations can be reproduced bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import Perturbations, PushObjectConfig, SimConfig, SimulationConfig
from ..observation import Observation
from ..robot import Robot
from .appearance import Appearance, SceneEditor
from .cell import scene_description, workspace_limits
from .push_object import ObjectEditor, ObjectLook, quat_from_yaw, yaw_from_quat
from .rendering import Camera, import_mujoco
from .scene import PUSH_OBJECT_BODY, TOOL_SITE, ServoGains, build_mjcf

# Where the push object waits until a task places it: on the floor, out of reach and sight.
PARKED_OBJECT_POSE = np.array([-1.5, 1.5, 0.0])


def perturbation_appearance(p: Perturbations) -> Appearance:
    """The static part of the enabled perturbations as a scene appearance."""
    look: dict[str, Any] = {}
    if p.lighting.enabled:
        look.update(light_intensity=p.lighting.intensity, light_tint=p.lighting.tint,
                    key_light_shift=p.lighting.key_light_shift)
    if p.camera_offset.enabled:
        look.update(camera_translation=p.camera_offset.translation,
                    camera_rotation_deg=p.camera_offset.rotation_deg)
    if p.colour.enabled:
        look.update(hue_shift=p.colour.hue_shift, floor_rgba=p.colour.floor_rgba)
    if p.distractor.enabled:
        look.update(distractor_size=p.distractor.size, distractor_rgba=p.distractor.rgba)
    return Appearance(**look)


def object_perturbation_look(p: Perturbations, variant: int = 0) -> ObjectLook:
    """The pushed object as the enabled object perturbations change it; `variant` picks the
    first or second of each perturbation's scales."""
    pick = variant % 2
    return ObjectLook(
        size_scale=p.object_size.scales[pick] if p.object_size.enabled else 1.0,
        mass_scale=p.object_mass.scales[pick] if p.object_mass.enabled else 1.0,
        friction_scale=p.object_friction.scales[pick] if p.object_friction.enabled else 1.0,
        rgba=p.object_colour.rgba if p.object_colour.enabled else None)


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole model of the rendered camera, for sensor_msgs/CameraInfo."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @property
    def k(self) -> list[float]:
        return [self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0]


def simulator_for(simulation: SimulationConfig) -> ArmSim:
    """The simulator the sim config's task needs: the push task adds its object and camera."""
    if simulation.task == "push":
        return ArmSim(simulation.sim, camera=simulation.push.camera,
                      push_object=simulation.push.object)
    return ArmSim(simulation.sim)


class ArmSim:
    """One simulated arm with one camera, and the push task's object when given one."""

    def __init__(self, config: SimConfig | None = None, robot: Robot | None = None, *,
                 camera: str = "", push_object: PushObjectConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.robot = robot or Robot.load(self.config.robot)
        self.push_object = push_object
        mujoco = import_mujoco()
        self._mj = mujoco
        # The URDF in the arm's cell: on a world link, with the robot config's scene camera.
        self.scene = desc = scene_description(self.robot)
        camera = camera or self.robot.config.camera
        if camera not in desc.cameras:
            raise ValueError(f"{self.robot.source}: camera '{camera}' is not a camera sensor of "
                             f"{desc.source} (cameras: {', '.join(desc.cameras) or 'none'}); "
                             "set the robot config's camera or the sim config's push.camera")
        self.camera_name = camera
        # Servo damping from the joint-space inertia at the home pose: critically damped
        # (times damping_ratio) per joint, so every joint settles in well under a control period.
        probe = self._compile(ServoGains(np.ones(self.robot.dof), np.zeros(self.robot.dof)))
        probe_data = mujoco.MjData(probe)
        mujoco.mj_forward(probe, probe_data)
        arm_dofs = [probe.jnt_dofadr[mujoco.mj_name2id(probe, mujoco.mjtObj.mjOBJ_JOINT, j.name)]
                    for j in desc.moving_joints]  # the actuators' order
        inertia = np.empty(len(arm_dofs))
        for k, i in enumerate(arm_dofs):  # diagonal of M via M @ e_i: stable across versions
            unit, column = np.zeros(probe.nv), np.zeros(probe.nv)
            unit[i] = 1.0
            mujoco.mj_mulM(probe, probe_data, column, unit)
            inertia[k] = column[i]
        kp = np.full(self.robot.dof, self.config.position_gain)
        kv = 2.0 * self.config.damping_ratio * np.sqrt(kp * (inertia + 0.02))
        self.gains = ServoGains(kp, kv)
        self.model = self._compile(self.gains)
        self.data = mujoco.MjData(self.model)
        self._qadr = np.array([self.model.jnt_qposadr[mujoco.mj_name2id(
            self.model, mujoco.mjtObj.mjOBJ_JOINT, n)] for n in self.robot.joint_names])
        self._dadr = np.array([self.model.jnt_dofadr[mujoco.mj_name2id(
            self.model, mujoco.mjtObj.mjOBJ_JOINT, n)] for n in self.robot.joint_names])
        self._act = np.array([mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_ACTUATOR, n)
                              for n in self.robot.joint_names])
        self._tool = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, TOOL_SITE)
        self._object_qadr = self._object_dadr = -1
        self.object_editor: ObjectEditor | None = None
        if push_object is not None:
            body = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, PUSH_OBJECT_BODY)
            joint = self.model.body_jntadr[body]
            self._object_qadr = int(self.model.jnt_qposadr[joint])
            self._object_dadr = int(self.model.jnt_dofadr[joint])
            self.object_editor = ObjectEditor(self.model, body)
        # Arm collision geoms (scene.py puts every URDF collision shape in group 3).
        self._arm_collision = set(np.flatnonzero(self.model.geom_group == 3).tolist())
        self._substeps = int(round(self.config.control_period / self.config.physics_timestep))
        self._camera = Camera(self.model, camera, self.config.image_width,
                              self.config.image_height)
        self.editor = SceneEditor(self.model, camera)
        self._cameras: dict[str, Camera] = {}  # other cameras, made when first asked for
        self.perturbations = Perturbations()
        self._base_appearance = Appearance()
        self._pushes: list[tuple[Any, int]] = []
        self.step_count = 0
        self.reset(object_pose=PARKED_OBJECT_POSE if push_object is not None else None)

    def _compile(self, gains: ServoGains) -> Any:
        xml = build_mjcf(self.scene, camera_width=self.config.image_width,
                         camera_height=self.config.image_height,
                         physics_timestep=self.config.physics_timestep, gains=gains,
                         tool_frame=self.robot.config.tool_frame, shadows=self.config.shadows,
                         push_object=self.push_object)
        return self._mj.MjModel.from_xml_string(xml)

    # -- episode control -------------------------------------------------------------------

    def set_perturbations(self, perturbations: Perturbations,
                          base: Appearance | None = None, variant: int = 0) -> None:
        """Perturbations (and a base appearance, e.g. collection randomisation) from now on.

        `variant` picks which of an object perturbation's two scales applies (evaluation
        episodes alternate between them)."""
        self.perturbations = perturbations
        self._base_appearance = base or Appearance()
        look = self._base_appearance
        pert = perturbation_appearance(perturbations)
        if pert != Appearance():
            look = pert if look == Appearance() else _compose(look, pert)
        self.editor.apply(look)
        self._pushes = []
        for name in ("push", "object_push"):
            push = getattr(perturbations, name)
            if not push.enabled:
                continue
            body = self._mj.mj_name2id(self.model, self._mj.mjtObj.mjOBJ_BODY, push.link)
            if body < 0:
                raise ValueError(f"perturbations.{name}.link: '{push.link}' is not a body of "
                                 "the scene (an arm link, or push_object in the push task)")
            self._pushes.append((push, body))
        if self.object_editor is not None:
            self.set_object_look(object_perturbation_look(perturbations, variant))
        self._update_distractor()

    def reset(self, qpos: np.ndarray | None = None,
              object_pose: np.ndarray | None = None) -> Observation:
        """Arm at rest at `qpos` (default: the middle of the task workspace), servo targets
        equal to it, time zero; the push object at rest at `object_pose` (x, y, yaw; default:
        where it was)."""
        mj, d = self._mj, self.data
        if self.push_object is not None and object_pose is None:
            object_pose = self.object_pose()
        mj.mj_resetData(self.model, d)
        q = (sum(workspace_limits(self.robot)) / 2 if qpos is None
             else np.asarray(qpos, float))
        self._check_vector(q, "qpos")
        d.qpos[self._qadr] = np.clip(q, self.robot.lower, self.robot.upper)
        if object_pose is not None:
            self._place_object(object_pose)
        d.ctrl[self._act] = d.qpos[self._qadr]
        self.step_count = 0
        self._update_distractor()
        mj.mj_forward(self.model, d)
        return self.observe()

    def step(self, command: np.ndarray, render: bool = True) -> Observation:
        """Hold absolute joint targets `command` (clipped to the URDF limits) for one period.

        render=False skips the camera (an empty frame) for callers that only need joint state."""
        self.advance(command, self.config.control_period)
        return self.observe(render)

    def advance(self, command: np.ndarray, seconds: float) -> None:
        """Hold targets `command` for `seconds` (rounded to whole physics steps, at least one).

        For callers that run the arm at a finer grain than one control period, like the ROS node
        publishing joint states between commands. Push and dropout follow the control step that
        the simulation time falls in, so they happen when they would under step()."""
        target = np.asarray(command, dtype=float)
        self._check_vector(target, "command")
        if not np.all(np.isfinite(target)):
            raise ValueError(f"command has non-finite values: {target}")
        self.data.ctrl[self._act] = np.clip(target, self.robot.lower, self.robot.upper)
        dt, period = self.config.physics_timestep, self.config.control_period

        def control_step() -> int:  # the one the time is in, with half a physics step of slack
            return int(math.floor((self.data.time + dt / 2) / period))

        for _ in range(max(1, int(round(seconds / dt)))):
            if self._pushes:
                index = control_step()
                for push, body in self._pushes:
                    pushing = push.start_step <= index < push.start_step + push.steps
                    self.data.xfrc_applied[body, :3] = push.force if pushing else 0.0
            self._mj.mj_step(self.model, self.data)
        for _, body in self._pushes:
            self.data.xfrc_applied[body, :] = 0.0
        self.step_count = control_step()
        self._update_distractor()
        self._mj.mj_forward(self.model, self.data)

    # -- sensing ---------------------------------------------------------------------------

    @property
    def time(self) -> float:
        return float(self.data.time)

    @property
    def qpos(self) -> np.ndarray:
        return self.data.qpos[self._qadr].copy()

    @property
    def qvel(self) -> np.ndarray:
        return self.data.qvel[self._dadr].copy()

    def tool_position(self) -> np.ndarray:
        return self.data.site_xpos[self._tool].copy()

    def object_pose(self) -> np.ndarray:
        """The push object's planar pose (x, y, yaw) in the world frame."""
        if self.push_object is None:
            raise ValueError("this simulator has no push object (sim config task: push adds it)")
        q = self.data.qpos[self._object_qadr:self._object_qadr + 7]
        return np.array([q[0], q[1], yaw_from_quat(q[3:7])])

    def set_object_look(self, look: ObjectLook) -> None:
        """Size, mass, friction and colour of the push object from now on (it stays where it
        is, resting on the floor at its new size)."""
        if self.object_editor is None:
            raise ValueError("this simulator has no push object (sim config task: push adds it)")
        pose = self.object_pose()
        self.object_editor.apply(look)
        self._place_object(pose)
        self._mj.mj_forward(self.model, self.data)

    def _place_object(self, pose: np.ndarray) -> None:
        if self.push_object is None or self.object_editor is None:
            raise ValueError("this simulator has no push object (sim config task: push adds it)")
        x, y, yaw = (float(v) for v in pose)
        a, v = self._object_qadr, self._object_dadr
        height = self.push_object.height * self.object_editor.look.size_scale
        self.data.qpos[a:a + 7] = [x, y, height / 2, *quat_from_yaw(yaw)]
        self.data.qvel[v:v + 6] = 0.0

    def camera_dropped(self) -> bool:
        drop = self.perturbations.dropout
        return drop.enabled and drop.start_step <= self.step_count < drop.start_step + drop.steps

    def render(self) -> np.ndarray:
        """The camera frame now (black while a dropout perturbation is active)."""
        if self.camera_dropped():
            return np.zeros((self.config.image_height, self.config.image_width, 3), np.uint8)
        return self._camera.render(self.data)

    def observe(self, render: bool = True) -> Observation:
        image = self.render() if render else np.zeros((0, 0, 3), np.uint8)
        return Observation(image, self.qpos, self.qvel, self.time)

    def render_camera(self, name: str, qpos: np.ndarray | None = None,
                      object_pose: np.ndarray | None = None) -> np.ndarray:
        """A frame of another camera of the scene (now, or with the arm at `qpos` and the
        object at `object_pose`), at the configured size; the state is untouched."""
        if name not in self._cameras:
            self._cameras[name] = Camera(self.model, name, self.config.image_width,
                                         self.config.image_height)
        if qpos is None:
            return self._cameras[name].render(self.data)
        return self.render_at(qpos, object_pose=object_pose, camera=self._cameras[name])

    def render_at(self, qpos: np.ndarray, step: int | None = None,
                  object_pose: np.ndarray | None = None, camera: Camera | None = None
                  ) -> np.ndarray:
        """The camera frame with the arm at `qpos` (for goal images); the state is untouched.

        `step`: draw things that move on their own (the distractor) where they are at that
        control step, so redrawn training frames see the box all along its path.
        `object_pose`: draw the push object there (x, y, yaw) instead of where it is."""
        d = self.data
        saved = (d.qpos.copy(), d.qvel.copy(), d.time, d.mocap_pos.copy(), self.step_count)
        d.qpos[self._qadr] = qpos
        if object_pose is not None:
            self._place_object(object_pose)
        if step is not None:
            self.step_count = step
            self._update_distractor()
        self._mj.mj_kinematics(self.model, d)
        image = (camera or self._camera).render(d)
        d.qpos[:], d.qvel[:], d.time, d.mocap_pos[:], self.step_count = saved
        self._mj.mj_forward(self.model, d)
        return image

    def tool_position_at(self, qpos: np.ndarray) -> np.ndarray:
        d = self.data
        saved = d.qpos.copy()
        d.qpos[self._qadr] = qpos
        self._mj.mj_kinematics(self.model, d)
        out = d.site_xpos[self._tool].copy()
        d.qpos[:] = saved
        self._mj.mj_kinematics(self.model, d)
        return out

    def in_collision(self, qpos: np.ndarray, object_pose: np.ndarray | None = None) -> bool:
        """Whether the arm at `qpos` touches itself, the floor or the push object (at
        `object_pose` when given); the object resting on the floor is no collision."""
        d = self.data
        saved = (d.qpos.copy(), d.qvel.copy(), d.time)
        d.qpos[self._qadr] = qpos
        if object_pose is not None:
            self._place_object(object_pose)
        self._mj.mj_forward(self.model, d)
        arm = self._arm_collision
        hit = any(int(d.contact[i].geom1) in arm or int(d.contact[i].geom2) in arm
                  for i in range(d.ncon))
        d.qpos[:], d.qvel[:], d.time = saved
        self._mj.mj_forward(self.model, d)
        return bool(hit)

    def renderer_name(self) -> str:
        """The OpenGL implementation that draws the camera frames (recorded with datasets)."""
        return self._camera.renderer_name()

    def intrinsics(self) -> CameraIntrinsics:
        cam = self._mj.mj_name2id(self.model, self._mj.mjtObj.mjOBJ_CAMERA, self.camera_name)
        fovy = math.radians(float(self.model.cam_fovy[cam]))
        w, h = self.config.image_width, self.config.image_height
        f = 0.5 * h / math.tan(fovy / 2)
        return CameraIntrinsics(w, h, f, f, w / 2, h / 2)

    def camera_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """World position and 3x3 rotation (MuJoCo convention: looks along -z, y up)."""
        cam = self._mj.mj_name2id(self.model, self._mj.mjtObj.mjOBJ_CAMERA, self.camera_name)
        return self.data.cam_xpos[cam].copy(), self.data.cam_xmat[cam].reshape(3, 3).copy()

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates (u right, v down) of world points (..., 3) in the camera image."""
        pos, rot = self.camera_pose()
        local = (np.asarray(points) - pos) @ rot  # camera frame: x right, y up, -z forward
        k = self.intrinsics()
        depth = -local[..., 2]
        u = k.cx + k.fx * local[..., 0] / depth
        v = k.cy - k.fy * local[..., 1] / depth
        return np.stack([u, v], axis=-1)

    def close(self) -> None:
        self._camera.close()
        for camera in self._cameras.values():
            camera.close()

    # -- helpers ---------------------------------------------------------------------------

    def _check_vector(self, v: np.ndarray, what: str) -> None:
        if v.shape != (self.robot.dof,):
            raise ValueError(f"{what} must have {self.robot.dof} values "
                             f"({', '.join(self.robot.joint_names)}), got shape {v.shape}")

    def _update_distractor(self) -> None:
        dis = self.perturbations.distractor
        if dis.enabled:
            phase = 2 * math.pi * self.step_count * self.config.control_period / dis.period
            pos = np.asarray(dis.centre) + dis.radius * np.array(
                [math.cos(phase), math.sin(phase), 0.0])
            self.editor.place_distractor(self.data, pos)
        elif self._base_appearance.distractor_size > 0:
            return  # a randomised distractor stays where collection put it
        else:
            self.editor.place_distractor(self.data, None)


def _compose(base: Appearance, over: Appearance) -> Appearance:
    """`over`'s non-default fields on top of `base`."""
    nominal = Appearance()
    fields = {k: getattr(over, k) if getattr(over, k) != getattr(nominal, k) else getattr(base, k)
              for k in Appearance.__dataclass_fields__}
    return Appearance(**fields)

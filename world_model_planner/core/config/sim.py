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
"""The embedded simulator's schema (config/sim.yaml): scene, task, perturbations, node."""

from __future__ import annotations

import dataclasses
from typing import Literal

from .schema import ConfigError, param


@dataclasses.dataclass(frozen=True)
class LightingPerturbation:
    enabled: bool = param(False, "dim and tint the lights and move the key light")
    intensity: float = param(0.45, "scale of every light's brightness", gt=0.0, le=3.0)
    tint: tuple[float, float, float] = param((1.0, 0.8, 0.55), "RGB multiplier of the lights",
                                             ge=0.0, le=2.0)
    key_light_shift: tuple[float, float, float] = param(
        (0.9, 0.8, -0.7), "metres added to the key light's position")


@dataclasses.dataclass(frozen=True)
class CameraOffsetPerturbation:
    enabled: bool = param(False, "move and turn the camera away from its calibrated pose")
    translation: tuple[float, float, float] = param((0.04, -0.04, 0.03),
                                                    "offset in the camera frame (m)")
    rotation_deg: tuple[float, float, float] = param((1.5, -2.0, 2.5),
                                                     "roll, pitch, yaw offset (degrees)")


@dataclasses.dataclass(frozen=True)
class DistractorPerturbation:
    enabled: bool = param(False, "a moving box in the workspace that is not part of the task")
    centre: tuple[float, float, float] = param((0.25, 0.30, 0.08), "orbit centre (m)")
    radius: float = param(0.12, "orbit radius (m)", ge=0.0)
    period: float = param(6.0, "orbit period (s)", gt=0.0)
    size: float = param(0.07, "half edge of the box (m)", gt=0.0, le=0.5)
    rgba: tuple[float, float, float, float] = param((0.95, 0.85, 0.10, 1.0), "box colour",
                                                    ge=0.0, le=1.0)


@dataclasses.dataclass(frozen=True)
class ColourPerturbation:
    enabled: bool = param(False, "recolour the arm and the floor")
    hue_shift: float = param(0.3, "fraction of the colour wheel every arm colour turns by",
                             ge=0.0, le=1.0)
    floor_rgba: tuple[float, float, float, float] = param((0.55, 0.45, 0.35, 1.0),
                                                          "floor colour multiplier", ge=0.0, le=1.0)


@dataclasses.dataclass(frozen=True)
class DropoutPerturbation:
    enabled: bool = param(False, "the camera sends black frames for a span of control steps")
    start_step: int = param(20, "first control step with a black frame", ge=0)
    steps: int = param(10, "number of black frames", ge=1)


@dataclasses.dataclass(frozen=True)
class PushPerturbation:
    enabled: bool = param(False, "an external force pushes one link for a span of control steps")
    start_step: int = param(15, "first control step of the push", ge=0)
    steps: int = param(2, "control steps the force lasts", ge=1)
    force: tuple[float, float, float] = param((0.0, 60.0, 0.0), "world-frame force (N)")
    link: str = param("forearm_link", "link the force acts on (at its origin)")


@dataclasses.dataclass(frozen=True)
class ObjectColourPerturbation:
    enabled: bool = param(False, "push task: paint the object another colour")
    rgba: tuple[float, float, float, float] = param((0.15, 0.55, 0.90, 1.0), "its colour",
                                                    ge=0.0, le=1.0)


@dataclasses.dataclass(frozen=True)
class ObjectScalePerturbation:
    enabled: bool = param(False, "push task: scale one property of the object")
    scales: tuple[float, float] = param((0.8, 1.2), "factors; episodes alternate between them",
                                        gt=0.0, le=5.0)


@dataclasses.dataclass(frozen=True)
class Perturbations:
    """Out-of-distribution conditions for evaluation; each one switchable on its own."""

    lighting: LightingPerturbation = param(LightingPerturbation(), "lighting change")
    camera_offset: CameraOffsetPerturbation = param(CameraOffsetPerturbation(),
                                                    "camera pose offset")
    distractor: DistractorPerturbation = param(DistractorPerturbation(), "distractor object")
    colour: ColourPerturbation = param(ColourPerturbation(), "colour change")
    dropout: DropoutPerturbation = param(DropoutPerturbation(), "camera dropout")
    push: PushPerturbation = param(PushPerturbation(), "external push")
    object_colour: ObjectColourPerturbation = param(ObjectColourPerturbation(),
                                                    "push task: object colour")
    object_size: ObjectScalePerturbation = param(ObjectScalePerturbation(), "push task: object "
                                                 "size (+-20%)")
    object_mass: ObjectScalePerturbation = param(ObjectScalePerturbation(scales=(0.5, 2.0)),
                                                 "push task: object mass (x0.5, x2)")
    object_friction: ObjectScalePerturbation = param(ObjectScalePerturbation(scales=(0.5, 2.0)),
                                                     "push task: object friction (x0.5, x2)")
    object_push: PushPerturbation = param(
        PushPerturbation(start_step=20, steps=1, force=(0.0, 3.5, 0.0), link="push_object"),
        "push task: something else shoves the object (about 6 cm)")

    @staticmethod
    def names() -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(Perturbations))

    def enabled(self) -> tuple[str, ...]:
        return tuple(n for n in self.names() if getattr(self, n).enabled)

    def only(self, *names: str) -> Perturbations:
        """These perturbations switched on and every other one off."""
        unknown = set(names) - set(self.names())
        if unknown:
            raise ConfigError(f"unknown perturbation(s) {sorted(unknown)}; choose from "
                              f"{', '.join(self.names())}")
        return Perturbations(**{
            n: dataclasses.replace(getattr(self, n), enabled=n in names) for n in self.names()})


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """The embedded MuJoCo arm."""

    robot: str = param("config/robots/wmp_arm.yaml", "robot config file")
    image_width: int = param(64, "camera image width (px)", ge=8, le=4096)
    image_height: int = param(64, "camera image height (px)", ge=8, le=4096)
    control_period: float = param(0.1, "seconds between commands (and observations)",
                                  gt=0.0, le=1.0)
    physics_timestep: float = param(0.002, "MuJoCo integration step (s)", gt=0.0, le=0.01)
    position_gain: float = param(300.0, "servo stiffness of every joint (N m/rad)", gt=0.0)
    damping_ratio: float = param(1.0, "servo damping relative to critical", gt=0.0, le=5.0)
    shadows: bool = param(True, "render shadows (a depth cue for the camera)")

    def __post_init__(self) -> None:
        steps = self.control_period / self.physics_timestep
        if abs(steps - round(steps)) > 1e-6 or round(steps) < 1:
            raise ConfigError(f"control_period ({self.control_period}) must be a whole multiple "
                              f"of physics_timestep ({self.physics_timestep})")


@dataclasses.dataclass(frozen=True)
class ReachTaskConfig:
    """Reach task: drive the tool to where it is in a goal image."""

    episode_steps: int = param(60, "control steps per episode", ge=1)
    success_radius: float = param(0.03, "tool within this distance of the goal is success (m)",
                                  gt=0.0)
    joint_margin: float = param(0.25, "goals and starts stay this far inside joint limits (rad)",
                                ge=0.0)
    min_tool_height: float = param(0.08, "goal tool height above the floor (m)", ge=0.0)
    min_goal_distance: float = param(0.12, "start tool to goal tool distance at least (m)",
                                     ge=0.0)
    image_margin: float = param(0.08, "goal tool stays this fraction inside the image border",
                                ge=0.0, lt=0.5)
    yaw_range: float = param(1.4, "goal base yaw within +- this (rad), facing the camera", gt=0.0)


@dataclasses.dataclass(frozen=True)
class PushObjectConfig:
    """The rigid object the arm pushes: defined once here, drawn in MuJoCo and in Gazebo."""

    shape: Literal["box", "tee"] = param(
        "box", "box: a block whose footprint is length x width; tee: a T (the bar is length x "
        "width, the stem stem_length x width), whose orientation matters")
    length: float = param(0.08, "footprint along the object's x axis (m)", gt=0.0, le=0.5)
    width: float = param(0.08, "footprint along its y axis (m); the tee's bar and stem width",
                         gt=0.0, le=0.5)
    height: float = param(0.05, "height (m)", gt=0.0, le=0.3)
    stem_length: float = param(0.08, "tee only: stem length below the bar (m)", gt=0.0, le=0.5)
    mass: float = param(0.3, "mass (kg)", gt=0.0, le=20.0)
    friction: float = param(0.4, "sliding friction coefficient against the floor and the arm",
                            gt=0.0, le=3.0)
    rgba: tuple[float, float, float, float] = param((0.80, 0.15, 0.65, 1.0), "colour",
                                                    ge=0.0, le=1.0)

    @property
    def symmetry(self) -> int:
        """Turns of 360/n degrees that leave the footprint unchanged (yaw is known modulo
        those): 4 for a square block, 2 for an oblong one, 1 for a tee."""
        if self.shape == "tee":
            return 1
        return 4 if abs(self.length - self.width) < 1e-9 else 2


@dataclasses.dataclass(frozen=True)
class PushTaskConfig:
    """Push task: move the object to where a goal image shows it, pushing with the arm's links."""

    object: PushObjectConfig = param(PushObjectConfig(), "the pushed object")
    camera: str = param("table_camera", "camera sensor (in the URDF) the task is seen through; "
                        "empty: the robot config's camera")
    rest_pose: list[float] = param(
        [0.0, -0.6, 2.3, 1.4], "joint positions (robot config order) where the arm starts each "
        "episode and is drawn in goal images, clear of the floor and the workspace")
    radius: tuple[float, float] = param((0.25, 0.45), "object starts and goals lie this far "
                                        "from the base axis (m), min and max", ge=0.0)
    bearing: float = param(0.7, "and within +- this angle (rad) of the base's x axis", gt=0.0,
                           le=3.2)
    min_goal_distance: float = param(0.08, "object start to goal distance at least (m)", ge=0.0)
    max_goal_distance: float = param(0.22, "and at most (m)", gt=0.0)
    episode_steps: int = param(80, "control steps per episode", ge=1)
    success_radius: float = param(0.03, "object centre within this distance of the goal (m)",
                                  gt=0.0)
    success_yaw: float = param(15.0, "and, for shapes whose orientation matters (symmetry 1), "
                               "yaw within this many degrees", gt=0.0, le=180.0)
    image_margin: float = param(0.04, "the object's footprint stays this fraction of the image "
                                "inside its border", ge=0.0, lt=0.5)


@dataclasses.dataclass(frozen=True)
class SimNodeParams:
    """How the mujoco_sim node runs the simulator behind ROS topics."""

    joint_state_rate: float = param(50.0, "joint_states publish rate (Hz)", gt=0.0, le=1000.0)
    camera_rate: float = param(10.0, "camera/image_raw publish rate (Hz)", gt=0.0, le=240.0)
    real_time_factor: float = param(1.0, "simulated seconds per wall second (0: as fast as "
                                    "possible)", ge=0.0)
    publish_clock: bool = param(True, "publish /clock with simulation time")
    task_enabled: bool = param(True, "cycle seeded reach goals on task/goal_image, "
                               "task/goal_joints and report each on task/result")
    goals: int = param(0, "goals before the node stops publishing new ones (0: forever)", ge=0)
    seed: int = param(0, "seed of the task sequence", ge=0)
    settle_steps: int = param(3, "control periods within the success radius that end a goal",
                              ge=1)
    camera_frame: str = param("scene_camera_optical_frame", "frame_id of camera messages")
    start_on_command: bool = param(False, "hold the first goal's clock until the first command "
                                   "arrives, so a planner still loading does not lose it")
    reset_hold: float = param(0.1, "after the reset to each next goal, hold the arm at its "
                              "start for this long (s) and drop commands, which were planned on "
                              "the previous goal's frames; the goal's clock starts after it",
                              ge=0.0)
    lockstep: bool = param(False, "after each camera frame, wait for the command that answers "
                           "it before simulating on, so each command acts from the frame it was "
                           "planned on, as in training; the first goal waits at time zero and "
                           "each next goal starts at its reset, without reset_hold (wmp run and "
                           "the mujoco launch set it for the planner; a commander that does not "
                           "answer frames should not)")
    lockstep_timeout: float = param(30.0, "wall seconds to wait for that command before "
                                    "simulating on without waiting, until commands come again",
                                    gt=0.0)


@dataclasses.dataclass(frozen=True)
class SimulationConfig:
    """config/sim.yaml (the mujoco_sim node's parameter file): simulator, task, perturbations."""

    task: Literal["reach", "push"] = param(
        "reach", "which task the simulator poses: reach (the tool to where a goal image shows "
        "it) or push (an object on the floor to where a goal image shows it)")
    sim: SimConfig = param(SimConfig(), "simulator")
    reach: ReachTaskConfig = param(ReachTaskConfig(), "reach task (goal sampling, episode length)")
    push: PushTaskConfig = param(PushTaskConfig(), "push task: the object, its workspace, goals")
    perturbations: Perturbations = param(Perturbations(), "out-of-distribution conditions")
    node: SimNodeParams = param(SimNodeParams(), "ROS node behaviour (mujoco_sim only)")

    @property
    def episode_steps(self) -> int:
        """Control steps per episode of the selected task."""
        return self.push.episode_steps if self.task == "push" else self.reach.episode_steps

    @property
    def camera(self) -> str:
        """Camera the task is seen through (empty: the robot config's camera)."""
        return self.push.camera if self.task == "push" else ""


SIM_NODE = "mujoco_sim"

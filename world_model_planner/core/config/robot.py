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
"""The robot config (config/robots/<arm>.yaml): which arm and how it is driven."""

from __future__ import annotations

import dataclasses
from typing import Literal

from .cell import SimCellConfig
from .schema import param


@dataclasses.dataclass(frozen=True)
class ControllerNames:
    position: str = param("forward_position_controller",
                          "ros2_control controller taking Float64MultiArray position commands")
    trajectory: str = param("joint_trajectory_controller",
                            "ros2_control controller taking JointTrajectory commands")
    active: Literal["position", "trajectory"] = param(
        "position", "which of the two the arm's driver activates at start-up (the other may be "
        "loaded inactive, as ur_robot_driver loads forward_position_controller): what "
        "command_interface:=auto commands")


@dataclasses.dataclass(frozen=True)
class DriverConfig:
    """What the arm's own driver does (mode:=real), so the launch starts nothing beside it."""

    publishes_description: bool = param(
        False, "the driver runs its own robot_state_publisher (robot_description and TF), as "
        "ur_robot_driver and franka_bringup do: robot_state_publisher:=auto then starts none")


@dataclasses.dataclass(frozen=True)
class RobotConfig:
    """config/robots/<arm>.yaml: which arm, where its description lives and how it is driven."""

    name: str = param("wmp_arm", "arm name, used in model metadata and logs")
    description: str = param("description/wmp_arm.urdf",
                             "URDF with joints, limits and frames (relative to the package share)")
    joints: list[str] = param([], "joints the planner commands, in command order "
                              "(empty: every moving joint of the URDF, root first)")
    base_frame: str = param("base_link", "frame of goal poses and tool positions")
    tool_frame: str = param("tool_link", "frame whose position is the reach target")
    camera: str = param("scene_camera", "camera sensor name in the URDF")
    velocity_scale: float = param(0.6, "fraction of each URDF velocity limit the planner may use",
                                  gt=0.0, le=1.0)
    acceleration_limit: float = param(8.0, "joint acceleration limit for commands (rad/s^2)",
                                      gt=0.0)
    position_margin: float = param(0.05, "commands stay this far inside the URDF limits (rad)",
                                   ge=0.0, le=0.5)
    path_tolerance: float = param(
        0.3, "a joint measured this far (rad) from the last command was moved by something else "
        "(a simulator reset, hand guiding, a collision): control restarts from where the arm is "
        "instead of pulling it back (like joint_trajectory_controller's path tolerance); 0: never",
        ge=0.0)
    controllers: ControllerNames = param(ControllerNames(), "ros2_control controller names")
    driver: DriverConfig = param(DriverConfig(), "what the arm's own driver does (mode:=real)")
    model: str = param("", "model folder trained on this arm (ONNX files + meta.json, relative "
                       "to the package share), loaded when the launch gets no model:=; empty: "
                       "planner.model of config/planner.yaml")
    sim: SimCellConfig = param(SimCellConfig(), "the embedded simulator's cell: a scene camera "
                               "and the joint ranges of its tasks (simulator only)")

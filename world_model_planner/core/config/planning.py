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
"""Planner, evaluation and planner-node schemas (config/planner.yaml)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from .schema import param


@dataclasses.dataclass(frozen=True)
class CostWeights:
    """Terms of the planning cost, summed over the imagined steps."""

    latent_goal: float = param(0.2, "squared latent distance to the goal latent (image goals)",
                               ge=0.0)
    tool_goal: float = param(20.0, "tool distance to the goal (per m)", ge=0.0)
    joint_goal: float = param(10.0, "squared joint distance to the goal joints when known or "
                              "estimated (per rad^2): approach the goal in the configuration "
                              "it was shown in, not a mirrored one", ge=0.0)
    terminal: float = param(2.0, "extra weight of the last imagined step's goal terms", ge=0.0)
    smoothness: float = param(0.5, "squared change of action between steps (per bound^2)",
                              ge=0.0)
    joint_limit: float = param(50.0, "squared intrusion into the joint-limit margin (per rad^2)",
                               ge=0.0)
    limit_margin: float = param(0.15, "start of the joint-limit barrier inside the limits (rad)",
                                ge=0.0)
    disagreement: float = param(1.0, "ensemble disagreement (latent variance)", ge=0.0)


@dataclasses.dataclass(frozen=True)
class PushCostConfig:
    """The push task's goal terms (with a push model; the other terms come from planner.cost).

    The object term alone is flat until the arm touches the object, so an approach term pulls
    the tool to where a push towards the goal starts: behind the object as the model imagines
    it, on the line through the goal, at pushing height."""

    object_goal: float = param(20.0, "imagined object distance to the goal object (per m)",
                               ge=0.0)
    object_yaw: float = param(0.0, "imagined object turn away from the goal's, 1 - cos of the "
                              "angle (for objects whose orientation matters)", ge=0.0)
    approach: float = param(20.0, "tool distance to the point where a push towards the goal "
                            "starts (per m)", ge=0.0)
    latent_goal: float = param(0.0, "squared latent distance to the goal image's latent (it "
                               "also holds the arm's pose in the goal image)", ge=0.0)
    contact_offset: float = param(0.09, "that point's distance behind the object's centre (m): "
                                  "its half size plus the tool's radius and a margin", gt=0.0)
    tool_height: float = param(0.025, "that point's height above the floor (m)", ge=0.0)
    approach_fade: float = param(0.04, "the approach term fades out as the imagined object "
                                 "comes this close to the goal (m), so a placed object is left "
                                 "alone", gt=0.0)
    settle: float = param(1.0, "squared action (per bound^2) in the imagined steps where the "
                          "object is within approach_fade of the goal: once it is placed, the "
                          "arm stops instead of wandering into states the model has not seen",
                          ge=0.0)


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    algorithm: Literal["cem", "mppi"] = param("cem", "sampling-based optimiser")
    samples: int = param(256, "action sequences evaluated per iteration", ge=2, le=65536)
    iterations: int = param(3, "optimiser iterations per control step", ge=1, le=50)
    elites: int = param(32, "CEM: sequences that refit the sampling distribution", ge=1)
    temperature: float = param(0.1, "MPPI: softmax temperature relative to the cost spread",
                               gt=0.0)
    init_std: float = param(0.5, "initial sampling spread, fraction of the action bound",
                            gt=0.0, le=2.0)
    min_std: float = param(0.05, "smallest sampling spread, fraction of the action bound",
                           gt=0.0, le=2.0)
    momentum: float = param(0.1, "share of the previous mean kept at each refit", ge=0.0,
                            lt=1.0)
    warm_start: bool = param(True, "start from the previous plan shifted by one step")
    seed: int = param(0, "sampling seed", ge=0)
    prior_samples: int = param(64, "samples drawn around a primitive's proposed sequence where "
                               "the task has one (push: the scripted push on the object the "
                               "model perceives); 0: none", ge=0)
    prior_std: float = param(0.1, "spread of those samples, fraction of the action bound",
                             gt=0.0, le=2.0)


@dataclasses.dataclass(frozen=True)
class SurpriseConfig:
    enabled: bool = param(True, "compare each observation with the model's prediction of it")
    reground_scale: float = param(1.0, "multiplier of the calibrated re-ground threshold",
                                  gt=0.0)
    hold_scale: float = param(1.0, "multiplier of the calibrated hold threshold", gt=0.0)
    hold_after: int = param(3, "consecutive steps above the hold threshold before holding",
                            ge=1)
    tracking: bool = param(True, "also compare measured joints with the position loop's "
                                 "calibrated answer to the last command (pushes, collisions)")
    camera_check: float = param(0.45, "push models: mean difference (rad) between the joints "
                                "the image alone shows and the measured ones up to which the "
                                "camera counts as working, so a surprise is the world's (the "
                                "object moved otherwise than imagined: re-ground) and not the "
                                "camera's (keep imagining); 0: blame the camera whenever the "
                                "joints agree", ge=0.0)


@dataclasses.dataclass(frozen=True)
class PlannerConfig:
    """The latent MPC planner (planner node parameters, `wmp eval`, `wmp bench`)."""

    model: str = param("models/wmp_arm_reach", "model folder (ONNX files + meta.json)")
    robot: str = param("config/robots/wmp_arm.yaml", "robot config file")
    backend: Literal["onnx", "torch"] = param("onnx", "inference engine")
    providers: str = param("auto", "ONNX Runtime providers: auto, or a list like cuda,cpu")
    threads: int = param(0, "inference threads (0: the cores this process may use)", ge=0)
    batch_shards: bool = param(True, "ONNX Runtime on the CPU: run each batched call as one "
                               "single-threaded slice of the batch per thread, side by side "
                               "(false: one call over ONNX Runtime's intra-op threads)")
    torch_device: str = param("cpu", "backend torch only: cpu, cuda or cuda:N")
    cuda_graphs: bool = param(True, "backend torch on a GPU: replay each network call as a "
                              "captured CUDA graph (a few launches instead of dozens)")
    fused: bool = param(True, "backend torch: run the whole optimisation (sampling, rollouts, "
                        "cost terms, refit) as torch code on torch_device, on a GPU replayed as "
                        "one CUDA graph per plan; false: the numpy optimiser between model calls")
    horizon: int = param(8, "imagined steps per plan (must equal the model's horizon)", ge=1)
    optimizer: OptimizerConfig = param(OptimizerConfig(), "CEM / MPPI settings")
    cost: CostWeights = param(CostWeights(), "cost terms")
    push: PushCostConfig = param(PushCostConfig(), "push task goal terms (push models)")
    surprise: SurpriseConfig = param(SurpriseConfig(), "surprise monitor")
    refine_goal: bool = param(True, "image goals: re-estimate the goal joints each step from the "
                              "difference between the current and the goal image")
    goal_smoothing: float = param(0.7, "image goals: weight of the previous goal estimate in each "
                                  "update (0: use each step's estimate as it is)", ge=0.0, lt=1.0)


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """`wmp eval`: which methods, conditions and episodes."""

    episodes: int = param(50, "episodes per method and condition", ge=1)
    seed: int = param(1000, "seed of the held-out tasks (collection uses others)", ge=0)
    methods: tuple[str, ...] = param(("wm_cem", "wm_mppi", "oracle", "random", "p_controller"),
                                     "methods to run")
    conditions: tuple[str, ...] = param(
        ("nominal", "lighting", "camera_offset", "distractor", "colour", "dropout", "push"),
        "conditions to run")
    settle_steps: int = param(3, "steps within the success radius that end an episode", ge=1)
    p_gain: float = param(0.5, "P-controller: share of the joint error closed per step",
                          gt=0.0, le=1.0)
    detection_window: int = param(3, "control steps within which an event must be flagged",
                                  ge=1)
    oracle_threads: int = param(2, "MuJoCo rollout threads of the oracle", ge=1)


@dataclasses.dataclass(frozen=True)
class WatchdogConfig:
    camera_timeout: float = param(0.2, "camera silent longer than this (s) holds the arm", gt=0.0)
    joint_state_periods: float = param(2.0, "joint states silent for this many control periods "
                                       "hold the arm", gt=0.0)
    resume_on_fresh_data: bool = param(True, "resume commanding when fresh data returns "
                                       "(false: stay held until deactivated and re-activated)")


@dataclasses.dataclass(frozen=True)
class PlannerNodeConfig:
    """config/planner.yaml: the planner node's parameters (ROS parameter file, node `planner`)."""

    planner: PlannerConfig = param(PlannerConfig(), "planner, model and robot")
    task: Literal["", "reach", "push"] = param(
        "", "the task to plan: reach (the tool to where the goal image shows it) or push (the "
        "object to where the goal image shows it); the model's meta.json must name the same "
        "task, or the node refuses to start; empty: the model's task")
    command_interface: Literal["position", "trajectory"] = param(
        "position", "position: Float64MultiArray to the forward position controller; trajectory: "
        "JointTrajectory to the joint trajectory controller")
    control_rate: float = param(0.0, "control loop rate (Hz); 0: the model's own rate (it was "
                                "trained at one control period)", ge=0.0, le=1000.0)
    autostart: bool = param(False, "configure and activate on start-up (sim); real arms are "
                            "activated by an operator")
    trigger_on_image: bool = param(True, "run each control step on the first camera frame due "
                                   "for it, so plans start from the newest image; a timer "
                                   "takes over when frames stop (false: the timer alone)")
    publish_imagined: bool = param(True, "publish ~/imagined_path markers and ~/imagined_image")
    imagined_image_every: int = param(5, "decode the imagined image every N control steps",
                                      ge=1)
    diagnostics_rate: float = param(1.0, "/diagnostics rate (Hz)", gt=0.0, le=50.0)
    watchdog: WatchdogConfig = param(WatchdogConfig(), "stale-data watchdog")
    velocity_scale: float = param(0.0, "cap on the robot config's velocity_scale for command "
                                  "limits (0: no cap); real mode caps it at 0.3", ge=0.0, le=1.0)
    synchronous_commands: bool = param(False, "the driver applies each command from the instant "
                                       "of the frame it answers and sends a joint state with "
                                       "every frame (the embedded simulator with node.lockstep; "
                                       "wmp run sets it): only then is the position-loop push "
                                       "check (planner.surprise.tracking) used")


PLANNER_NODE = "planner"

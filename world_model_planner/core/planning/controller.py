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
"""One control step of latent MPC, shared by the ROS planner node and `wmp eval`.

Per observation: one encoder call for the full observation, the joint state alone, and (image
goals) the current frame alone and the goal frame; the surprise monitor compares the observation
with what the model predicted for it and decides which belief to plan from; the planner optimises
from that belief; the command filter turns the first action into a safe absolute position command.
When the arm is found far from the last command (something else moved it), control restarts from
where it is.
Everything the ROS node publishes in diagnostics comes back in :class:`StepResult`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import PlannerConfig
from ..observation import Observation
from ..robot import Robot
from ..safety import (RESYNC, SURPRISE_CAMERA, SURPRISE_HOLD, SURPRISE_OK, SURPRISE_REGROUND,
                      CommandFilter, CommandLimits, SurpriseMonitor, SurpriseThresholds)
from .belief import reground
from .costs import Goal
from .planner import LatentPlanner, Plan, WorldModelBackend

FULL = np.array([1.0, 1.0], dtype=np.float32)
PROPRIO_ONLY = np.array([0.0, 1.0], dtype=np.float32)
IMAGE_ONLY = np.array([1.0, 0.0], dtype=np.float32)


def make_planner(model: WorldModelBackend, robot: Robot, cfg: PlannerConfig) -> Any:
    """The numpy optimiser, or (torch backend, `planner.fused`) the one on the model's device."""
    if cfg.backend == "torch" and cfg.fused:
        if getattr(model, "meta", {}).get("task") == "push":
            raise ValueError("planner.fused: the fused torch planner plans reach goals only; "
                             "set planner.fused: false for a push model")
        from .torch_planner import TorchPlanner

        return TorchPlanner(model, robot, cfg)  # type: ignore[arg-type]
    return LatentPlanner(model, robot, cfg)


@dataclass
class StepResult:
    command: np.ndarray  # (J,) absolute joint position targets, filtered
    held: bool
    # ok | camera_distrusted | reground | hold | resync | no_goal | <hold reason>
    decision: str
    surprise: float = float("nan")
    proprio_surprise: float = float("nan")
    tracking_surprise: float = float("nan")
    plan: Plan | None = None
    goal_tool: np.ndarray | None = None
    goal_joints: np.ndarray | None = None
    seconds: float = 0.0  # encode + plan
    filter_reasons: tuple[str, ...] = ()
    terms: dict[str, float] = field(default_factory=dict)


class MPCController:
    """Latent MPC with belief tracking, goal estimation and the safety filter."""

    def __init__(self, model: WorldModelBackend, robot: Robot, cfg: PlannerConfig,
                 control_period: float, *, limits: CommandLimits | None = None,
                 surprise: SurpriseThresholds | None = None) -> None:
        if list(robot.joint_names) != list(model.joint_names):
            raise ValueError(f"model joints {list(model.joint_names)} differ from the robot's "
                             f"{list(robot.joint_names)}; use a model trained for this robot")
        self.model, self.robot, self.cfg = model, robot, cfg
        self.planner = make_planner(model, robot, cfg)
        self.filter = CommandFilter(limits or CommandLimits.from_robot(robot), control_period)
        self.monitor = (SurpriseMonitor(surprise, cfg.surprise.reground_scale,
                                        cfg.surprise.hold_scale, cfg.surprise.hold_after,
                                        cfg.surprise.tracking, cfg.surprise.camera_check)
                        if surprise is not None and cfg.surprise.enabled else None)
        self.joints = robot.dof
        # A push model holds the object: goal images are read for the object's pose, and while
        # the camera is out the belief is imagined forward instead of re-encoded without it.
        self.push = bool(getattr(model, "meta", {}).get("task") == "push")
        self._proprio_std = np.asarray(getattr(model, "meta", {}).get("proprio", {}).get(
            "std", np.ones(2 * robot.dof)), dtype=np.float64)
        self.goal: Goal | None = None
        self._goal_image: np.ndarray | None = None
        self._goal_image_joints: np.ndarray | None = None  # proprio head on the goal image alone
        self._belief: np.ndarray | None = None
        # The last command as sent: (qpos, qvel) it was planned from and its step (rad).
        self._sent: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._reset_pending = True

    # -- goals -----------------------------------------------------------------------------

    def set_goal_joints(self, joints: np.ndarray) -> None:
        q = np.clip(np.asarray(joints, dtype=np.float64), self.robot.lower, self.robot.upper)
        self.goal = Goal(self.robot.tool_positions(q), joints=q, kind="joints")
        self._goal_image = None
        self.planner.reset()

    def set_goal_tool(self, position: np.ndarray) -> None:
        self.goal = Goal(np.asarray(position, dtype=np.float64), kind="tool")
        self._goal_image = None
        self.planner.reset()

    def set_goal_image(self, image: np.ndarray) -> None:
        image = np.asarray(image, dtype=np.uint8)
        z = self.model.encode(image[None], np.zeros((1, 2 * self.joints), np.float32),
                              IMAGE_ONLY[None])
        if self.push:  # where the goal image shows the object is the goal
            self._goal_image = None
            self.goal = Goal(None, latent=z[0], kind="push", object=self.model.object(z)[0])
            self.planner.reset()
            return
        q = np.clip(self.model.proprio(z)[0, : self.joints], self.robot.lower, self.robot.upper)
        self._goal_image = image
        self._goal_image_joints = q
        self.goal = Goal(self.robot.tool_positions(q), joints=q, latent=None, kind="image")
        self.planner.reset()

    def clear_goal(self) -> None:
        self.goal = None
        self._goal_image = None

    # -- control ---------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        """Forget belief, plan and filter state (start, after e-stop, after a hold request);
        `seed` restarts the optimiser's random draws (seeded evaluation episodes)."""
        self._belief = None
        self._sent = None
        self._reset_pending = True
        self.planner.reset(seed)
        if self.monitor is not None:
            self.monitor.reset()

    def hold(self, qpos: np.ndarray, reason: str, *, measured_is_fresh: bool = False
             ) -> StepResult:
        """A hold command (watchdog, e-stop, no goal) that keeps the filter's state consistent.

        A hold is a controlled stop of the last command, unless `qpos` is a fresh measurement
        further from that command than one step at the velocity limit (a driver or simulator
        restarted with the arm elsewhere, hand guiding): then the hold starts where the arm is,
        because re-sending the old command would make the arm jump back to it.
        """
        if self._reset_pending or (measured_is_fresh and self.filter.out_of_step(qpos)):
            self.filter.reset(qpos)
            self._reset_pending = False
        result = self.filter.hold(qpos, reason)
        self._belief = None
        self._sent = None
        self.planner.reset()
        return StepResult(result.command, True, reason, filter_reasons=result.reasons)

    def predicted_joint_state(self) -> np.ndarray | None:
        """Joint positions and velocities the model expects at the next observation.

        What the surprise monitor's prediction means in joint terms, for diagnosing false alarms
        (bench/actuation_delay.py); None until a command has been planned."""
        if self._belief is None or self._sent is None:
            return None
        latent = self.planner.predict_next(self._belief, self._sent[2])
        return self.model.proprio(np.asarray(latent, np.float32).reshape(1, -1))[0]

    def step(self, obs: Observation) -> StepResult:
        started = time.perf_counter()
        qpos = np.asarray(obs.qpos, dtype=np.float64)
        resync = not self._reset_pending and self.filter.off_path(qpos)
        if resync:  # something else moved the arm: its last command and our belief are stale
            self.reset()
        if self._reset_pending:
            self.filter.reset(qpos)
            self._reset_pending = False
        js = np.concatenate([obs.qpos, obs.qvel]).astype(np.float32)
        image_goal = self.goal is not None and self.goal.kind == "image"
        images = [obs.image, obs.image, np.zeros_like(obs.image)]
        states = [js, np.zeros_like(js), js]
        masks = [FULL, IMAGE_ONLY, PROPRIO_ONLY]
        if image_goal and self.goal is not None and self.goal.joints is not None:
            images.append(self._goal_image)
            states.append(np.concatenate([self.goal.joints, np.zeros(self.joints)]).astype(
                np.float32))
            masks.append(FULL)
        latents = self.model.encode(np.stack(images), np.stack(states), np.stack(masks))
        z_full, z_image, z_prop = latents[0], latents[1], latents[2]

        decision, s_full, s_prop, s_track = (RESYNC if resync else SURPRISE_OK, math.nan,
                                             math.nan, math.nan)
        if self._belief is not None and self._sent is not None and self.monitor is not None:
            q0, v0, executed = self._sent
            predicted = self.planner.predict_next(self._belief, executed)
            if self.monitor.tracking is not None:
                s_track = self.monitor.tracking_score(
                    q0, v0, executed, qpos, float(self.robot.tool_positions(qpos)[2]))
            report = self.monitor.assess(predicted, z_full, z_prop, s_track,
                                         self._camera_error(z_image, qpos))
            decision, s_full, s_prop = report.decision, report.score, report.proprio_score
        if decision == SURPRISE_CAMERA:
            belief = self._camera_out_belief(z_prop, js)
        else:
            belief = z_full
        if decision == SURPRISE_REGROUND:
            self.planner.reset()
        if decision == SURPRISE_HOLD:
            result = self.hold(qpos, SURPRISE_HOLD)
            result.surprise, result.proprio_surprise = s_full, s_prop
            result.tracking_surprise = s_track
            return result
        if self.goal is None:
            result = self.hold(qpos, "no_goal")
            result.surprise, result.proprio_surprise = s_full, s_prop
            result.tracking_surprise = s_track
            return result

        goal = self.goal
        if image_goal:
            if len(latents) > 3:
                goal.latent = latents[3]
            if self.cfg.refine_goal and decision != SURPRISE_CAMERA:
                # The image-only joint estimate errs alike on similar frames, so the difference
                # between the current and the goal frame is accurate where it matters: near the
                # goal. Add it to the measured joints.
                q_now = self.model.proprio(z_image[None])[0, : self.joints]
                estimate = np.clip(qpos + (self._goal_image_joints - q_now), self.robot.lower,
                                   self.robot.upper)
                # Each frame's estimate is noisy; a running average keeps the target still.
                keep = self.cfg.goal_smoothing if goal.joints is not None else 0.0
                goal.joints = keep * goal.joints + (1 - keep) * estimate
                goal.tool_position = self.robot.tool_positions(goal.joints)
        plan = self.planner.plan(belief, goal, use_latent_goal=decision != SURPRISE_CAMERA,
                                 qpos=qpos)
        tool_goal = None if goal.tool_position is None else goal.tool_position.copy()
        filtered = self.filter.filter(qpos + plan.action, qpos)
        self._belief = belief
        self._sent = (qpos, np.asarray(obs.qvel, dtype=np.float64),
                      (filtered.command - qpos).astype(np.float32))
        return StepResult(filtered.command, filtered.held, decision, s_full, s_prop, s_track, plan,
                          tool_goal, None if goal.joints is None else goal.joints.copy(),
                          time.perf_counter() - started, filtered.reasons, plan.terms)

    def _camera_error(self, z_image: np.ndarray, qpos: np.ndarray) -> float:
        """Mean |joints the image alone shows - measured joints| (rad): small while the camera
        sees the arm; nan for reach models, whose joint-only belief holds all they plan on."""
        if not self.push:
            return math.nan
        seen = self.model.proprio(np.asarray(z_image, np.float32)[None])[0, : self.joints]
        return float(np.mean(np.abs(seen - qpos)))

    def _camera_out_belief(self, z_prop: np.ndarray, joint_state: np.ndarray) -> np.ndarray:
        """What to plan from while the camera is not trusted. Reach: the joint-only encoding,
        which holds all the arm's state. Push: the belief imagined one step on with the command
        sent, re-grounded on the measured joints, since only the model knows the object now."""
        if not self.push or self._belief is None or self._sent is None:
            return z_prop
        predicted = self.planner.predict_next(self._belief, self._sent[2])
        return reground(predicted, joint_state, self.model.proprio, self._proprio_std,
                        keep=self.model.object)

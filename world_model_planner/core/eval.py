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
"""`wmp eval`: seeded held-out reach or push tasks for world-model MPC and its reference points.

Methods, all commanding through the same safety filter:
* wm_cem, wm_mppi: the deployed controller (latent MPC from the goal image alone);
* oracle: the same optimiser and cost with MuJoCo as the model and the true goal;
* p_controller (reach): a joint-space P-controller given the true goal joints (no learning);
* scripted (push): a scripted pusher given the true object pose (perfect state, no learning);
* perceived_scripted (push): the same pusher on the object pose the push model reads from each
  frame and from the goal image (the model's perception, none of its imagination): what the
  planner's proposals would do alone;
* reach_model (push): the reach model's planner given the goal image, as the package did before
  it had a push model (it sees the scene camera it was trained on);
* random: uniform random joint deltas.

Conditions: nominal, and every simulator perturbation. Episode i of every method and condition
starts from the same seeded start and goal, so differences are paired. An episode succeeds when the
tool stays within the success radius for `settle_steps` steps (or is within it at the step
limit). Camera-dropout and push episodes also record whether the surprise monitor flagged the event
within `detection_window` control steps; nominal episodes count false alarms.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import EvalConfig, Perturbations, PlannerConfig, SimulationConfig
from .data.collect import episode_seed
from .observation import Observation
from .safety import CommandFilter, CommandLimits

log = logging.getLogger(__name__)

CONDITIONS = ("nominal", "lighting", "camera_offset", "distractor", "colour", "dropout", "push")
METHODS = ("wm_cem", "wm_mppi", "oracle", "random", "p_controller")
PUSH_CONDITIONS = ("nominal", "lighting", "camera_offset", "distractor", "object_colour",
                   "object_size", "object_mass", "object_friction", "dropout", "object_push")
PUSH_METHODS = ("wm_cem", "wm_mppi", "oracle", "scripted", "perceived_scripted", "reach_model",
                "random")
VISUAL_CONDITIONS = ("lighting", "camera_offset", "distractor", "colour", "dropout",
                     "object_colour")


@dataclass
class EpisodeResult:
    method: str
    condition: str
    index: int
    seed: int
    success: bool
    final_error: float
    min_error: float
    steps: int
    start_error: float
    latency_ms: list[float] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    event_step: int | None = None
    detected_step: int | None = None
    shared_with: str | None = None  # the episode is bit-identical to this condition's

    @property
    def flags(self) -> list[bool]:
        return [d not in ("ok", "") for d in self.decisions]


class Policy:
    """Chooses joint position commands; `needs_images` tells the runner to render."""

    name = "policy"
    needs_images = True

    def start(self, goal: Any, obs: Observation, seed: int) -> None:
        """A new episode; `seed` (the episode's) restarts any random draws, so an episode plays
        the same whether it runs alone or after others."""

    def act(self, obs: Observation) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError


class FilteredPolicy(Policy):
    """A baseline whose joint deltas go through the same command filter as the planner's."""

    def __init__(self, limits: CommandLimits, period: float, bound: np.ndarray) -> None:
        self.filter = CommandFilter(limits, period)
        self.bound = bound

    def start(self, goal: Any, obs: Observation, seed: int) -> None:
        self.filter.reset(obs.qpos)
        self.goal = goal

    def delta(self, obs: Observation) -> np.ndarray:
        raise NotImplementedError

    def act(self, obs: Observation) -> tuple[np.ndarray, dict[str, Any]]:
        started = time.perf_counter()
        delta = np.clip(self.delta(obs), -self.bound, self.bound)
        command = self.filter.filter(obs.qpos + delta, obs.qpos).command
        return command, {"seconds": time.perf_counter() - started}


class RandomPolicy(FilteredPolicy):
    name, needs_images = "random", False

    def start(self, goal: Any, obs: Observation, seed: int) -> None:
        super().start(goal, obs, seed)
        self.rng = np.random.default_rng(seed)

    def delta(self, obs: Observation) -> np.ndarray:
        return self.rng.uniform(-self.bound, self.bound)


class PControllerPolicy(FilteredPolicy):
    name, needs_images = "p_controller", False

    def __init__(self, *args: Any, gain: float = 0.5) -> None:
        super().__init__(*args)
        self.gain = gain

    def delta(self, obs: Observation) -> np.ndarray:
        return self.gain * (self.goal.joints - obs.qpos)


class OraclePolicy(FilteredPolicy):
    name, needs_images = "oracle", False

    def __init__(self, limits: CommandLimits, period: float, bound: np.ndarray, world: Any,
                 planner_cfg: PlannerConfig, threads: int) -> None:
        super().__init__(limits, period, bound)
        from .planning.costs import Goal
        from .planning.oracle import OraclePlanner

        self._goal_type = Goal
        self.planner = OraclePlanner(world, planner_cfg, bound, threads)

    def start(self, goal: Any, obs: Observation, seed: int) -> None:
        super().start(goal, obs, seed)
        self.planner.reset(seed)
        if hasattr(goal, "object_pose"):  # push: the true goal pose as object features
            x, y, yaw = goal.object_pose
            k = self.planner.symmetry
            features = np.array([x, y, np.cos(k * yaw), np.sin(k * yaw)])
            self._goal = self._goal_type(None, kind="push", object=features)
        else:
            self._goal = self._goal_type(goal.tool_position, joints=goal.joints, kind="tool")

    def delta(self, obs: Observation) -> np.ndarray:
        return self.planner.plan(self._goal)


class WorldModelPolicy(Policy):
    """The deployed controller, given only the goal image."""

    def __init__(self, controller: Any, name: str) -> None:
        self.controller = controller
        self.name = name

    def start(self, goal: Any, obs: Observation, seed: int) -> None:
        self.controller.reset(seed)
        self.controller.set_goal_image(goal.image)

    def act(self, obs: Observation) -> tuple[np.ndarray, dict[str, Any]]:
        result = self.controller.step(obs)
        return result.command, {"seconds": result.seconds, "decision": result.decision,
                                "result": result}


class ScriptedPushPolicy(FilteredPolicy):
    """The scripted pusher given the object's true pose and size: no learning, perfect state."""

    name, needs_images = "scripted", False

    def __init__(self, limits: CommandLimits, period: float, bound: np.ndarray, world: Any) -> None:
        super().__init__(limits, period, bound)
        from .sim.push_object import bounding_radius
        from .sim.pushing import ScriptedPusher, ToolIK

        self.world = world
        lower, upper = world.robot.limits_with_margin()
        self.ik = ToolIK(world.robot, lower, upper)
        self.radius = bounding_radius(world.push_object)
        self._make = lambda radius: ScriptedPusher(world.robot, self.ik, bound, radius)

    def start(self, goal: Any, obs: Observation, seed: int) -> None:
        super().start(goal, obs, seed)
        scale = self.world.object_editor.look.size_scale
        self.pusher = self._make(self.radius * scale)

    def delta(self, obs: Observation) -> np.ndarray:
        return self.pusher.act(obs.qpos, self.world.object_pose(), self.goal.object_pose[:2])


class PerceivedScriptedPolicy(ScriptedPushPolicy):
    """The scripted pusher on the push model's readings: the object head on each frame (with
    the joint state) and on the goal image. No belief: a black frame is read as it is."""

    name, needs_images = "perceived_scripted", True

    def __init__(self, limits: CommandLimits, period: float, bound: np.ndarray, world: Any,
                 model: Any) -> None:
        super().__init__(limits, period, bound, world)
        self.model = model

    def _read(self, image: np.ndarray, joint_state: np.ndarray, mask: np.ndarray) -> np.ndarray:
        z = self.model.encode(image[None], joint_state[None].astype(np.float32), mask[None])
        return self.model.object(z)[0]

    def start(self, goal: Any, obs: Observation, seed: int) -> None:
        from .planning.controller import IMAGE_ONLY

        super().start(goal, obs, seed)
        self.target = self._read(goal.image, np.zeros(2 * len(obs.qpos)), IMAGE_ONLY)[:2]

    def delta(self, obs: Observation) -> np.ndarray:
        from .planning.controller import FULL

        seen = self._read(obs.image, np.concatenate([obs.qpos, obs.qvel]), FULL)
        return self.pusher.act(obs.qpos, np.array([seen[0], seen[1], 0.0]), self.target)


class ReachModelPolicy(WorldModelPolicy):
    """The reach model's controller on a push task: it sees the scene camera it was trained on
    (the goal image too is drawn from there), so it is given a fair look at the object."""

    needs_images = True  # its own camera's frames change with the visual conditions too

    def __init__(self, controller: Any, world: Any, rest_pose: np.ndarray, camera: str) -> None:
        super().__init__(controller, "reach_model")
        self.world, self.rest_pose, self.camera = world, rest_pose, camera

    def start(self, goal: Any, obs: Observation, seed: int) -> None:
        self.controller.reset(seed)
        self.controller.set_goal_image(self.world.render_camera(
            self.camera, self.rest_pose, goal.object_pose))

    def act(self, obs: Observation) -> tuple[np.ndarray, dict[str, Any]]:
        image = self.world.render_camera(self.camera)
        if self.world.camera_dropped():
            image = np.zeros_like(image)
        return super().act(Observation(image, obs.qpos, obs.qvel, obs.stamp))


def condition_perturbations(base: Perturbations, condition: str) -> Perturbations:
    if condition == "nominal":
        return base.only()
    if condition not in CONDITIONS + PUSH_CONDITIONS:
        raise ValueError(f"unknown condition '{condition}'; choose from "
                         f"{', '.join(dict.fromkeys(CONDITIONS + PUSH_CONDITIONS))}")
    return base.only(condition)


def event_step(perturbations: Perturbations) -> int | None:
    """Control step whose observation first shows the event (dropout frame, pushed state)."""
    if perturbations.dropout.enabled:
        return perturbations.dropout.start_step
    if perturbations.push.enabled:
        return perturbations.push.start_step + 1
    if perturbations.object_push.enabled:
        return perturbations.object_push.start_step + 1
    return None


class Evaluator:
    """Runs methods x conditions x episodes on one simulator."""

    def __init__(self, simulation: SimulationConfig, planner_cfg: PlannerConfig,
                 cfg: EvalConfig, model_folder: str | None = None,
                 on_episode: Callable[[EpisodeResult], None] | None = None) -> None:
        from .planning.backends import load_world_model
        from .sim.arm import simulator_for
        from .sim.push import PushTask
        from .sim.reach import ReachTask

        self.simulation, self.planner_cfg, self.cfg = simulation, planner_cfg, cfg
        self.sim = simulator_for(simulation)
        self.push = simulation.task == "push"
        self.task: Any = (PushTask(self.sim, simulation.push) if self.push
                          else ReachTask(self.sim, simulation.reach))
        self.robot = self.sim.robot
        self.period = simulation.sim.control_period
        self.limits = CommandLimits.from_robot(self.robot)
        self.on_episode = on_episode
        self._model = None
        self._model_folder = model_folder or planner_cfg.model
        self._load = load_world_model
        self._policies: dict[str, Policy] = {}
        self._nominal: dict[tuple[str, int], EpisodeResult] = {}

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = self._load(self._model_folder, self.planner_cfg, self.robot,
                                     (self.simulation.sim.image_height,
                                      self.simulation.sim.image_width))
        return self._model

    def bound(self) -> np.ndarray:
        if any(m.startswith("wm_") for m in self.cfg.methods):
            return np.asarray(self.model.action_bound, dtype=np.float64)
        return self.robot.action_bound(self.period)

    def policy(self, method: str) -> Policy:
        if method in self._policies:
            return self._policies[method]
        bound = self.bound()
        if method in ("wm_cem", "wm_mppi"):
            from .planning.controller import MPCController
            from .safety import SurpriseThresholds

            opt = dataclasses.replace(self.planner_cfg.optimizer,
                                      algorithm="cem" if method == "wm_cem" else "mppi")
            cfg = dataclasses.replace(self.planner_cfg, optimizer=opt)
            surprise = self.model.meta.get("surprise")
            controller = MPCController(
                self.model, self.robot, cfg, self.period, limits=self.limits,
                surprise=SurpriseThresholds.from_meta(surprise) if surprise else None)
            policy: Policy = WorldModelPolicy(controller, method)
        elif method == "oracle":
            policy = OraclePolicy(self.limits, self.period, bound, self.sim, self.planner_cfg,
                                  self.cfg.oracle_threads)
        elif method == "random":
            policy = RandomPolicy(self.limits, self.period, bound)
        elif method == "p_controller" and not self.push:
            policy = PControllerPolicy(self.limits, self.period, bound, gain=self.cfg.p_gain)
        elif method == "scripted" and self.push:
            policy = ScriptedPushPolicy(self.limits, self.period, bound, self.sim)
        elif method == "perceived_scripted" and self.push:
            policy = PerceivedScriptedPolicy(self.limits, self.period, bound, self.sim,
                                             self.model)
        elif method == "reach_model" and self.push:
            policy = self._reach_model_policy()
        else:
            choices = PUSH_METHODS if self.push else METHODS
            raise ValueError(f"unknown method '{method}' for the {self.simulation.task} task; "
                             f"choose from {', '.join(choices)}")
        self._policies[method] = policy
        return policy

    def _reach_model_policy(self) -> Policy:
        """The default reach model's controller, with the reach cost, on the scene camera."""
        from .config import PlannerConfig
        from .planning.controller import MPCController
        from .safety import SurpriseThresholds

        cfg = dataclasses.replace(self.planner_cfg, model=PlannerConfig().model, fused=False)
        sim = self.simulation.sim
        model = self._load(cfg.model, cfg, self.robot, (sim.image_height, sim.image_width))
        surprise = model.meta.get("surprise")
        controller = MPCController(model, self.robot, cfg, self.period, limits=self.limits,
                                   surprise=SurpriseThresholds.from_meta(surprise)
                                   if surprise else None)
        return ReachModelPolicy(controller, self.sim, self.task.rest_pose,
                                self.robot.config.camera)

    def run_episode(self, method: str, condition: str, index: int,
                    keep: list | None = None) -> EpisodeResult:
        """One episode; `keep` (if given) receives (observation, step info) per step.

        A method that never looks at the camera sees no difference between the nominal scene
        and a purely visual perturbation (lighting, camera, colour, distractor, dropout): the
        physics and every random draw are the same, so the episode is bit-identical. Those are
        run once, under nominal, and reported for each visual condition as shared."""
        policy = self.policy(method)
        if not policy.needs_images and condition in VISUAL_CONDITIONS and keep is None:
            key = (method, index)
            if key not in self._nominal:
                self._nominal[key] = self._run(method, "nominal", index, None, quiet=True)
            result = dataclasses.replace(self._nominal[key], condition=condition,
                                         shared_with="nominal")
            if self.on_episode is not None:
                self.on_episode(result)
            return result
        result = self._run(method, condition, index, keep)
        if not policy.needs_images and condition == "nominal":
            self._nominal[(method, index)] = result
        return result

    def _run(self, method: str, condition: str, index: int, keep: list | None,
             quiet: bool = False) -> EpisodeResult:
        sim, task, cfg = self.sim, self.task, self.cfg
        policy = self.policy(method)
        pert = condition_perturbations(self.simulation.perturbations, condition)
        seed = episode_seed(cfg.seed, index)
        rng = np.random.default_rng(seed)
        sim.set_perturbations(pert, variant=index)
        start, goal_at = task.sample_episode(rng)
        obs = task.reset(start) if self.push else sim.reset(start)
        goal = task.make_goal(goal_at)
        start_error = task.error(goal)
        policy.start(goal, obs, seed)
        event = event_step(pert)
        busy_until = 0
        if pert.dropout.enabled:
            busy_until = pert.dropout.start_step + pert.dropout.steps + cfg.detection_window
        for push in (pert.push, pert.object_push):
            if push.enabled:
                busy_until = push.start_step + push.steps + cfg.detection_window
        result = EpisodeResult(method, condition, index, seed, False, start_error, start_error,
                               0, start_error, event_step=event)
        inside = 0
        for step in range(self.simulation.episode_steps):
            command, info = policy.act(obs)
            result.latency_ms.append(1000.0 * info.get("seconds", 0.0))
            result.decisions.append(info.get("decision", ""))
            if keep is not None:
                keep.append((obs, info))
            obs = sim.step(command, render=policy.needs_images)
            error = task.error(goal)
            result.steps = step + 1
            result.final_error = error
            result.min_error = min(result.min_error, error)
            inside = inside + 1 if task.success(goal) else 0
            if inside >= cfg.settle_steps and step + 1 >= busy_until:
                result.success = True
                break
        else:
            result.success = task.success(goal)
        if event is not None:
            flagged = [i for i, f in enumerate(result.flags) if f and i >= event]
            result.detected_step = flagged[0] if flagged else None
        if self.on_episode is not None and not quiet:
            self.on_episode(result)
        return result

    def run(self, methods: Sequence[str] | None = None,
            conditions: Sequence[str] | None = None) -> list[EpisodeResult]:
        results = []
        for method in methods or self.cfg.methods:
            for condition in conditions or self.cfg.conditions:
                for index in range(self.cfg.episodes):
                    results.append(self.run_episode(method, condition, index))
        return results


def summarize(results: Sequence[EpisodeResult], cfg: EvalConfig) -> dict[str, Any]:
    """Success rates, errors, latency and surprise detection per method and condition."""
    table: dict[str, dict[str, Any]] = {}
    for r in results:
        table.setdefault(r.method, {}).setdefault(r.condition, []).append(r)
    out: dict[str, Any] = {}
    for method, by_condition in table.items():
        out[method] = {}
        for condition, eps in by_condition.items():
            errors = np.array([e.final_error for e in eps])
            latency = np.array([x for e in eps for x in e.latency_ms]) if eps else np.zeros(0)
            entry: dict[str, Any] = {
                "episodes": len(eps),
                "shared_with": eps[0].shared_with,
                "success_rate": float(np.mean([e.success for e in eps])),
                "final_error_median_m": float(np.median(errors)),
                "final_error_mean_m": float(np.mean(errors)),
                "steps_median": float(np.median([e.steps for e in eps])),
                "latency_p50_ms": float(np.percentile(latency, 50)) if len(latency) else None,
                "latency_p99_ms": float(np.percentile(latency, 99)) if len(latency) else None,
                "failures": [{"index": e.index, "seed": e.seed, "final_error_m": e.final_error}
                             for e in eps if not e.success],
            }
            if any(e.decisions and e.decisions[0] != "" for e in eps):
                with_event = [e for e in eps if e.event_step is not None]
                if with_event:
                    detected = [e.detected_step is not None
                                and e.detected_step - e.event_step < cfg.detection_window
                                for e in with_event]
                    entry["event_detection_rate"] = float(np.mean(detected))
                    delays = [e.detected_step - e.event_step for e in with_event
                              if e.detected_step is not None]
                    entry["detection_delay_median_steps"] = (float(np.median(delays)) if delays
                                                             else None)
                if condition == "nominal":
                    checked = sum(len(e.decisions) - 1 for e in eps)
                    alarms = sum(sum(e.flags[1:]) for e in eps)
                    entry["false_alarm_rate"] = alarms / max(1, checked)
                    entry["checked_steps"] = checked
            out[method][condition] = entry
    return out

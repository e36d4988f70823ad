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
"""`wmp bench --task push`: the push control step against the reach step, in one run.

The push planner has a larger model (an object head, a wider latent and dynamics) and more cost
terms, so the question is what a push step costs next to the reach step on the same machine at
the same moment: both are timed here, interleaved, on their own recorded closed loops, along
with the push step under torch eager and the fraction of the machine's matmul peak it reaches.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from typing import Any

import numpy as np

from ..core.config import PlannerConfig, SimulationConfig
from ..core.observation import Observation
from .planner import matmul_peak, model_flops

ROUNDS = 3  # reach and push alternate this many times, so both see the same machine


def _push_goal(simulation: SimulationConfig) -> np.ndarray:
    """The seeded push episode's goal image."""
    from ..core.sim.arm import simulator_for
    from ..core.sim.push import PushTask

    sim = simulator_for(simulation)
    try:
        task = PushTask(sim, simulation.push)
        _, goal = task.sample_episode(np.random.default_rng(0))
        return task.make_goal(goal).image
    finally:
        sim.close()


def _record_push(make: Any, simulation: SimulationConfig, count: int) -> list[Observation]:
    """A push closed loop from the seeded episode's start, the simulator closed afterwards
    (an open renderer slows the timed steps)."""
    from ..core.sim.arm import simulator_for
    from ..core.sim.push import PushTask

    sim = simulator_for(simulation)
    try:
        task = PushTask(sim, simulation.push)
        episode, _ = task.sample_episode(np.random.default_rng(0))
        return _loop(make, lambda: task.reset(episode), sim, count)
    finally:
        sim.close()


def _controller(model: Any, robot: Any, planner: PlannerConfig, period: float,
                goal_image: np.ndarray) -> Any:
    from ..core.planning.controller import MPCController
    from ..core.safety import SurpriseThresholds

    surprise = model.meta.get("surprise")
    c = MPCController(model, robot, dataclasses.replace(planner, fused=False), period,
                      surprise=SurpriseThresholds.from_meta(surprise) if surprise else None)
    c.set_goal_image(goal_image)
    return c


def _loop(make: Any, start: Any, sim: Any, count: int) -> list[Observation]:
    """Observations of `count` steps with the controller's commands moving the arm."""
    controller = make()
    obs = start()
    seen = []
    for _ in range(count):
        seen.append(obs)
        obs = sim.step(controller.step(obs).command)
    return seen


def _times(make: Any, observations: list[Observation], warmup: int) -> np.ndarray:
    from .planner import _step_latencies

    return _step_latencies(make(), observations, warmup)


def run(reach_planner: PlannerConfig, push_planner: PlannerConfig,
        simulation: SimulationConfig, *, steps: int = 100, warmup: int = 10) -> dict[str, Any]:
    from ..core.planning.backends import load_world_model
    from .planner import _scene

    reach_sim_cfg = dataclasses.replace(simulation, task="reach")
    push_sim_cfg = dataclasses.replace(simulation, task="push")
    period = simulation.sim.control_period
    rsim, rstart, rgoal = _scene(reach_sim_cfg)
    robot = rsim.robot
    reach = load_world_model(reach_planner.model, reach_planner, robot)
    make_reach = lambda: _controller(reach, robot, reach_planner, period, rgoal)  # noqa: E731
    reach_obs = _loop(make_reach, lambda: rsim.reset(rstart), rsim, warmup + steps)
    rsim.close()
    pgoal = _push_goal(push_sim_cfg)
    push = load_world_model(push_planner.model, push_planner, robot)
    if push.meta.get("task") != "push":
        raise ValueError(f"{push_planner.model}: not a push model (meta.json task: "
                         f"{push.meta.get('task', 'reach')}); pass --model models/wmp_arm_push")
    make_push = lambda: _controller(push, robot, push_planner, period, pgoal)  # noqa: E731
    push_obs = _record_push(make_push, push_sim_cfg, warmup + steps)
    reach_t, push_t = [], []
    for _ in range(ROUNDS):
        reach_t.append(_times(make_reach, reach_obs, warmup))
        push_t.append(_times(make_push, push_obs, warmup))
    reach_times, push_times = np.concatenate(reach_t), np.concatenate(push_t)
    torch_cfg = dataclasses.replace(push_planner, backend="torch")
    push_torch = load_world_model(push_planner.model, torch_cfg, robot)
    make_torch = lambda: _controller(push_torch, robot, torch_cfg, period, pgoal)  # noqa: E731
    torch_times = _times(make_torch, _record_push(make_torch, push_sim_cfg, warmup + steps),
                         warmup)
    ort_again = _times(make_push, push_obs, warmup)
    opt = push_planner.optimizer
    flops = model_flops(push.meta, opt.samples, opt.iterations)
    peak = matmul_peak(push_planner.threads or (os.cpu_count() or 1))
    peak_gflops = max(peak["onnxruntime_gflops"], peak["numpy_gflops"])
    p50 = float(np.percentile(push_times, 50))
    reach_p50 = float(np.percentile(reach_times, 50))
    return {
        "push_p50_ms": 1000 * p50, "push_p99_ms": 1000 * float(np.percentile(push_times, 99)),
        "reach_p50_ms": 1000 * reach_p50,
        "reach_p99_ms": 1000 * float(np.percentile(reach_times, 99)),
        "push_over_reach": p50 / reach_p50,
        "push_torch_p50_ms": 1000 * float(np.percentile(torch_times, 50)),
        "push_ort_over_torch": float(np.percentile(torch_times, 50) / np.percentile(ort_again,
                                                                                    50)),
        "push_gflop_per_step": flops["per_step"] / 1e9,
        "push_peak_fraction": flops["per_step"] / p50 / 1e9 / peak_gflops,
        "peak_gflops": peak_gflops,
        "budget": {"samples": opt.samples, "iterations": opt.iterations,
                   "horizon": push_planner.horizon, "algorithm": opt.algorithm},
        "models": {"reach": reach.model_id, "push": push.model_id},
        "rounds": ROUNDS, "steps_measured": steps,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }

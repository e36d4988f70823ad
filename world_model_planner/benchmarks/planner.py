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
"""Planner latency, throughput, efficiency and memory: the figures in docs/BENCHMARKS.md.

One run measures, side by side on the same weights and the same observations:

* per-control-step latency (encode + plan) of the deployed controller, p50 and p99;
* imagined rollouts per second;
* ONNX Runtime against PyTorch eager (ratio of median step latency);
* the configured ONNX Runtime set-up against one whole-batch call per model call (on the CPU:
  batch slices side by side against ONNX Runtime's own intra-op threads);
* achieved GFLOP/s of the model arithmetic against a large matrix multiply measured in the
  same run (the machine's practical peak);
* resident memory before and after 1,000 plans.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import platform
import time
from typing import Any

import numpy as np

from ..core.config import PlannerConfig, SimulationConfig
from ..core.observation import Observation
from ..core.runtime import ROLLOUT_MIN_ROWS


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, this one by default (Linux /proc; 0 where unavailable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def model_flops(meta: dict[str, Any], samples: int, iterations: int) -> dict[str, float]:
    """Multiply-add FLOPs (2 per MAC) of one control step, counted from the architecture."""
    m = meta["train_config"]["model"]
    h, w = meta["image"]["height"], meta["image"]["width"]
    j, d, k = len(meta["joint_names"]), meta["latent_dim"], meta["ensemble_size"]
    horizon = meta["horizon"]
    conv, cin, hh, ww = 0.0, 3, h, w
    for cout in m["cnn_channels"]:
        hh, ww = (hh + 1) // 2, (ww + 1) // 2
        conv += 2.0 * cin * cout * 16 * hh * ww
        conv += m.get("cnn_blocks", 0) * 2.0 * cout * cout * 9 * hh * ww
        cin = cout
    fc = 2.0 * (cin * hh * ww * m["image_features"] + 2 * j * m["proprio_features"]
                + m["proprio_features"] ** 2)
    fuse_in = m["image_features"] + m["proprio_features"] + 2
    fc += 2.0 * (fuse_in * m["encoder_hidden"] + m["encoder_hidden"] ** 2
                 + m["encoder_hidden"] * d)
    encoder = conv + fc
    dyn_sizes = [d + j] + [m["dynamics_hidden"]] * m["dynamics_layers"] + [d]
    dyn = 2.0 * sum(a * b for a, b in zip(dyn_sizes[:-1], dyn_sizes[1:]))
    head_sizes = [d, m["head_hidden"], m["head_hidden"], 2 * j]
    head = 2.0 * sum(a * b for a, b in zip(head_sizes[:-1], head_sizes[1:]))
    rollout = samples * horizon * (k * dyn + head)
    return {"encoder_per_image": encoder, "rollout_per_iteration": rollout,
            "per_step": 4 * encoder + iterations * rollout + horizon * (k * dyn + head)}


def matmul_peak(threads: int, size: int = 1536, repeats: int = 7) -> dict[str, float]:
    """GFLOP/s of a large fp32 matrix multiply, through ONNX Runtime and through numpy."""
    import onnx
    from onnx import TensorProto, helper

    import onnxruntime as ort

    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((size, size), dtype=np.float32)
    flops = 2.0 * size ** 3
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "mm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [size, size]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [size, size])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [size, size])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    del onnx

    def best(fn) -> float:
        fn()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return flops / min(times) / 1e9

    return {"onnxruntime_gflops": best(lambda: session.run(None, {"a": a, "b": b})),
            "numpy_gflops": best(lambda: a @ b), "size": size}


def _scene(sim_cfg: SimulationConfig) -> tuple[Any, np.ndarray, np.ndarray]:
    """The simulated arm (left open), a seeded start configuration and its goal image."""
    from ..core.sim.arm import ArmSim
    from ..core.sim.reach import ReachTask

    sim = ArmSim(sim_cfg.sim)
    task = ReachTask(sim, sim_cfg.reach)
    start, goal = task.sample_episode(np.random.default_rng(0))
    goal_image = task.make_goal(goal).image
    return sim, start, goal_image


def _closed_loop(controller: Any, sim: Any, start: np.ndarray, count: int
                 ) -> list[Observation]:
    """Observations of `count` control steps with each command moving the simulated arm: what
    the controller sees on a robot (real motion, so the surprise monitor runs its real checks)."""
    controller.reset()
    obs = sim.reset(start)
    seen = []
    for _ in range(count):
        seen.append(obs)
        obs = sim.step(controller.step(obs).command)
    return seen


def _step_latencies(controller: Any, observations: list[Observation], warmup: int
                    ) -> np.ndarray:
    """Seconds per control step, replaying recorded closed-loop observations to a fresh
    controller. Replaying keeps the simulator's software renderer out of the timed process;
    the fresh controller sends the recorded commands again, so the observations stay
    consistent with them. Every measured step must have planned: a held step skips the
    planner and would flatter the figure."""
    out = np.empty(len(observations) - warmup)
    for i, obs in enumerate(observations):
        t = time.perf_counter()
        result = controller.step(obs)
        if i >= warmup:
            out[i - warmup] = time.perf_counter() - t
            if result.plan is None:
                raise RuntimeError(f"bench: control step {i} did not plan ({result.decision}); "
                                   "the measured latency would not be a planning step")
    return out


def _part_latencies(model: Any, obs: Observation, samples: int, horizon: int,
                    repeats: int = 100) -> dict[str, float]:
    """Median ms of each model call on its own: what a smaller or larger budget would cost."""
    joints = np.concatenate([obs.qpos, obs.qvel])[None].astype(np.float32)
    mask = np.ones((1, 2), np.float32)
    latents = np.repeat(model.encode(obs.image[None], joints, mask), samples, axis=0)
    actions = np.zeros((samples, horizon, len(obs.qpos)), np.float32)

    def median_ms(call: Any) -> float:
        call()
        times = np.empty(repeats)
        for i in range(repeats):
            t = time.perf_counter()
            call()
            times[i] = time.perf_counter() - t
        return 1000 * float(np.median(times))

    return {"encoder_1_image": median_ms(lambda: model.encode(obs.image[None], joints, mask)),
            f"dynamics_{samples}_sequences": median_ms(lambda: model.rollout(latents, actions)),
            f"proprio_head_{samples}": median_ms(lambda: model.proprio(latents))}


@dataclasses.dataclass
class _Timings:
    """Seconds per control step of each engine, and the controller the plans are timed on."""

    ort: np.ndarray  # the configured ONNX Runtime set-up
    whole: np.ndarray  # ONNX Runtime, one whole-batch call per model call
    torch: np.ndarray  # PyTorch eager, on its own closed loop
    ort_again: np.ndarray  # ONNX Runtime over the same stretch of time as the torch run
    controller: Any  # a fresh ONNX Runtime controller with its goal latent set
    obs: Observation  # the observation the plans and model calls are timed on


def _control_step_timings(planner: PlannerConfig, simulation: SimulationConfig, steps: int,
                          warmup: int, torch_steps: int) -> _Timings:
    from ..core.planning.backends import load_world_model
    from ..core.planning.controller import MPCController
    from ..core.safety import SurpriseThresholds

    sim, start, goal_image = _scene(simulation)
    robot = sim.robot
    obs = sim.reset(start)
    period = simulation.sim.control_period

    # "onnx" is the configured ONNX Runtime set-up; "onnx_whole" the same with each batch as one
    # call over ONNX Runtime's intra-op threads instead of slices side by side (batch_shards.py).
    variants = {"onnx": dataclasses.replace(planner, backend="onnx"),
                "onnx_whole": dataclasses.replace(planner, backend="onnx", batch_shards=False),
                "torch": dataclasses.replace(planner, backend="torch")}
    models = {name: load_world_model(planner.model, cfg, robot) for name, cfg in variants.items()}

    def controller_for(name: str) -> Any:
        """A fresh controller (same weights): same optimiser seed, so the same commands."""
        model = models[name]
        surprise = model.meta.get("surprise")
        # The ratio compares two engines under one optimiser: the numpy one (fused=False).
        c = MPCController(model, robot, dataclasses.replace(variants[name], fused=False),
                          period, surprise=SurpriseThresholds.from_meta(surprise) if surprise
                          else None)
        c.set_goal_image(goal_image)
        return c

    observations = _closed_loop(controller_for("onnx"), sim, start, warmup + steps)
    sim.close()
    ort_times = _step_latencies(controller_for("onnx"), observations, warmup)
    # Slicing leaves every row's arithmetic as it was, so the same frames fit the same commands.
    whole_times = _step_latencies(controller_for("onnx_whole"), observations, warmup)
    del models["onnx_whole"]
    # Each backend replays its own closed loop: the two engines round differently, so torch fed
    # ONNX Runtime's frames would choose other commands than the ones that moved the arm, and
    # the position-loop check would rightly read that as an arm ignoring its commands. Recorded
    # after the ONNX Runtime timing and with the simulator closed again: a torch run or an open
    # renderer beforehand made the ONNX Runtime steps 2-5 ms slower for the rest of the process.
    sim, start, _ = _scene(simulation)
    torch_observations = _closed_loop(controller_for("torch"), sim, start, warmup + torch_steps)
    sim.close()
    torch_times = _step_latencies(controller_for("torch"), torch_observations, warmup)
    ort_again = _step_latencies(controller_for("onnx"), observations[:warmup + torch_steps],
                                warmup)  # the same stretch of time as the torch run
    ort_controller = controller_for("onnx")
    ort_controller.step(obs)  # one step sets the goal latent the plans below are scored against
    del models["torch"]
    gc.collect()
    return _Timings(ort_times, whole_times, torch_times, ort_again, ort_controller, obs)


def _plan_memory(controller: Any, obs: Observation, plans: int
                 ) -> tuple[np.ndarray, int, int]:
    """Seconds of each of `plans` plans, and resident bytes before and after them."""
    latents = np.repeat(controller.model.encode(
        obs.image[None], np.concatenate([obs.qpos, obs.qvel])[None].astype(np.float32),
        np.ones((1, 2), np.float32)), 1, axis=0)[0]
    goal = controller.goal
    plan = controller.planner.plan
    for _ in range(50):
        plan(latents, goal)
    gc.collect()
    rss_start = rss_bytes()
    plan_times = np.empty(plans)
    for i in range(plans):
        t = time.perf_counter()
        plan(latents, goal)
        plan_times[i] = time.perf_counter() - t
    gc.collect()
    return plan_times, rss_start, rss_bytes()


def run(planner: PlannerConfig, simulation: SimulationConfig, *, steps: int = 200,
        warmup: int = 20, memory_plans: int = 1000, torch_steps: int = 100) -> dict[str, Any]:
    """Every figure of docs/BENCHMARKS.md's planner table, from one run (see the module doc)."""
    t = _control_step_timings(planner, simulation, steps, warmup, torch_steps)
    plan_times, rss_start, rss_end = _plan_memory(t.controller, t.obs, memory_plans)
    meta = t.controller.model.meta
    opt = planner.optimizer
    parts = _part_latencies(t.controller.model, t.obs, opt.samples, meta["horizon"])
    flops = model_flops(meta, opt.samples, opt.iterations)
    threads = planner.threads or (os.cpu_count() or 1)
    peak = matmul_peak(threads)
    peak_gflops = max(peak["onnxruntime_gflops"], peak["numpy_gflops"])
    p50 = float(np.percentile(t.ort, 50))
    achieved = flops["per_step"] / p50 / 1e9
    return {
        "p50_ms": 1000 * p50,
        "p99_ms": 1000 * float(np.percentile(t.ort, 99)),
        "plan_p50_ms": 1000 * float(np.percentile(plan_times, 50)),
        "rollouts_per_second": opt.samples * opt.iterations / float(np.median(plan_times)),
        "imagined_steps_per_second": (opt.samples * opt.iterations * meta["horizon"]
                                      * meta["ensemble_size"] / float(np.median(plan_times))),
        "whole_batch_p50_ms": 1000 * float(np.percentile(t.whole, 50)),
        "whole_batch_p99_ms": 1000 * float(np.percentile(t.whole, 99)),
        "whole_batch_over_sliced": float(np.percentile(t.whole, 50) / p50),
        "torch_p50_ms": 1000 * float(np.percentile(t.torch, 50)),
        "ort_p50_ms_same_stretch": 1000 * float(np.percentile(t.ort_again, 50)),
        "ort_over_torch": float(np.percentile(t.torch, 50) / np.percentile(t.ort_again, 50)),
        "parts_p50_ms": parts,
        "gflop_per_step": flops["per_step"] / 1e9,
        "achieved_gflops": achieved,
        "peak_gflops": peak_gflops,
        "peak": peak,
        "peak_fraction": achieved / peak_gflops,
        "memory": {"plans": memory_plans, "rss_start_mb": rss_start / 2 ** 20,
                   "rss_end_mb": rss_end / 2 ** 20,
                   "growth_fraction": (rss_end - rss_start) / max(rss_start, 1)},
        "budget": {"algorithm": opt.algorithm, "samples": opt.samples, "horizon": planner.horizon,
                   "iterations": opt.iterations, "ensemble_members": meta["ensemble_size"],
                   "encoder_images_per_step": 4},
        "provider": t.controller.model.provider,
        "rollout_slices": len(t.controller.model.shards.bounds(opt.samples, ROLLOUT_MIN_ROWS)),
        "model": t.controller.model.model_id,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "steps_measured": steps,
    }

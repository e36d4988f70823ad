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
"""Planner latency on a GPU: the torch backend on CUDA beside ONNX Runtime on the CPU, one run.

The same closed-loop observations (the shipped controller moving the simulated arm) are replayed
to a fresh controller on each backend, so both plan from the same frames with the same seed. CUDA
timings include the host-device copies of every call: that is what the planner node pays. The
surprise monitor is off, so every timed step plans: a GPU machine's renderer draws frames a little
unlike the training data's, and a monitor that asks to hold would skip the planner.

    python bench/gpu_latency.py [--model DIR] [--device cuda] [--steps 300] [--json]

docs/BENCHMARKS.md quotes it for the GPU machines a session was lent.
"""

import argparse
import dataclasses
import json
import os
import platform

import numpy as np
import torch

from world_model_planner.benchmarks.planner import (_closed_loop, _part_latencies, _scene,
                                                    _step_latencies)
from world_model_planner.core import config as cfg
from world_model_planner.core.paths import resolve
from world_model_planner.core.planning.backends import load_world_model
from world_model_planner.core.planning.controller import MPCController


def summary(times: np.ndarray) -> dict[str, float]:
    return {"p50_ms": 1000 * float(np.percentile(times, 50)),
            "p99_ms": 1000 * float(np.percentile(times, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="", help="model folder (default: the planner config's)")
    parser.add_argument("--device", default="cuda", help="torch device for the torch backend")
    parser.add_argument("--steps", type=int, default=300, help="control steps timed")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--planner-config", default="config/planner.yaml")
    parser.add_argument("--sim-config", default="config/sim.yaml")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    node = cfg.load(cfg.PlannerNodeConfig, resolve(args.planner_config, kind="planner config"),
                    node=cfg.PLANNER_NODE)
    planner = node.planner if not args.model else dataclasses.replace(node.planner,
                                                                      model=args.model)
    simulation = cfg.load(cfg.SimulationConfig, resolve(args.sim_config, kind="sim config"),
                          node=cfg.SIM_NODE)
    sim, start, goal_image = _scene(simulation)
    robot = sim.robot
    period = simulation.sim.control_period
    gpu = dataclasses.replace(planner, backend="torch", torch_device=args.device)
    backends = {"onnx_cpu": dataclasses.replace(planner, backend="onnx", providers="cpu"),
                # the whole plan as one graph (planner.fused, the default for backend torch)
                f"torch_{args.device}_fused": dataclasses.replace(gpu, fused=True),
                # the numpy optimiser between network calls, each call a graph / eager
                f"torch_{args.device}_graphs": dataclasses.replace(gpu, fused=False),
                f"torch_{args.device}_eager": dataclasses.replace(gpu, fused=False,
                                                                  cuda_graphs=False),
                "torch_cpu": dataclasses.replace(planner, backend="torch", torch_device="cpu",
                                                 fused=False)}
    models = {name: load_world_model(p.model, p, robot) for name, p in backends.items()}

    def controller(name: str) -> MPCController:
        model = models[name]
        c = MPCController(model, robot, backends[name], period, surprise=None)
        c.set_goal_image(goal_image)
        return c

    observations = _closed_loop(controller("onnx_cpu"), sim, start, args.warmup + args.steps)
    obs = observations[0]
    sim.close()
    opt = planner.optimizer
    result: dict = {"budget": {"algorithm": opt.algorithm, "samples": opt.samples,
                               "horizon": planner.horizon, "iterations": opt.iterations},
                    "machine": f"{platform.processor() or platform.machine()}, "
                               f"{os.cpu_count()} cores",
                    "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                    "torch": torch.__version__, "backends": {}}
    for name in backends:  # each backend twice, interleaved, to see the spread between runs
        result["backends"][name] = {"runs": []}
    for _ in range(2):
        for name in backends:
            times = _step_latencies(controller(name), observations, args.warmup)
            result["backends"][name]["runs"].append(summary(times))
    for name, entry in result["backends"].items():
        entry.update(min(entry["runs"], key=lambda r: r["p50_ms"]))
        entry["parts_p50_ms"] = _part_latencies(models[name], obs, opt.samples,
                                                models[name].meta["horizon"])
    result["model"] = models["onnx_cpu"].model_id
    p50 = {name: entry["p50_ms"] for name, entry in result["backends"].items()}
    fused = p50[f"torch_{args.device}_fused"]
    result["onnx_cpu_over_torch_gpu"] = p50["onnx_cpu"] / fused
    result["graphs_over_fused"] = p50[f"torch_{args.device}_graphs"] / fused
    result["eager_over_graphs"] = (p50[f"torch_{args.device}_eager"]
                                   / p50[f"torch_{args.device}_graphs"])
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for name, entry in result["backends"].items():
        parts = ", ".join(f"{k} {v:.2f}" for k, v in entry["parts_p50_ms"].items())
        print(f"{name:18s} step p50 {entry['p50_ms']:.2f} ms p99 {entry['p99_ms']:.2f} ms "
              f"(parts, ms: {parts})")


if __name__ == "__main__":
    main()

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
"""The surprise monitor in the node loop: the mujoco graph over real DDS, step by step.

Runs what `wmp run --mode mujoco` runs (graph.build, one process per node), with the planner's
per-step debug lines on, and maps every planning step to its goal and step index from the
simulator's task results. Prints one JSON object:

- nominal: how many steps the monitor re-grounded, distrusted the camera or held (from each
  goal's second step, as `wmp eval` counts false alarms: the first step has no prediction), and
  how many steps each goal took (compare `wmp eval --seed 7 --episodes 6 --conditions nominal`);
- dropout / push: episodes run to `--steps` whatever the error (node.settle_steps past it), and
  an event counts as flagged when a step in [event, event + window) is not "ok" (as `wmp eval`).

    ROS_DOMAIN_ID=57 python bench/node_monitor.py --condition nominal --goals 6 --seed 7
    ROS_DOMAIN_ID=57 python bench/node_monitor.py --condition dropout --goals 10 --steps 36
    ROS_DOMAIN_ID=57 python bench/node_monitor.py --condition push --goals 10 --steps 24
    ... --no-lockstep  (the simulator in real time, as before lockstep: commands act late)

Use a ROS_DOMAIN_ID nobody else on the machine uses: another graph on the same domain would
answer this one's frames.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from world_model_planner import graph
from world_model_planner.core import config as cfg
from world_model_planner.core.eval import event_step
from world_model_planner.core.paths import resolve
from world_model_planner.supervisor import Supervisor

STEP = re.compile(r"step at frame (?P<t>[-\d.]+): (?P<decision>[\w -]+?)(?: \(|$)")
FLAGS = ("reground", "camera_distrusted", "hold")  # the monitor's own decisions


def node_specs(args: argparse.Namespace) -> list[graph.NodeSpec]:
    sim = {"node.seed": args.seed, "node.goals": args.goals,
           "node.lockstep": not args.no_lockstep}
    if args.condition != "nominal":
        sim.update({f"perturbations.{args.condition}.enabled": True,
                    "reach.episode_steps": args.steps, "node.settle_steps": args.steps + 1})
    nodes = graph.build("mujoco", model=args.model or "", sim_overrides=sim,
                        planner_overrides={"synchronous_commands": not args.no_lockstep})
    return [dataclasses.replace(n, arguments=n.arguments + (
        "--ros-args", "--log-level", f"{graph.PLANNER_NODE}:=debug"))
            if n.name == graph.PLANNER_NODE else n for n in nodes]


def run_graph(args: argparse.Namespace, logs: Path) -> list[dict]:
    import rclpy

    from world_model_planner.nodes.run_monitor import RunMonitor

    rclpy.init(args=None)
    monitor = RunMonitor()
    supervisor = Supervisor(node_specs(args), log_dir=logs)
    deadline = time.monotonic() + args.timeout
    try:
        supervisor.start()
        while len(monitor.log.results) < args.goals:
            rclpy.spin_once(monitor, timeout_sec=0.1)
            if supervisor.first_exit() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the graph stopped or timed out; logs in {logs}")
    finally:
        supervisor.stop()
        monitor.destroy_node()
        rclpy.try_shutdown()
    return monitor.log.results


def steps_by_goal(results: list[dict], log: str, period: float) -> list[dict[int, str]]:
    """Per goal: the planner's decision at each of the goal's control steps."""
    steps = [(float(m["t"]), m["decision"]) for m in STEP.finditer(log)]
    out = []
    for r in results:
        start, n = float(r["started_s"]), int(r["steps"])
        decided = {}
        for t, decision in steps:
            k = round((t - start) / period)
            if 0 <= k < n and abs(t - start - k * period) < period / 4:
                decided[k] = decision
        out.append(decided)
    return out


def summary(args: argparse.Namespace, results: list[dict], decided: list[dict[int, str]],
            simulation: cfg.SimulationConfig) -> dict:
    counts: dict[str, int] = {}  # from each goal's second step: the first has no prediction
    for goal in decided:
        for k, decision in goal.items():
            if k >= 1:
                counts[decision] = counts.get(decision, 0) + 1
    total = sum(counts.values())
    out = {"condition": args.condition, "lockstep": not args.no_lockstep,
           "model": args.model or "(default)", "seed": args.seed, "goals": len(results),
           "reached": sum(bool(r["success"]) for r in results), "steps": total,
           "decisions": counts,
           "reground_fraction": round(counts.get("reground", 0) / max(1, total), 4),
           "flagged_fraction": round(sum(counts.get(f, 0) for f in FLAGS) / max(1, total), 4)}
    if args.condition == "nominal":
        reached = [int(r["steps"]) for r in results if r["success"]]
        out["goal_steps"] = [int(r["steps"]) for r in results]
        out["goal_steps_median"] = statistics.median(reached) if reached else None
        return out
    event = event_step(simulation.perturbations.only(args.condition))
    window = cfg.EvalConfig().detection_window
    delays = []
    for goal in decided:
        flagged = [k for k, d in sorted(goal.items()) if k >= event and d in FLAGS]
        delays.append(flagged[0] - event if flagged else None)
    radius = simulation.reach.success_radius
    out["within_radius_at_end"] = sum(float(r["final_error_m"]) <= radius for r in results)
    out.update(event_step=event, window=window, detection_delays=delays,
               detected=sum(d is not None and d < window for d in delays),
               missing_steps=sum(1 for goal in decided for k in range(event, event + window)
                                 if k not in goal))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--condition", choices=("nominal", "dropout", "push"), default="nominal")
    parser.add_argument("--goals", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7, help="task seed (make demo: 7)")
    parser.add_argument("--steps", type=int, default=36, help="episode steps (dropout, push)")
    parser.add_argument("--model", default="")
    parser.add_argument("--no-lockstep", action="store_true")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--logs", default="", help="keep the node logs here")
    args = parser.parse_args()
    simulation = cfg.load(cfg.SimulationConfig, resolve(graph.SIM_PARAMS, kind="sim config"),
                          node=cfg.SIM_NODE)
    with tempfile.TemporaryDirectory(prefix="wmp-node-monitor-") as tmp:
        logs = Path(args.logs or tmp)
        results = run_graph(args, logs)
        log = (logs / f"{graph.PLANNER_NODE}.log").read_text()
    decided = steps_by_goal(results, log, simulation.sim.control_period)
    print(json.dumps(summary(args, results, decided, simulation)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

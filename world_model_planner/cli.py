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
"""The `wmp` command: collect, train, export, eval, bench, run, demo.

Each subcommand parses its flags and calls into `core` (or starts the node graph); the work itself
lives there. Logs and progress go to stderr; `--json` prints exactly one JSON object on stdout.
Exit status: 0 success, 1 the job ran and failed its goal, 2 bad input (the message says which
file, key or flag), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__

log = logging.getLogger("wmp")

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, RuntimeError)


def _emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------
# collect / validate / sheet


# The collect and train configs each task uses when --config is not given.
COLLECT_CONFIGS = {"reach": "config/collect.yaml", "push": "config/collect_push.yaml"}
TRAIN_CONFIGS = {"reach": "config/train.yaml", "push": "config/train_push.yaml"}


def _simulation_config(path: str, image_size: int | None = None, task: str | None = None,
                       robot: str | None = None) -> Any:
    import dataclasses

    from .core import config as cfg
    from .core.paths import resolve

    simulation = cfg.load(cfg.SimulationConfig, resolve(path, kind="sim config"),
                          node=cfg.SIM_NODE)
    if task is not None:
        simulation = dataclasses.replace(simulation, task=task)
    if robot is not None:
        simulation = dataclasses.replace(simulation, sim=dataclasses.replace(
            simulation.sim, robot=robot))
    if image_size is not None:
        if image_size < 8:
            raise cfg.ConfigError(f"--image-size must be at least 8 px, got {image_size}")
        simulation = dataclasses.replace(simulation, sim=dataclasses.replace(
            simulation.sim, image_width=image_size, image_height=image_size))
    return simulation


def cmd_collect(args: argparse.Namespace) -> int:
    from .core import config as cfg
    from .core.data.collect import collect
    from .core.paths import resolve

    simulation = _simulation_config(args.sim_config, args.image_size, args.task, args.robot)
    config = args.config or COLLECT_CONFIGS[simulation.task]
    collect_cfg = cfg.load(cfg.CollectConfig, resolve(config, kind="collect config"))
    if args.episodes < 1:
        raise cfg.ConfigError(f"--episodes must be at least 1, got {args.episodes}")
    result = collect(args.out, args.episodes, seed=args.seed, simulation=simulation,
                     config=collect_cfg, workers=args.workers, progress=not args.quiet)
    m = result.manifest
    summary = {
        "out": str(Path(args.out).resolve()), "episodes": m["episodes"], "frames": m["frames"],
        "new_frames": result.new_frames, "seconds": round(result.seconds, 2),
        "frames_per_second": round(result.frames_per_second, 1), "bytes": result.bytes,
        "mb_per_10k_frames": round(result.bytes / max(m["frames"], 1) * 1e4 / 1e6, 2),
        "digest": m["digest"],
    }
    if args.json:
        _emit_json(summary)
    else:
        print(f"collected {m['episodes']} episodes, {m['frames']} frames into {args.out} "
              f"({summary['frames_per_second']} frames/s, {summary['mb_per_10k_frames']} MB per "
              f"10k frames, digest {m['digest'][:12]})", file=sys.stderr)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .core.data.shards import open_datasets

    reports = [d.validate() for d in open_datasets(args.data)]
    if args.json:
        _emit_json({"datasets": reports})
    else:
        for r in reports:
            print(f"{r['root']}: OK, {r['episodes']} episodes, {r['frames']} frames, "
                  f"{r['shards']} shards, digest {r['digest'][:12]}", file=sys.stderr)
            if "contact" in r:
                print(f"  {_contact_line(r['contact'])}", file=sys.stderr)
    return 0


def _contact_line(contact: dict[str, float]) -> str:
    return (f"object moved >= {contact['moved_threshold_m'] * 100:.0f} cm in "
            f"{contact['episodes_moved']:.0%} of episodes; mean displacement "
            f"{contact['mean_final_displacement_m'] * 100:.1f} cm at the end, "
            f"{contact['mean_largest_displacement_m'] * 100:.1f} cm at most")


def cmd_sheet(args: argparse.Namespace) -> int:
    from .core.data.shards import Dataset
    from .core.data.sheet import dataset_sheet

    path = dataset_sheet(args.data, args.out, args.episodes)
    print(f"wrote {path}", file=sys.stderr)
    contact = Dataset(args.data).validate().get("contact")
    if contact is not None:
        print(_contact_line(contact), file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """The node graph of graph.py as supervised processes, watched until done or interrupted."""
    from .core import config as cfg
    from .core.paths import resolve, task_model
    from .core.run_report import run_summary, write_run_report
    from .graph import build
    from .supervisor import watch_graph

    robot_cfg = cfg.load(cfg.RobotConfig, resolve(args.robot, kind="robot config"))
    description = None
    if args.mode != "mujoco":
        description = resolve(robot_cfg.description, kind="URDF").read_text()
    if args.mode == "real" and not args.confirm_real:
        raise cfg.ConfigError("--mode real commands a physical arm: pass --confirm-real once the "
                              "workspace is clear and the arm's own protective stop is in reach")
    sim_overrides: dict[str, Any] = {"node.seed": args.seed}
    if args.goals:
        sim_overrides["node.goals"] = args.goals
    push = args.task == "push"  # reach: the parameter files' task and model, as before
    nodes = build(args.mode, robot=args.robot,
                  model=task_model("push", args.model) if push else args.model or "",
                  command_interface=args.command_interface, sim_overrides=sim_overrides,
                  robot_controllers=(robot_cfg.controllers.position,
                                     robot_cfg.controllers.trajectory),
                  robot_description=description, task="push" if push else "")
    log_dir = Path(args.log_dir) if args.log_dir else None
    run = watch_graph(nodes, mode=args.mode, namespace=args.namespace, log_dir=log_dir,
                      goals=args.goals, timeout=args.timeout)
    summary = run_summary(run.log, run.seconds)
    summary["task"] = args.task
    if args.report:
        write_run_report(run.log, summary, Path(args.report))
        summary["report"] = str(args.report)
    if args.json:
        _emit_json(summary)
    else:
        _print_run_summary(summary)
    failed = run.failed
    if failed is not None and failed.process.returncode not in (0, None):
        print(f"wmp run: node '{failed.spec.name}' exited with status "
              f"{failed.process.returncode}; the graph was stopped"
              + (f" (see {log_dir / (failed.spec.name + '.log')})" if log_dir else ""),
              file=sys.stderr)
        return 1
    if args.goals and run.reported < args.goals:
        print(f"wmp run: only {run.reported} of {args.goals} goals finished", file=sys.stderr)
        return 1
    return 0


def _print_run_summary(s: dict[str, Any]) -> None:
    def fmt(v: float | None, unit: str) -> str:
        return "n/a" if v is None else f"{v:.1f} {unit}"

    median = s["median_final_error_m"]
    what = "object error" if s.get("task") == "push" else "error"
    print(f"wmp run: {s['successes']}/{s['goals']} goals reached; median final {what} "
          f"{fmt(None if median is None else 100 * median, 'cm')}; control rate "
          f"{fmt(s['control_rate_hz'], 'Hz')}; plan latency p50 "
          f"{fmt(s['plan_latency_p50_ms'], 'ms')}, p99 {fmt(s['plan_latency_p99_ms'], 'ms')}; "
          f"image-to-command p50 {fmt(s['e2e_latency_p50_ms'], 'ms')}; model {s['model']} on "
          f"{s['provider']}; {s['seconds']} s", file=sys.stderr)
    decisions = s.get("surprise_decisions") or {}
    if decisions:
        print("wmp run: surprise monitor per control step: " + ", ".join(
            f"{k} {v}" for k, v in sorted(decisions.items())), file=sys.stderr)


DEMO_REPORTS = {"push": "push_report.png", "reach": "report.png"}


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job: the embedded MuJoCo arm under the planner over real ROS 2 topics; first
    pushes (the object to where a goal image shows it), then reaches, each its own graph."""
    import time

    from .core.paths import task_model

    out = Path(args.out)
    parts = [(task, goals) for task, goals in (("push", args.push_goals), ("reach", args.goals))
             if goals > 0]
    models = {"push": task_model("push", args.push_model) if args.push_goals > 0 else None,
              "reach": args.model}  # a missing push model fails here, before anything starts
    started = time.monotonic()
    codes = []
    for k, (task, goals) in enumerate(parts, 1):
        left = args.timeout - (time.monotonic() - started)
        budget = min(args.push_timeout, left) if task == "push" and k < len(parts) else left
        print(f"demo: part {k} of {len(parts)}: {goals} {task} goals", file=sys.stderr)
        model = models[task]
        run_args = build_parser().parse_args([
            "run", "--mode", "mujoco", "--task", task, "--goals", str(goals),
            "--seed", str(args.seed), "--report", str(out / DEMO_REPORTS[task]),
            "--log-dir", str(out / "logs" / task), "--timeout", f"{max(budget, 1.0):.0f}"]
            + (["--model", model] if model else []))
        run_args.json, run_args.quiet, run_args.verbose = False, args.quiet, args.verbose
        codes.append(cmd_run(run_args))
    reports = ", ".join(str(out / DEMO_REPORTS[task]) for task, _ in parts)
    print(f"demo: {time.monotonic() - started:.0f} s; reports {reports}, node logs in "
          f"{out / 'logs'}", file=sys.stderr)
    return max(codes, default=0)


# --------------------------------------------------------------------------------------------
# train


def _check_robot_joints(robot: str, names: Sequence[str], what: str) -> None:
    """Refuses data or a checkpoint of another arm than --robot names: a model learns the
    joints it was shown, and the planner would refuse it for this arm much later."""
    from .core.robot import Robot

    arm = Robot.load(robot)
    if list(names) != list(arm.joint_names):
        raise ValueError(f"{what} has joints {list(names)}, but --robot {robot} ({arm.name}) has "
                         f"{list(arm.joint_names)}; pass the robot config it was made with")


def cmd_train(args: argparse.Namespace) -> int:
    import dataclasses

    from .core import config as cfg
    from .core.model.train import train
    from .core.paths import resolve

    config = args.config or TRAIN_CONFIGS[args.task]
    train_cfg = cfg.load(cfg.TrainConfig, resolve(config, kind="train config"))
    if args.objective:
        train_cfg = dataclasses.replace(train_cfg, objective=args.objective)
    overrides = {key: getattr(args, key) for key in ("steps", "seed", "batch_size", "eval_every",
                                                     "init_from", "horizon", "learning_rate",
                                                     "threads")}
    optim = dataclasses.replace(train_cfg.optim,
                                **{k: v for k, v in overrides.items() if v is not None})
    train_cfg = cfg.from_dict(cfg.TrainConfig, cfg.to_dict(dataclasses.replace(
        train_cfg, optim=optim)), source="command line")
    if args.robot:
        from .core.data.shards import MANIFEST, Dataset

        for folder in args.data:  # recordings are imported with --robot's names anyway
            if (Path(folder) / MANIFEST).is_file():
                _check_robot_joints(args.robot, Dataset(folder).manifest["robot"]["joint_names"],
                                    f"dataset {folder}")
    result = train(args.data, args.out, train_cfg, resume=args.resume, progress=not args.quiet,
                   robot=args.robot)
    summary = {"out": str(result.out), "steps": result.steps, "best_step": result.best_step,
               "best_val": result.best_val, "seconds": round(result.seconds, 1),
               "stopped_early": result.stopped_early, "objective": train_cfg.objective}
    if args.json:
        _emit_json(summary)
    else:
        print(f"trained {train_cfg.objective} for {result.steps} steps in {result.seconds:.0f} s; "
              f"best validation loss {result.best_val:.4g} at step {result.best_step}; "
              f"checkpoints in {result.out}", file=sys.stderr)
    return 0


def cmd_refit_ensemble(args: argparse.Namespace) -> int:
    from .core.config import RefitConfig
    from .core.model.ensemble_refit import refit_ensemble

    refit = RefitConfig(horizon=args.horizon, steps=args.steps, batch_size=args.batch_size,
                        learning_rate=args.learning_rate, bootstrap=not args.no_bootstrap,
                        fresh=args.fresh, seed=args.seed, eval_every=args.eval_every)
    summary = refit_ensemble(args.checkpoint, args.out, refit, data=args.data,
                             progress=not args.quiet)
    if args.json:
        _emit_json({"out": str(Path(args.out).resolve()), **summary})
    else:
        print(f"refitted the ensemble in {summary['seconds']:.0f} s; best validation loss "
              f"{summary['best_val']:.4g} at step {summary['best_step']} (was "
              f"{summary['initial_val']['total']:.4g}); checkpoint in {args.out}/best",
              file=sys.stderr)
    return 0


def cmd_harden_encoder(args: argparse.Namespace) -> int:
    from .core import config as cfgmod
    from .core.config import CollectConfig, HardenConfig
    from .core.model.encoder_invariance import harden_encoder

    scene = cfgmod.load(CollectConfig, args.scene).randomization
    cfg = HardenConfig(steps=args.steps, batch_size=args.batch_size,
                       learning_rate=args.learning_rate, every=args.every,
                       original_fraction=args.original_fraction, workers=args.workers,
                       cnn_blocks=args.cnn_blocks, blank_fraction=args.blank_fraction,
                       seed=args.seed, eval_every=args.eval_every)
    summary = harden_encoder(args.checkpoint, args.out, scene, cfg, data=args.data,
                             init_from=args.init_from, scene_source=str(args.scene),
                             progress=not args.quiet)
    if args.json:
        _emit_json({"out": str(Path(args.out).resolve()), **summary})
    else:
        h = summary["hardened"]
        print(f"hardened the encoder on {h['frames']} redrawn frames in "
              f"{summary['seconds']:.0f} s; image-only pose error on redrawn validation frames "
              f"{h['after']['pose_error_redrawn']:.3f} rad (was "
              f"{h['before']['pose_error_redrawn']:.3f}), on frames as recorded "
              f"{h['after']['pose_error_original']:.3f} (was "
              f"{h['before']['pose_error_original']:.3f}); checkpoint in {args.out}/best",
              file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# export / report


def cmd_export(args: argparse.Namespace) -> int:
    from .core.export import checkpoint_folder, export_model

    if args.robot:
        from .core.model.checkpoint import load_state

        state = load_state(checkpoint_folder(args.checkpoint))
        _check_robot_joints(args.robot, state["joint_names"], f"checkpoint {args.checkpoint}")
    meta = export_model(args.checkpoint, args.out, horizon=args.horizon, opset=args.opset,
                        data=args.data, name=args.name)
    summary = {"out": str(Path(args.out).resolve()), "files": {
        k: v["sha256"] for k, v in meta["files"].items()}, "parity": meta["parity"],
        "calibrated": "surprise" in meta, "bytes": sum(v["bytes"] for v in meta["files"].values())}
    if args.json:
        _emit_json(summary)
    else:
        worst = max(max(v.values()) for v in meta["parity"]["max_abs_error"].values())
        print(f"exported {len(meta['files'])} files ({summary['bytes'] / 1e6:.1f} MB) to "
              f"{args.out}; worst ONNX-vs-PyTorch error {worst:.2e}; surprise monitor "
              f"{'calibrated' if summary['calibrated'] else 'NOT calibrated (no data)'}",
              file=sys.stderr)
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .core.export import recalibrate

    meta = recalibrate(args.model, args.data, out=args.out, robot=args.robot,
                       reground_quantile=args.reground_quantile)
    surprise = meta["surprise"]
    summary = {"model": str(Path(args.out or args.model).resolve()), "data": surprise["data"],
               **{k: surprise[k] for k in ("reground", "proprio_reground", "hold")},
               "tracking_reground": (surprise["tracking"] or {}).get("reground"),
               "held_out": surprise["held_out"]}
    if args.json:
        _emit_json(summary)
    else:
        held = surprise["held_out"]
        print(f"surprise monitor of {summary['model']} calibrated on {held['episodes']} episodes "
              f"({held['transitions']} transitions): re-ground above {surprise['reground']:.2f}, "
              f"hold above {surprise['hold']:.2f}", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .core.model.report import write_report

    command = "wmp report " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "wmp report"
    results = write_report(args.checkpoints, args.out, data=args.data, command=command)
    if args.json:
        _emit_json(results)
    else:
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# eval


def _planner_config(args: argparse.Namespace) -> Any:
    import dataclasses

    from .core import config as cfg
    from .core.paths import resolve

    node = cfg.load(cfg.PlannerNodeConfig, resolve(args.planner_config, kind="planner config"),
                    node=cfg.PLANNER_NODE)
    planner = node.planner
    if getattr(args, "model", None):
        planner = dataclasses.replace(planner, model=args.model)
    if getattr(args, "backend", None):
        planner = dataclasses.replace(planner, backend=args.backend)
    if getattr(args, "providers", None):
        planner = dataclasses.replace(planner, providers=args.providers)
    return planner


def cmd_eval(args: argparse.Namespace) -> int:
    from .core.eval_run import eval_config, run_evaluation, task_planner

    simulation = _simulation_config(args.sim_config, task=args.task, robot=args.robot)
    planner = task_planner(simulation, _planner_config(args), model_given=bool(args.model))
    eval_cfg = eval_config(simulation.task, args.episodes, args.seed,
                           args.methods.split(",") if args.methods else None,
                           args.conditions.split(",") if args.conditions else None)
    summary, info = run_evaluation(simulation, planner, eval_cfg,
                                   None if args.no_report else Path(args.out),
                                   "wmp eval " + " ".join(sys.argv[2:]), not args.quiet)
    if args.json:
        _emit_json({"summary": summary, "info": info})
    else:
        for m, by_c in summary.items():
            rates = ", ".join(f"{c} {100 * e['success_rate']:.0f}%" for c, e in by_c.items())
            print(f"{m}: {rates}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# bench


def _bench_push(args: argparse.Namespace, planner: Any, simulation: Any) -> int:
    """The push step beside the reach step (--model names the push model)."""
    import dataclasses

    from .benchmarks.push import run
    from .core.config import PlannerConfig
    from .core.eval_run import PUSH_MODEL

    push = dataclasses.replace(planner, model=args.model or PUSH_MODEL)
    reach = dataclasses.replace(planner, model=PlannerConfig().model)
    result = run(reach, push, simulation, steps=min(args.steps, 100))
    if args.json:
        _emit_json(result)
    else:
        print(f"push step p50 {result['push_p50_ms']:.1f} ms (p99 {result['push_p99_ms']:.1f}), "
              f"reach step {result['reach_p50_ms']:.1f} ms in the same run: "
              f"{result['push_over_reach']:.2f}x; ONNX Runtime "
              f"{result['push_ort_over_torch']:.2f}x torch eager; "
              f"{100 * result['push_peak_fraction']:.0f}% of the matmul peak", file=sys.stderr)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .benchmarks.planner import run

    planner = _planner_config(args)
    simulation = _simulation_config(args.sim_config, robot=args.robot)
    if args.task == "push":
        return _bench_push(args, planner, simulation)
    result = run(planner, simulation, steps=args.steps, memory_plans=args.plans)
    if args.json:
        _emit_json(result)
    else:
        b = result["budget"]
        print(f"control step (encode + plan, {b['samples']} samples x {b['horizon']} steps x "
              f"{b['iterations']} iterations x {b['ensemble_members']} members) on "
              f"{result['provider']}: p50 {result['p50_ms']:.1f} ms, p99 "
              f"{result['p99_ms']:.1f} ms ({result['rollout_slices']} batch slices side by side; "
              f"one whole-batch call {result['whole_batch_p50_ms']:.1f} ms); "
              f"{result['rollouts_per_second']:.0f} rollouts/s; "
              f"ONNX Runtime {result['ort_over_torch']:.2f}x torch eager; "
              f"{result['achieved_gflops']:.1f} GFLOP/s = "
              f"{100 * result['peak_fraction']:.0f}% of the measured matmul peak "
              f"({result['peak_gflops']:.1f}); memory {result['memory']['rss_start_mb']:.0f} -> "
              f"{result['memory']['rss_end_mb']:.0f} MB over {result['memory']['plans']} plans",
              file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _add_collect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collect", help="record exploration episodes from the embedded simulator")
    p.add_argument("--episodes", type=int, required=True, help="number of episodes")
    p.add_argument("--out", required=True, help="dataset folder (created; resumed if compatible)")
    p.add_argument("--seed", type=int, default=0, help="collection seed (default 0)")
    p.add_argument("--image-size", type=int, default=None, metavar="PX",
                   help="square camera image size (default: config/sim.yaml)")
    p.add_argument("--workers", type=int, default=1, help="parallel simulator processes")
    p.add_argument("--config", default=None, help="exploration config (default: "
                   "config/collect.yaml, or config/collect_push.yaml for --task push)")
    p.add_argument("--sim-config", default="config/sim.yaml", help="simulator and task config")
    p.add_argument("--task", choices=("reach", "push"), default=None,
                   help="task to collect (default: the sim config's task)")
    p.add_argument("--robot", default=None,
                   help="robot config of the simulated arm (default: the sim config's sim.robot)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    _add_common(p)
    p.set_defaults(func=cmd_collect)


def _add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check dataset folders shard by shard")
    p.add_argument("data", nargs="+", help="dataset folders")
    p.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    _add_common(p)
    p.set_defaults(func=cmd_validate)


def _add_sheet(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sheet", help="contact sheet PNG of a dataset's first episodes")
    p.add_argument("data", help="dataset folder")
    p.add_argument("--out", default="contact_sheet.png", help="PNG path")
    p.add_argument("--episodes", type=int, default=4, help="episodes (rows) to show")
    _add_common(p)
    p.set_defaults(func=cmd_sheet)


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fit the world model on collected episodes")
    p.add_argument("--data", nargs="+", required=True, help="dataset folders (wmp collect)")
    p.add_argument("--out", required=True, help="training folder (checkpoints, curves)")
    p.add_argument("--config", default=None, help="train config (default: config/train.yaml, "
                   "or config/train_push.yaml for --task push)")
    p.add_argument("--task", choices=("reach", "push"), default="reach",
                   help="which task's default train config to use (push: an object head)")
    p.add_argument("--objective", choices=("jepa", "reconstruction"), default=None,
                   help="override the config's objective")
    p.add_argument("--steps", type=int, default=None, help="override optim.steps")
    p.add_argument("--seed", type=int, default=None, help="override optim.seed")
    p.add_argument("--batch-size", type=int, default=None, help="override optim.batch_size")
    p.add_argument("--eval-every", type=int, default=None, help="override optim.eval_every")
    p.add_argument("--horizon", type=int, default=None,
                   help="override optim.horizon (imagined steps per training sequence)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="override optim.learning_rate")
    p.add_argument("--threads", type=int, default=None,
                   help="override optim.threads (1 is fastest on a busy machine: threads of one "
                        "process waiting for each other on shared cores lose most of the time)")
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoint")
    p.add_argument("--init-from", default=None,
                   help="start from this training folder's weights (stage 1 then runs "
                   "optim.init_pretrain_steps, 0 by default)")
    p.add_argument("--robot", default=None,
                   help="robot config of the arm: joint names of MCAP recordings in --data "
                        "(default: the package arm); datasets of another arm are refused")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    _add_common(p)
    p.set_defaults(func=cmd_train)


def _add_refit_ensemble(sub: argparse._SubParsersAction) -> None:
    from .core.config import RefitConfig

    refit = RefitConfig()
    p = sub.add_parser("refit-ensemble", help="re-train only the dynamics ensemble, each member "
                       "on its own bootstrap resample (frozen encoder and heads)")
    p.add_argument("--checkpoint", required=True, help="the --out folder of 'wmp train'")
    p.add_argument("--out", required=True, help="folder to write (best/ as 'wmp train' writes)")
    p.add_argument("--data", nargs="+", default=None,
                   help="dataset folders (default: the checkpoint's training data)")
    p.add_argument("--horizon", type=int, default=refit.horizon,
                   help="imagined steps per training path")
    p.add_argument("--steps", type=int, default=refit.steps, help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=refit.batch_size,
                   help="latent sequences per step")
    p.add_argument("--learning-rate", type=float, default=refit.learning_rate,
                   help="peak learning rate")
    p.add_argument("--eval-every", type=int, default=refit.eval_every,
                   help="steps between validations")
    p.add_argument("--seed", type=int, default=refit.seed,
                   help="seed of the resamples and batches")
    p.add_argument("--fresh", action="store_true",
                   help="start the members from new random weights instead of the checkpoint's")
    p.add_argument("--no-bootstrap", action="store_true",
                   help="every member trains on every episode (for comparison)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    _add_common(p)
    p.set_defaults(func=cmd_refit_ensemble)


def _add_harden_encoder(sub: argparse._SubParsersAction) -> None:
    from .core.config import HardenConfig

    harden = HardenConfig()
    p = sub.add_parser("harden-encoder", help="teach the image path to read frames the simulator "
                       "redraws under varied light, colours and clutter as it reads the "
                       "originals (dynamics and heads kept)")
    p.add_argument("--checkpoint", required=True, help="the --out folder of 'wmp train'")
    p.add_argument("--out", required=True, help="folder to write (best/ as 'wmp train' writes)")
    p.add_argument("--scene", required=True,
                   help="collect config whose 'randomization' draws the new looks, e.g. "
                        "config/collect_wide.yaml")
    p.add_argument("--data", nargs="+", default=None,
                   help="datasets written by 'wmp collect' (default: the checkpoint's)")
    p.add_argument("--steps", type=int, default=harden.steps, help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=harden.batch_size, help="frames per step")
    p.add_argument("--learning-rate", type=float, default=harden.learning_rate,
                   help="peak learning rate")
    p.add_argument("--every", type=int, default=harden.every,
                   help="redraw every n-th frame of each episode")
    p.add_argument("--original-fraction", type=float, default=harden.original_fraction,
                   help="share of each batch shown the frames as recorded")
    p.add_argument("--workers", type=int, default=harden.workers,
                   help="processes drawing the frames")
    p.add_argument("--blank-fraction", type=float, default=harden.blank_fraction,
                   help="share of each batch shown a black frame, taught to give the "
                        "model's own latent for it (keeps camera dropouts surprising)")
    p.add_argument("--init-from", default=None,
                   help="continue from an earlier harden-encoder run of the same --checkpoint")
    p.add_argument("--cnn-blocks", type=int, default=harden.cnn_blocks,
                   help="residual convolutions per stage of the new image path (0: as many "
                        "as the model has); added blocks start as the identity")
    p.add_argument("--eval-every", type=int, default=harden.eval_every,
                   help="steps between validations")
    p.add_argument("--seed", type=int, default=harden.seed, help="seed of looks and batches")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    _add_common(p)
    p.set_defaults(func=cmd_harden_encoder)


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="trained checkpoint -> ONNX files + meta.json")
    p.add_argument("--checkpoint", required=True, help="the --out folder of 'wmp train'")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--horizon", type=int, default=8, help="imagined steps per dynamics call")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (17 or later)")
    p.add_argument("--data", nargs="+", default=None,
                   help="held-out data for the surprise calibration (default: the training "
                        "run's validation episodes)")
    p.add_argument("--name", default=None, help="model name in meta.json")
    p.add_argument("--robot", default=None,
                   help="robot config the model is for: a checkpoint of other joints is refused")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    _add_common(p)
    p.set_defaults(func=cmd_export)


def _add_calibrate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="calibrate a model's surprise monitor on other episodes "
                       "(e.g. recordings of the deployed arm)")
    p.add_argument("--model", required=True, help="model folder written by 'wmp export'")
    p.add_argument("--data", nargs="+", required=True,
                   help="episodes of nominal operation: 'wmp collect' datasets or the recorder "
                        "node's MCAP recordings")
    p.add_argument("--out", default=None,
                   help="write a calibrated copy here (default: update the folder in place)")
    p.add_argument("--robot", default=None,
                   help="robot config of MCAP recordings in --data (default: the package arm)")
    p.add_argument("--reground-quantile", type=float, default=None,
                   help="share of the episodes' steps under the latent re-ground thresholds "
                        "(default: as the model was calibrated, 0.995 from 'wmp export')")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    _add_common(p)
    p.set_defaults(func=cmd_calibrate)


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="model report on held-out data (docs/MODEL.md)")
    p.add_argument("checkpoints", nargs="+", help="training folders (one per objective)")
    p.add_argument("--data", nargs="+", default=None, help="datasets (default: training data)")
    p.add_argument("--out", required=True,
                   help="Markdown file to write (figures beside it), e.g. runs/MODEL.md; "
                        "docs/MODEL.md is the shipped model's report of record")
    p.add_argument("--json", action="store_true", help="print the numbers on stdout")
    _add_common(p)
    p.set_defaults(func=cmd_report)


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="seeded benchmark episodes against baselines")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model; "
                   "models/wmp_arm_push for --task push)")
    p.add_argument("--task", choices=("reach", "push"), default=None,
                   help="task to evaluate (default: the sim config's task)")
    p.add_argument("--episodes", type=int, default=50, help="episodes per method and condition")
    p.add_argument("--conditions", default=None,
                   help="comma-separated (default: all of the task's). reach: nominal,lighting,"
                        "camera_offset,distractor,colour,dropout,push; push: nominal,lighting,"
                        "camera_offset,distractor,object_colour,object_size,object_mass,"
                        "object_friction,dropout,object_push")
    p.add_argument("--methods", default=None,
                   help="comma-separated (default: all of the task's). reach: wm_cem,wm_mppi,"
                        "oracle,random,p_controller; push: wm_cem,wm_mppi,oracle,scripted,"
                        "perceived_scripted,reach_model,random")
    p.add_argument("--seed", type=int, default=1000, help="task seed")
    p.add_argument("--backend", choices=("onnx", "torch"), default=None)
    p.add_argument("--providers", default=None, help="ONNX Runtime providers")
    p.add_argument("--out", default="docs", help="folder for EVAL.md, eval.json and figures/")
    p.add_argument("--no-report", action="store_true", help="only print the results")
    p.add_argument("--planner-config", default="config/planner.yaml")
    p.add_argument("--sim-config", default="config/sim.yaml")
    p.add_argument("--robot", default=None,
                   help="robot config of the simulated arm (default: the sim config's sim.robot)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    _add_common(p)
    p.set_defaults(func=cmd_eval)


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="planner latency, throughput, efficiency and memory")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--providers", default=None, help="ONNX Runtime providers (auto, cuda, ...)")
    p.add_argument("--task", choices=("reach", "push"), default="reach",
                   help="push: time the push step beside the reach step in one run")
    p.add_argument("--steps", type=int, default=200, help="control steps timed")
    p.add_argument("--plans", type=int, default=1000, help="plans for the memory check")
    p.add_argument("--planner-config", default="config/planner.yaml")
    p.add_argument("--sim-config", default="config/sim.yaml")
    p.add_argument("--robot", default=None,
                   help="robot config of the simulated arm (default: the sim config's sim.robot)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _add_common(p)
    p.set_defaults(func=cmd_bench)


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="start the node graph of a mode (like ros2 launch)")
    p.add_argument("--mode", choices=("mujoco", "gazebo", "real"), required=True)
    p.add_argument("--task", choices=("reach", "push"), default="reach",
                   help="reach: the tool to where a goal image shows it; push: an object on the "
                        "floor to where a goal image shows it (the simulator poses it; the "
                        "planner refuses a model of the other task)")
    p.add_argument("--goals", type=int, default=0,
                   help="stop after this many goals (mujoco; default: run until Ctrl-C)")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model of "
                   "the task, models/wmp_arm_reach or models/wmp_arm_push)")
    p.add_argument("--robot", default="config/robots/wmp_arm.yaml", help="robot config")
    p.add_argument("--command-interface", choices=("position", "trajectory"),
                   default="position")
    p.add_argument("--namespace", default="", help="ROS namespace of the whole graph")
    p.add_argument("--seed", type=int, default=0, help="task seed of the simulator")
    p.add_argument("--timeout", type=float, default=0.0, help="stop after this many seconds")
    p.add_argument("--report", default=None, help="write a report PNG here")
    p.add_argument("--log-dir", default=None, help="write each node's output here")
    p.add_argument("--confirm-real", action="store_true",
                   help="required for --mode real: the arm will move")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    _add_common(p)
    p.set_defaults(func=cmd_run)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main demo (what 'make demo' runs)")
    p.add_argument("--out", default="demo_output", help="output folder")
    p.add_argument("--push-goals", type=int, default=3,
                   help="seeded push goals, run first (0: none)")
    p.add_argument("--goals", type=int, default=6, help="seeded reach goals, run next (0: none)")
    p.add_argument("--seed", type=int, default=7, help="task seed")
    p.add_argument("--push-model", default=None,
                   help="push model folder (default: the shipped models/wmp_arm_push)")
    p.add_argument("--model", default=None,
                   help="reach model folder (default: the shipped models/wmp_arm_reach)")
    p.add_argument("--timeout", type=float, default=170.0,
                   help="stop after this many seconds in all")
    p.add_argument("--push-timeout", type=float, default=100.0,
                   help="of which the push part may take at most this many")
    _add_common(p)
    p.set_defaults(func=cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    """`wmp` and its subcommands, each added by its own `_add_<name>` above (flags, help texts
    and handler), in the order `wmp --help` lists them."""
    parser = argparse.ArgumentParser(
        prog="wmp", description="Learned world-model MPC for robot arms (world_model_planner).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_collect, _add_validate, _add_sheet, _add_train, _add_refit_ensemble,
                _add_harden_encoder, _add_export, _add_calibrate, _add_report, _add_eval,
                _add_bench, _add_run, _add_demo):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="[wmp %(levelname)s] %(message)s")
    logging.getLogger("OpenGL").setLevel(logging.WARNING)  # PyOpenGL's import chatter
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        print("wmp: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        if args.verbose:
            log.exception("failed")
        print(f"wmp {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

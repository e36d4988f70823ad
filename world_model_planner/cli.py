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


def _simulation_config(path: str, image_size: int | None = None) -> Any:
    import dataclasses

    from .core import config as cfg
    from .core.paths import resolve

    simulation = cfg.load(cfg.SimulationConfig, resolve(path, kind="sim config"),
                          node=cfg.SIM_NODE)
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

    simulation = _simulation_config(args.sim_config, args.image_size)
    collect_cfg = cfg.load(cfg.CollectConfig, resolve(args.config, kind="collect config"))
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
    return 0


def dataset_sheet(data: str | Path, out: str | Path, episodes: int = 4, columns: int = 8) -> Path:
    """PNG of goal images and evenly spaced frames of the first episodes of a dataset."""
    import numpy as np

    from .core.data.shards import Dataset
    from .core.viz import contact_sheet, save_png

    rows, labels = [], []
    for ep in Dataset(data).episodes():
        picks = np.linspace(0, ep.steps, columns).round().astype(int)
        rows.append([ep.goal_image] + [ep.images[t] for t in picks])
        labels.append(f"episode {ep.index}")
        if len(rows) >= episodes:
            break
    heads = ["goal"] + [f"t={t}" for t in picks]
    return save_png(contact_sheet(rows, row_labels=labels, column_labels=heads), out)


def cmd_sheet(args: argparse.Namespace) -> int:
    path = dataset_sheet(args.data, args.out, args.episodes)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The visible slice so far: seeded episodes from the simulator and their contact sheet."""
    from .core.data.collect import collect

    out = Path(args.out)
    simulation = _simulation_config(args.sim_config)
    result = collect(out / "episodes", args.episodes, seed=args.seed, simulation=simulation,
                     progress=not args.quiet)
    sheet = dataset_sheet(out / "episodes", out / "contact_sheet.png", args.episodes)
    m = result.manifest
    print(f"demo: {m['episodes']} seeded episodes ({m['frames']} frames, "
          f"{result.frames_per_second:.0f} frames/s) in {out / 'episodes'}", file=sys.stderr)
    print(f"demo: contact sheet of goal images and camera frames: {sheet}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wmp", description="Learned world-model MPC for robot arms (world_model_planner).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("collect", help="record exploration episodes from the embedded simulator")
    p.add_argument("--episodes", type=int, required=True, help="number of episodes")
    p.add_argument("--out", required=True, help="dataset folder (created; resumed if compatible)")
    p.add_argument("--seed", type=int, default=0, help="collection seed (default 0)")
    p.add_argument("--image-size", type=int, default=None, metavar="PX",
                   help="square camera image size (default: config/sim.yaml)")
    p.add_argument("--workers", type=int, default=1, help="parallel simulator processes")
    p.add_argument("--config", default="config/collect.yaml", help="exploration config")
    p.add_argument("--sim-config", default="config/sim.yaml", help="simulator and task config")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    _add_common(p)
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("validate", help="check dataset folders shard by shard")
    p.add_argument("data", nargs="+", help="dataset folders")
    p.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    _add_common(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("sheet", help="contact sheet PNG of a dataset's first episodes")
    p.add_argument("data", help="dataset folder")
    p.add_argument("--out", default="contact_sheet.png", help="PNG path")
    p.add_argument("--episodes", type=int, default=4, help="episodes (rows) to show")
    _add_common(p)
    p.set_defaults(func=cmd_sheet)

    p = sub.add_parser("demo", help="the main demo (what 'make demo' runs)")
    p.add_argument("--out", default="demo_output", help="output folder")
    p.add_argument("--episodes", type=int, default=4, help="seeded episodes")
    p.add_argument("--seed", type=int, default=7, help="seed")
    p.add_argument("--sim-config", default="config/sim.yaml", help="simulator and task config")
    _add_common(p)
    p.set_defaults(func=cmd_demo)
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

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
"""A whole `wmp eval` run: every method, condition and episode, then the report and figures.

The command line only parses flags and prints; what the run measures, which frames it keeps for
the failure gallery and the imagined-against-real strip, and what it writes live here.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import config as cfgmod
from . import eval_report
from .eval import (CONDITIONS, METHODS, PUSH_CONDITIONS, PUSH_METHODS, EpisodeResult, Evaluator,
                   condition_perturbations, summarize)
from .paths import TASK_MODELS
from .viz import contact_sheet, save_png

GALLERY = 12  # failed world-model episodes kept for the failure gallery
PUSH_MODEL = TASK_MODELS["push"]  # the push task's default model


def eval_config(task: str, episodes: int, seed: int, methods: Sequence[str] | None,
                conditions: Sequence[str] | None) -> cfgmod.EvalConfig:
    """The run's settings: the task's methods and conditions unless others are named."""
    push = task == "push"
    methods = tuple(methods) if methods else (PUSH_METHODS if push else cfgmod.EvalConfig().methods)
    conditions = tuple(conditions) if conditions else (
        PUSH_CONDITIONS if push else cfgmod.EvalConfig().conditions)
    for flag, chosen, valid in (("--methods", methods, PUSH_METHODS if push else METHODS),
                                ("--conditions", conditions,
                                 PUSH_CONDITIONS if push else CONDITIONS)):
        unknown = [c for c in chosen if c not in valid]
        if unknown:
            raise cfgmod.ConfigError(f"{flag}: unknown {unknown} for the {task} task; choose "
                                     f"from {', '.join(valid)}")
    base = cfgmod.to_dict(cfgmod.EvalConfig())
    return cfgmod.from_dict(cfgmod.EvalConfig, {**base, "episodes": episodes, "seed": seed,
                                                "methods": list(methods),
                                                "conditions": list(conditions)}, source="flags")


def task_planner(simulation: cfgmod.SimulationConfig, planner: cfgmod.PlannerConfig,
                 model_given: bool) -> cfgmod.PlannerConfig:
    """The push task plans with the push model unless a model was named."""
    if simulation.task == "push" and not model_given:
        return dataclasses.replace(planner, model=PUSH_MODEL)
    return planner


def run_evaluation(simulation: cfgmod.SimulationConfig, planner: cfgmod.PlannerConfig,
                   eval_cfg: cfgmod.EvalConfig, out: Path | None, command: str,
                   progress: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run everything, write the report into `out` (None: no files); (summary, info)."""
    from tqdm import tqdm

    methods, conditions = eval_cfg.methods, eval_cfg.conditions
    bar = tqdm(total=len(methods) * len(conditions) * eval_cfg.episodes, desc="eval",
               unit="episode", file=sys.stderr, disable=not progress)
    evaluator = Evaluator(simulation, planner, eval_cfg, on_episode=lambda r: bar.update(1))
    results: list[EpisodeResult] = []
    gallery: list[tuple[EpisodeResult, np.ndarray]] = []
    for method in methods:
        for condition in conditions:
            for index in range(eval_cfg.episodes):
                learned = method.startswith("wm_")
                r = evaluator.run_episode(method, condition, index, keep=[] if learned else None)
                results.append(r)
                if learned and not r.success and len(gallery) < GALLERY:
                    gallery.append((r, evaluator.sim.render()))
    bar.close()
    summary = summarize(results, eval_cfg)
    task = evaluator.task.config
    info: dict[str, Any] = {
        "command": command, "model": planner.model, "task": simulation.task,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "date": datetime.date.today().isoformat(),
        "radius": task.success_radius, "episode_steps": simulation.episode_steps,
        "planner": cfgmod.to_dict(planner),
    }
    learned = [m for m in methods if m.startswith("wm_")]
    if learned or "perceived_scripted" in methods:
        info["model_id"] = evaluator.model.model_id
        info["provider"] = evaluator.model.provider
    if out is not None:
        extra = write_figures(evaluator, learned, gallery, Path(out) / "figures")
        path = eval_report.write(results, summary, eval_cfg, Path(out), info, extra)
        print(f"wrote {path}", file=sys.stderr)
    return summary, info


def write_figures(evaluator: Evaluator, learned: Sequence[str],
                  gallery: Sequence[tuple[EpisodeResult, np.ndarray]],
                  figures: Path) -> dict[str, Path]:
    """The imagined-against-real strip and the failure gallery."""
    figures.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Path] = {}
    if learned:
        extra["strip"] = imagined_strip(evaluator, learned[0],
                                        figures / "eval_imagined_vs_real.png")
    if gallery:
        rows = [[goal, final] for (_, final), goal in
                zip(gallery, goal_frames(evaluator, [r for r, _ in gallery]))]
        labels = [f"{r.method} {r.condition} #{r.index}" for r, _ in gallery]
        extra["failures"] = save_png(contact_sheet(
            rows, row_labels=labels, column_labels=["goal image", "last frame"]),
            figures / "eval_failures.png")
    return extra


def goal_frames(evaluator: Evaluator, episodes: Sequence[EpisodeResult]) -> list[np.ndarray]:
    """Goal images of these episodes, drawn again from their seeds and conditions."""
    frames = []
    for r in episodes:
        rng = np.random.default_rng(r.seed)
        evaluator.sim.set_perturbations(condition_perturbations(
            evaluator.simulation.perturbations, r.condition), variant=r.index)
        _, goal_at = evaluator.task.sample_episode(rng)
        frames.append(evaluator.task.make_goal(goal_at).image)
    return frames


def imagined_strip(evaluator: Evaluator, method: str, path: Path, steps: int = 8) -> Path:
    """Real frames against the frames the model imagined for them at plan time (episode 0)."""
    keep: list = []
    evaluator.run_episode(method, "nominal", 0, keep=keep)
    t0 = min(5, max(0, len(keep) - steps - 1))
    plan = keep[t0][1]["result"].plan
    imagined = evaluator.model.decode(plan.predicted_latents[:steps])
    imagined = (np.clip(imagined, 0, 1) * 255).astype(np.uint8)
    real = [keep[t0 + 1 + i][0].image for i in range(min(steps, len(keep) - t0 - 1))]
    return save_png(contact_sheet([real, list(imagined[: len(real)])],
                                  row_labels=["real", "imagined"],
                                  column_labels=[f"t+{i + 1}" for i in range(len(real))]), path)

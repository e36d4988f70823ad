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
"""What `wmp run` and `wmp demo` report: the task results and planner diagnostics a run saw,
summed up as numbers (the --json summary) and as a PNG.

The run monitor node fills a :class:`RunLog` from ROS messages; everything here is plain data, so
the figures can be recomputed from a log without a ROS graph.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .observation import fit_image

STAMP_TOLERANCE = 0.05  # s: a goal image this close to a goal's start time is its goal
KEPT_FRAMES = 30  # camera frames kept to find each goal's last one (3 s at 10 Hz)
KEPT_GOALS = 50
STRIP_GOALS = 10  # goals shown in a report's goal/final strip


@dataclass
class GoalSnapshot:
    """What a goal looked like to the camera: the goal image it was given and the last frame
    before it ended (None where it was not received)."""

    episode: int
    success: bool
    goal: np.ndarray | None
    final: np.ndarray | None


@dataclass
class RunLog:
    """Task results (the simulator's JSON, one per goal) and the planner's diagnostics
    (key/value pairs, about one a second), in the order they arrived, and each goal's
    snapshot."""

    results: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: list[dict[str, str]] = field(default_factory=list)
    snapshots: list[GoalSnapshot] = field(default_factory=list)


class GoalFrames:
    """Pairs each task result with its goal image and its last camera frame.

    Results, goal images and frames arrive on different topics in any order; all are stamped in
    the simulator's time. A result says when its goal started (started_s) and how long it ran, so
    its goal image is the one stamped at the start, and its final frame the last one stamped
    before the end (the frame stamped at the end already shows the next goal's start), known once
    a frame at or after the end has arrived (or at :meth:`flush`).
    """

    def __init__(self) -> None:
        self._goals: deque[tuple[float, np.ndarray]] = deque(maxlen=KEPT_GOALS)
        self._frames: deque[tuple[float, np.ndarray]] = deque(maxlen=KEPT_FRAMES)
        self._pending: list[tuple[dict[str, Any], float]] = []

    def on_goal(self, stamp: float, image: np.ndarray) -> None:
        self._goals.append((stamp, image))

    def on_frame(self, stamp: float, image: np.ndarray) -> list[GoalSnapshot]:
        """A camera frame; the snapshots it completes."""
        self._frames.append((stamp, image))
        return self._resolve(final=False)

    def on_result(self, result: dict[str, Any]) -> list[GoalSnapshot]:
        """A task result; its snapshot if the frames already show how it ended."""
        try:
            end = float(result["started_s"]) + float(result["seconds"])
        except (KeyError, TypeError, ValueError):
            return []  # a result without times (another simulator): nothing to pair
        self._pending.append((result, end))
        return self._resolve(final=False)

    def flush(self) -> list[GoalSnapshot]:
        """Snapshots of every result still waiting, from the frames there are."""
        return self._resolve(final=True)

    def _resolve(self, final: bool) -> list[GoalSnapshot]:
        newest = self._frames[-1][0] if self._frames else -np.inf
        done, waiting = [], []
        for result, end in self._pending:
            (done if final or newest >= end - 1e-6 else waiting).append((result, end))
        self._pending = waiting
        return [self._snapshot(r, end) for r, end in done]

    def _snapshot(self, result: dict[str, Any], end: float) -> GoalSnapshot:
        start = float(result["started_s"])
        goals = [(abs(t - start), img) for t, img in self._goals
                 if abs(t - start) <= STAMP_TOLERANCE]
        frames = [img for t, img in self._frames if t < end - 1e-6]
        return GoalSnapshot(int(result.get("episode", -1)), bool(result.get("success")),
                            min(goals, key=lambda g: g[0])[1] if goals else None,
                            frames[-1] if frames else None)


def run_summary(log: RunLog, seconds: float) -> dict[str, Any]:
    """Goals reached, final errors and the planner's last reported rate, latency and
    surprise-monitor decisions."""
    results = log.results
    diag = log.diagnostics[-1] if log.diagnostics else {}

    def number(key: str) -> float | None:
        try:
            return float(diag[key])
        except (KeyError, ValueError):
            return None

    return {
        "goals": len(results), "successes": sum(bool(r.get("success")) for r in results),
        "final_errors_m": [float(r.get("final_error_m", float("nan"))) for r in results],
        "median_final_error_m": float(np.median([r.get("final_error_m", np.nan)
                                                 for r in results])) if results else None,
        "control_rate_hz": number("loop_rate_hz"),
        "plan_latency_p50_ms": number("plan_latency_p50_ms"),
        "plan_latency_p99_ms": number("plan_latency_p99_ms"),
        "e2e_latency_p50_ms": number("e2e_latency_p50_ms"),
        "e2e_latency_p99_ms": number("e2e_latency_p99_ms"),
        "provider": diag.get("provider"), "model": diag.get("model_id"),
        "surprise_decisions": {k[len("steps_"):]: int(float(v)) for k, v in diag.items()
                               if k.startswith("steps_")},
        "seconds": round(seconds, 1), "results": results,
        # goals whose goal image and last camera frame the report shows
        "pictured_goals": sum(s.goal is not None and s.final is not None for s in log.snapshots),
    }


def write_run_report(log: RunLog, summary: dict[str, Any], path: Path) -> None:
    """PNG: final error per goal (success coloured) and the loop's rate and latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    strip = goal_strip(log.snapshots)
    fig = plt.figure(figsize=(11, 3.8 if strip is None else 7.6))
    rows = 1 if strip is None else 2
    axes = [fig.add_subplot(rows, 2, 1), fig.add_subplot(rows, 2, 2)]
    errors = np.array(summary["final_errors_m"]) * 100
    colours = ["tab:green" if r.get("success") else "tab:red" for r in log.results]
    axes[0].bar(np.arange(len(errors)), errors, color=colours)
    axes[0].set_xticks(np.arange(len(errors)))
    axes[0].axhline(3.0, color="k", ls="--", lw=0.8, label="success radius")
    push = summary.get("task") == "push"
    axes[0].set(xlabel="goal", ylabel=f"final {'object' if push else 'tool'} error (cm)",
                title=f"{summary['successes']}/{summary['goals']} "
                      f"{'push ' if push else ''}goals reached")
    axes[0].legend()
    rates = [float(d["loop_rate_hz"]) for d in log.diagnostics if "loop_rate_hz" in d]
    lat = [float(d["plan_latency_p50_ms"]) for d in log.diagnostics if "plan_latency_p50_ms" in d]
    axes[1].plot(rates, label="control rate (Hz)")
    axes[1].plot(lat, label="plan latency p50 (ms)")
    axes[1].set(xlabel="diagnostics message (1 Hz)", title="planner loop")
    axes[1].legend()
    axes[1].grid(alpha=0.3)
    if strip is not None:
        ax = fig.add_subplot(rows, 1, 2)
        ax.imshow(strip)
        ax.set_axis_off()
        ax.set_title("per goal: the goal image (top) and the camera's last frame before the goal "
                     "ended (bottom); "
                     "green: reached, red: missed", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def goal_strip(snapshots: list[GoalSnapshot]) -> np.ndarray | None:
    """One image: per goal (the first STRIP_GOALS), the goal image above the final frame, framed
    green when reached and red when missed; None without any snapshot that has both."""
    pairs = [s for s in snapshots if s.goal is not None and s.final is not None][:STRIP_GOALS]
    if not pairs:
        return None
    h, w = pairs[0].final.shape[:2]
    border = max(2, h // 40)
    columns = []
    for snap in pairs:
        colour = np.array((40, 160, 60) if snap.success else (200, 40, 40), np.uint8)
        column = np.concatenate([fit_image(snap.goal, h, w), fit_image(snap.final, h, w)],
                                axis=0)
        framed = np.empty((2 * h + 2 * border, w + 2 * border, 3), np.uint8)
        framed[:] = colour
        framed[border:-border, border:-border] = column
        columns.append(framed)
    gap = np.full((columns[0].shape[0], border * 2, 3), 255, np.uint8)
    return np.concatenate([c for col in columns for c in (col, gap)][:-1], axis=1)

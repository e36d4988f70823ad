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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class RunLog:
    """Task results (the simulator's JSON, one per goal) and the planner's diagnostics
    (key/value pairs, about one a second), in the order they arrived."""

    results: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: list[dict[str, str]] = field(default_factory=list)


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
    }


def write_run_report(log: RunLog, summary: dict[str, Any], path: Path) -> None:
    """PNG: final error per goal (success coloured) and the loop's rate and latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    errors = np.array(summary["final_errors_m"]) * 100
    colours = ["tab:green" if r.get("success") else "tab:red" for r in log.results]
    axes[0].bar(np.arange(len(errors)), errors, color=colours)
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""Doctored copies of real runs (as baselines), for testing and measuring the gate: one latency's
per-request samples changed and the level statistics recomputed as summarize computes them. A tool
for tests and benchmarks, not part of the harness."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reports.baseline import Baseline, BaselineRun

STATS = {"median": 50, "p90": 90, "p95": 95, "p99": 99}


def doctored(
    run: BaselineRun,
    name: str,
    change: Callable[[np.ndarray], np.ndarray],
    *,
    deployment: str | None = None,
    run_id: str = "doctored",
) -> BaselineRun:
    """The run with sample `name` (ttft, tpot, itl, e2el) changed in every level (of one deployment)."""
    samples: dict[str, dict[str, dict[str, list[float]]]] = {}
    metrics: dict[str, dict[str, dict[str, float | int | None]]] = {}
    for d, levels in run.samples.items():
        samples[d], metrics[d] = {}, {}
        for level, by_name in levels.items():
            values = np.asarray(by_name[name])
            new = change(values) if deployment in (None, d) else values
            samples[d][level] = by_name | {name: new.tolist()}
            recomputed = {f"{stat}_{name}_ms": float(np.percentile(new, q)) for stat, q in STATS.items()}
            metrics[d][level] = dict(run.metrics[d][level]) | recomputed
    return run.model_copy(update={"samples": samples, "metrics": metrics, "run_id": run_id})


def slowest_eighth_3x(values: np.ndarray) -> np.ndarray:
    """The issue's tail-only regression: the slowest eighth of the requests three times slower."""
    out = values.copy()
    out[np.argsort(out)[-max(1, len(out) // 8) :]] *= 3
    return out


def side(baseline: Baseline, *runs: BaselineRun) -> Baseline:
    return baseline.model_copy(update={"runs": list(runs)})

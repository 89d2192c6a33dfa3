"""Baselines for `bench gate`: the figures of one or more runs of a scenario, saved to one file."""

from __future__ import annotations

from pathlib import Path
from statistics import mean, stdev

from pydantic import BaseModel, ConfigDict, Field

from reports.run_data import RunData, open_runs
from reports.samples import level_samples
from reports.served_setup import served_setup
from runfolder.versioned import RunFolderError, load_versioned

# 2: ITL samples and the planner's residual per deployment (version 1 files are still read)
BASELINE_VERSION = 3  # 3: each run's served setup


class BaselineRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    metrics: dict[str, dict[str, dict[str, float | int | None]]]  # deployment -> level -> metric -> value
    capacity: dict[str, int | None]  # deployment -> reported KV capacity (tokens)
    samples: dict[str, dict[str, dict[str, list[float]]]]  # deployment -> level -> ttft/tpot/itl/e2el -> ms
    residual: dict[str, float | None] = {}  # deployment -> (reported - predicted) / reported KV tokens
    setup: dict[str, dict[str, str]] = {}  # deployment -> what it served with (served_setup); absent before 3


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = BASELINE_VERSION
    scenario: str
    runs: list[BaselineRun] = Field(min_length=1)


def baseline_run(run: RunData) -> BaselineRun:
    metrics, capacity, samples = {}, {}, {}
    for d in run.record.deployments:
        metrics[d.name] = {level.name: dict(level.metrics) for level in d.levels}
        capacity[d.name] = d.capacity.reported_tokens if d.capacity else None
        requests = run.requests(d)
        samples[d.name] = {
            level.name: {k: v.tolist() for k, v in level_samples(requests, level.name).items()} for level in d.levels
        }
    residual = {d.name: d.capacity.relative_error if d.capacity else None for d in run.record.deployments}
    setup = {d.name: served_setup(run, d) for d in run.record.deployments}
    return BaselineRun(run_id=run.record.run_id, metrics=metrics, capacity=capacity, samples=samples,
                       residual=residual, setup=setup)  # fmt: skip


def run_to_run_spread(baseline: Baseline, metrics: tuple[str, ...]) -> dict[str, float]:
    """Per metric, the largest relative spread (sample sd / mean over the runs) of any (deployment, level):
    what a `sigma` limit multiplies. Empty with fewer than two runs."""
    if len(baseline.runs) < 2:
        return {}
    spread: dict[str, float] = {}
    for deployment, levels in baseline.runs[0].metrics.items():
        for level in levels:
            for metric in metrics:
                values = [
                    v for run in baseline.runs if (v := run.metrics.get(deployment, {}).get(level, {}).get(metric))
                ]
                if len(values) >= 2 and mean(values):
                    spread[metric] = max(spread.get(metric, 0.0), stdev(values) / mean(values))
    return spread


def scenario_name(run: RunData) -> str:
    return str((run.record.scenario or {}).get("name", run.record.kind))


def make_baseline(runs: list[RunData]) -> Baseline:
    names = {scenario_name(r) for r in runs}
    if len(names) != 1:
        raise RunFolderError(f"runs of different scenarios {sorted(names)}; fix: save one baseline per scenario")
    return Baseline(scenario=names.pop(), runs=[baseline_run(r) for r in runs])


def load_baseline(path: Path) -> Baseline:
    """A baseline file, or run folder(s) used directly as the baseline."""
    path = Path(path)
    if path.is_dir():
        return make_baseline(open_runs([path]))
    return load_versioned(
        path, Baseline, BASELINE_VERSION, f"{path}: no such baseline; fix: bench baseline save RUN -o {path}"
    )

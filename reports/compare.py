"""Two runs side by side: per (deployment, level, metric) the change and its 95% bootstrap interval.

The interval resamples each run's per-request samples (scipy.stats.bootstrap, percentile method)
for latency statistics; throughput is one number per run, so its change carries no interval here
(repeat runs and use `bench gate` for a test).
"""

from __future__ import annotations

import warnings

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats

from reports.run_data import RunData
from reports.samples import level_samples, sample_for

METRICS = (
    "median_ttft_ms",
    "p99_ttft_ms",
    "median_tpot_ms",
    "p99_tpot_ms",
    "median_itl_ms",
    "p99_e2el_ms",
    "request_throughput",
    "output_throughput",
)


class Delta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deployment: str
    level: str
    metric: str
    a: float | None
    b: float | None
    change: float | None  # b / a - 1
    ci_low: float | None = None
    ci_high: float | None = None


def compare_runs(a: RunData, b: RunData, metrics: tuple[str, ...] = METRICS, seed: int = 0) -> list[Delta]:
    deltas = []
    for da in a.record.deployments:
        db = next((d for d in b.record.deployments if d.name == da.name), None)
        if db is None:
            continue
        ca, cb = da.capacity, db.capacity
        if ca and cb:
            deltas.append(_delta(da.name, "-", "kv_capacity_tokens", a=ca.reported_tokens, b=cb.reported_tokens))
        req_a, req_b = a.requests(da), b.requests(db)
        for la in da.levels:
            lb = next((lvl for lvl in db.levels if lvl.name == la.name), None)
            if lb is None:
                continue
            sa, sb = level_samples(req_a, la.name), level_samples(req_b, lb.name)
            for metric in metrics:
                delta = _delta(da.name, la.name, metric, a=la.metrics.get(metric), b=lb.metrics.get(metric))
                deltas.append(_with_interval(delta, sample_for(metric), sa, sb, seed=seed))
    return deltas


def _delta(deployment: str, level: str, metric: str, *, a: float | None, b: float | None) -> Delta:
    change = (b / a - 1) if a and b is not None else None
    return Delta(deployment=deployment, level=level, metric=metric, a=a, b=b, change=change)


def _with_interval(
    delta: Delta, sample: tuple[str, float] | None, sa: dict[str, np.ndarray], sb: dict[str, np.ndarray], *, seed: int
) -> Delta:
    if sample is None:
        return delta
    name, q = sample
    x, y = sa[name], sb[name]
    if len(x) < 3 or len(y) < 3 or not np.percentile(x, q):
        return delta
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")  # identical samples make a degenerate bootstrap: the interval is [0, 0]
        result = stats.bootstrap(
            (x, y),
            lambda u, v, axis=-1: np.percentile(v, q, axis=axis) / np.percentile(u, q, axis=axis) - 1,
            n_resamples=999,
            method="percentile",
            vectorized=True,
            random_state=seed,
        )
    return delta.model_copy(
        update={"ci_low": float(result.confidence_interval.low), "ci_high": float(result.confidence_interval.high)}
    )

"""A quantile's change between two samples, with a bootstrap interval, and what would narrow it.

change = Q_q(current) / Q_q(baseline) - 1, Q by linear interpolation (numpy.percentile, as the
metrics are computed). The interval: percentile bootstrap, both samples resampled independently
(seeded), bounds at alpha and 1 - alpha (each one-sided at alpha). Its false-positive rate on
identical data is measured by tests/unit/reports/test_gate_regressions.py, not assumed.
"""

from __future__ import annotations

from math import ceil

import numpy as np
from pydantic import BaseModel, ConfigDict

MIN_ABOVE = 5  # samples above the quantile a side needs before its tail says much


class QuantileChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    change: float
    low: float
    high: float
    n_baseline: int
    n_current: int


def quantile_change(  # noqa: PLR0917 - the two samples and the quantile are the question itself
    baseline: np.ndarray, current: np.ndarray, q: float, *, alpha: float, resamples: int, seed: int = 0
) -> QuantileChange:
    rng = np.random.default_rng(seed)
    qb = np.percentile(baseline[rng.integers(0, len(baseline), (resamples, len(baseline)))], q, axis=1)
    qc = np.percentile(current[rng.integers(0, len(current), (resamples, len(current)))], q, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(qb > 0, qc / qb - 1, 0.0)
    point = float(np.percentile(current, q) / np.percentile(baseline, q) - 1) if np.percentile(baseline, q) else 0.0
    low, high = np.percentile(ratios, [100 * alpha, 100 * (1 - alpha)])
    return QuantileChange(
        change=point, low=float(low), high=float(high), n_baseline=len(baseline), n_current=len(current)
    )


def requests_to_decide(result: QuantileChange, limit: float, q: float) -> int:
    """About how many requests a side would put the interval on one side of the limit: the width
    shrinks as 1 / sqrt(n); and each side needs MIN_ABOVE samples above the quantile."""
    n = min(result.n_baseline, result.n_current)
    margin = abs(result.change - limit)
    half_width = (result.high - result.low) / 2
    by_width = ceil(n * (half_width / margin) ** 2) if margin > 0 else 10 * n
    by_tail = ceil(MIN_ABOVE / max(1 - q / 100, 1e-6))
    return max(n + 1, by_width, by_tail)

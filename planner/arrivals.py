"""Seeded arrival schedules: absolute send offsets in seconds from the level's start, never relative sleeps.
One home for bench, which sends at these offsets, and the planner's replay, which predicts the same level.

The schedule is `vllm bench serve`'s (vllm/benchmarks/serve.py, `get_request`): request i waits its own
gap, drawn from a gamma with shape = burstiness and scale = 1 / (rate x burstiness) (burstiness 1 is
Poisson) from numpy's seeded legacy generator, as vLLM draws it; the cumulative delays are then
rescaled so that the last request leaves at exactly N / rate (vLLM's normalization, which keeps the
offered rate from drifting with the seed). `constant` spaces requests exactly 1 / rate apart. A ramp
moves the rate linearly from start to end over the requests and, as in vLLM, is not rescaled; nor is
a level bounded by duration alone (its N is not known). `normalize: false` keeps the pure renewal
process.
"""

from __future__ import annotations

from typing import Final

import numpy as np

MAX_REQUESTS = 1_000_000
# the default arrival, vLLM's: Poisson, rescaled to N / rate (a scenario's `arrival`, and what the replay predicts)
PROCESS: Final = "poisson"
NORMALIZE: Final = True


def level_seed(scenario_seed: int, index: int) -> int:
    """The seed of a level's prompts and arrivals: `vllm bench serve --seed` this number sends an
    open loop at the same offsets."""
    return scenario_seed * 1000 + index


def _gaps(rates: np.ndarray, process: str, burstiness: float, rng: np.random.RandomState) -> np.ndarray:
    if process == "constant":
        return 1.0 / rates
    shape = 1.0 if process == "poisson" else burstiness
    return rng.gamma(shape=shape, scale=1.0 / (rates * shape))


def schedule(
    count: int | None,
    duration_s: float | None,
    rate: float,
    *,
    process: str = PROCESS,
    burstiness: float = 1.0,
    seed: int = 0,
    end_rate: float | None = None,
    normalize: bool = NORMALIZE,
) -> list[float]:
    """Send offsets for `count` requests and/or until `duration_s`, whichever comes first."""
    if count is not None:
        n = count
    elif duration_s is not None:
        n = min(MAX_REQUESTS, int(np.ceil(duration_s * max(rate, end_rate or rate) * 2)) + 16)
    else:
        raise ValueError("a schedule needs a request count or a duration")
    rng = np.random.RandomState(seed)  # vLLM's own (legacy) generator: the same draws for the same seed
    rates = np.full(n, float(rate)) if end_rate is None else np.linspace(rate, end_rate, n)
    offsets = np.cumsum(_gaps(rates, process, burstiness, rng))
    if normalize and end_rate is None and count is not None and offsets[-1] > 0:
        offsets *= (count / rate) / offsets[-1]
    if duration_s is not None:
        offsets = offsets[offsets < duration_s]
    return [float(x) for x in offsets]

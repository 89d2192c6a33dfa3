"""Seeded arrival schedules: absolute send offsets in seconds from the level's start, never relative sleeps.

Gaps follow `vllm bench serve`: gamma with shape = burstiness and scale = 1 / (rate x burstiness)
(burstiness 1 is Poisson); `constant` spaces requests exactly 1/rate apart. A ramp moves the rate
linearly from start to end over the requests.
"""

from __future__ import annotations

import numpy as np

MAX_REQUESTS = 1_000_000


def _gaps(rates: np.ndarray, arrival: str, burstiness: float, rng: np.random.Generator) -> np.ndarray:
    if arrival == "constant":
        return 1.0 / rates
    shape = 1.0 if arrival == "poisson" else burstiness
    return rng.gamma(shape=shape, scale=1.0 / (rates * shape))


def schedule(
    count: int | None,
    duration_s: float | None,
    rate: float,
    *,
    arrival: str = "poisson",
    burstiness: float = 1.0,
    seed: int = 0,
    end_rate: float | None = None,
) -> list[float]:
    """Send offsets for `count` requests and/or until `duration_s`, whichever comes first.

    First request at 0; request i+1 follows request i by one gap drawn at request i's rate.
    """
    if count is not None:
        n = count
    elif duration_s is not None:
        n = min(MAX_REQUESTS, int(np.ceil(duration_s * max(rate, end_rate or rate) * 2)) + 16)
    else:
        raise ValueError("a schedule needs a request count or a duration")
    rng = np.random.default_rng(seed)
    rates = np.full(n, float(rate)) if end_rate is None else np.linspace(rate, end_rate, n)
    offsets = np.concatenate([[0.0], np.cumsum(_gaps(rates, arrival, burstiness, rng))[:-1]])
    if duration_s is not None:
        offsets = offsets[offsets < duration_s]
    return [float(x) for x in offsets]

"""Per-request latency samples of one (deployment, level), in ms, from a run folder's requests.jsonl."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from runfolder.requests import RequestRecord

LATENCY_SAMPLES = ("ttft", "tpot", "itl", "e2el")


def level_samples(requests: Sequence[RequestRecord], level: str) -> dict[str, np.ndarray]:
    """ttft, tpot, e2el per successful request and itl pooled over chunks (runfolder/requests.py defines them)."""
    ok = [r for r in requests if r.level == level and r.ok]
    return {
        "ttft": np.array([r.ttft_s for r in ok], dtype=float) * 1000,
        "e2el": np.array([r.e2el_s for r in ok], dtype=float) * 1000,
        "tpot": np.array([r.tpot_s for r in ok if r.tpot_s is not None], dtype=float) * 1000,
        "itl": np.array([gap for r in ok for gap in r.itl_s], dtype=float) * 1000,
    }


def sample_for(metric: str) -> tuple[str, float] | None:
    """('ttft', 50) for median_ttft_ms, ('tpot', 99) for p99_tpot_ms; None for non-latency metrics."""
    parts = metric.split("_")
    if len(parts) != 3 or parts[2] != "ms" or parts[1] not in LATENCY_SAMPLES:
        return None
    stat = parts[0]
    if stat == "median":
        return parts[1], 50.0
    if stat.startswith("p") and stat[1:].replace(".", "").isdigit():
        return parts[1], float(stat[1:])
    return None

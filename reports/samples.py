"""Per-request latency samples of one (deployment, level), in ms, from a run folder's requests.jsonl."""

from __future__ import annotations

import numpy as np
import pandas as pd

LATENCY_SAMPLES = ("ttft", "tpot", "itl", "e2el")


def level_samples(requests: pd.DataFrame, level: str) -> dict[str, np.ndarray]:
    """ttft, e2el per request; tpot = (e2el - ttft) / (output - 1) for output > 1; itl pooled over chunks."""
    if requests.empty:
        return {k: np.array([]) for k in LATENCY_SAMPLES}
    ok = requests[(requests["level"] == level) & requests["ok"]]
    out = ok["completion_tokens"].fillna(0)
    many = ok[out > 1]
    tpot = (many["e2el_s"] - many["ttft_s"]) / (many["completion_tokens"] - 1)
    itl = [gap for gaps in ok["itl_s"] for gap in gaps]
    return {"ttft": ok["ttft_s"].to_numpy() * 1000, "e2el": ok["e2el_s"].to_numpy() * 1000,
            "tpot": tpot.to_numpy() * 1000, "itl": np.asarray(itl) * 1000}


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

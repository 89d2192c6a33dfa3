"""Serving metrics with `vllm bench serve`'s definitions and result-JSON names.

Over successful, non-warm-up requests (failed ones are counted, never averaged in), of the
per-request ttft, tpot, itl (pooled over all requests) and e2el defined in runfolder/requests.py:
- duration: level start (first dispatch) -> last completion.
- request_throughput = completed / duration; output_throughput = output tokens / duration;
  total_token_throughput = (input + output tokens) / duration.
- request_goodput = requests meeting every SLO (ttft, tpot, e2el; tpot counts as 0 when
  output <= 1) / duration.
- Percentiles by linear interpolation (numpy.percentile); mean, median, std as numpy computes them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from runfolder.requests import RequestRecord

PERCENTILES = (50, 90, 95, 99)


def _stats(name: str, values_s: Sequence[float]) -> dict[str, float]:
    values = np.asarray(values_s or [0.0]) * 1000
    out = {
        f"mean_{name}_ms": float(np.mean(values)),
        f"median_{name}_ms": float(np.median(values)),
        f"std_{name}_ms": float(np.std(values)),
    }
    out |= {f"p{p}_{name}_ms": float(np.percentile(values, p)) for p in PERCENTILES}
    return out


def summarize(
    records: Sequence[RequestRecord], duration_s: float, slo: dict[str, float] | None = None
) -> dict[str, Any]:
    """vllm-bench-named metrics for one level; `slo` maps ttft/tpot/e2el to milliseconds."""
    good = [r for r in records if r.ok and not r.warmup]
    failed = sum(1 for r in records if not r.ok and not r.warmup)
    outputs = [r.output_tokens for r in good]
    inputs = sum(r.prompt_tokens if r.prompt_tokens is not None else r.expected_input_tokens for r in good)
    tpots = [r.tpot_s for r in good if r.tpot_s is not None]
    duration = duration_s if duration_s > 0 else math.nan
    metrics = {
        "duration": duration_s,
        "completed": len(good),
        "failed": failed,
        # vllm bench serve's count: any event with choices succeeds ([DONE] not needed, error events ignored)
        "vllm_completed": sum(1 for r in records if r.vllm_ok and not r.warmup),
        "total_input_tokens": inputs,
        "total_output_tokens": sum(outputs),
        "request_throughput": len(good) / duration,
        "output_throughput": sum(outputs) / duration,
        "total_token_throughput": (inputs + sum(outputs)) / duration,
    }
    if slo:
        metrics["request_goodput"] = _good(good, slo) / duration
    # a successful request has both times (runfolder/requests.py); the filter only says so to the type checker
    metrics |= _stats("ttft", [r.ttft_s for r in good if r.ttft_s is not None]) | _stats("tpot", tpots)
    metrics |= _stats("itl", [gap for r in good for gap in r.itl_s])
    metrics |= _stats("e2el", [r.e2el_s for r in good if r.e2el_s is not None])
    return metrics


def _good(good: Sequence[RequestRecord], slo: dict[str, float]) -> int:
    limits = {k: v / 1000 for k, v in slo.items() if v is not None}
    count = 0
    for record in good:
        values = {"ttft": record.ttft_s, "tpot": record.tpot_s or 0.0, "e2el": record.e2el_s}
        count += all((values[k] or 0.0) <= limit for k, limit in limits.items())
    return count

"""A trace level checked against the planner: the live KV the planner's accounting gives for the
requests as they ran (each one live from its admission to its last token, on the run's own clock:
planner/trace_demand.py) over the server's vllm:kv_cache_usage_perc, and preemptions the plan did not
predict. The timing is the run's; the KV per moment is the planner's: what is checked is the block
accounting (prompt growth, shared prefixes counted once, a conversation's growing context), not the
latency model. Admission is not in the client's timestamps: a request reaches the engine after the
HTTP front end and the scheduler's queue (on a busy CPU host, hundreds of ms), so it is taken as its
first token less the level's mean prefill time from vLLM's own histogram (never before its send; at its
send when the level has no server histograms).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from planner.trace_demand import KvDemand, Lifetime, kv_demand
from reports.run_data import RunData
from runfolder.requests import RequestRecord
from runfolder.schema import DeploymentRecord, LevelSummary
from traces import read_trace


class TraceKvCheck(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    deployment: str
    level: str
    pool_blocks: int
    block_size: int
    predicted_peak: float  # fraction of the pool at the server's sample times, as vLLM's gauge reads
    planner_peak: float  # the planner's own peak between samples too
    measured_peak: float
    peak_error: float  # predicted / measured - 1
    predicted_mean: float  # over the samples the server was measured at
    measured_mean: float
    preemptions: int | None
    unpredicted_preemptions: bool  # the server preempted where the plan had the pool hold the peak
    requests: int
    trace_rows: int  # rows in the trace; those not sent, by reason, in not_sent
    not_sent: dict[str, int]
    times: list[float]  # seconds on telemetry's clock
    predicted: list[float]
    measured: list[float]


def trace_checks(run: RunData) -> list[TraceKvCheck]:
    """One check per trace level; a deployment's requests and telemetry are read once for all its levels."""
    checks = []
    for d in run.record.deployments:
        traced = [level for level in d.levels if level.trace]
        if not traced:
            continue
        telemetry, requests = run.telemetry(d), run.requests(d)
        found = (_check(run, d, level, telemetry=telemetry, requests=requests) for level in traced)
        checks += [check for check in found if check is not None]
    return checks


def _check(run: RunData, d: DeploymentRecord, level: LevelSummary, *, telemetry: pd.DataFrame,
           requests: list[RequestRecord]) -> TraceKvCheck | None:  # fmt: skip
    info, cache = level.trace, d.cache_config or {}
    pool, block = cache.get("num_gpu_blocks"), cache.get("block_size")
    if not pool or not block or telemetry.empty or "start_t" not in info:
        return None
    trace = read_trace(run.folder / "traces" / info["path"], info["format"], speedup=info["speedup"])
    rows = {r.line: r for r in trace.requests}
    done = [r for r in requests if r.level == level.name and r.ok and r.trace_line in rows]
    t0, prefill_ms = info["start_t"], level.server.get("server_mean_prefill_ms")
    prefill = prefill_ms / 1e3 if prefill_ms is not None else float("inf")  # unknown: admitted at its send
    lives = [Lifetime(start=t0 + r.sent_s + max(0.0, (r.ttft_s or 0.0) - prefill),
                      first_token=t0 + r.sent_s + (r.ttft_s or 0.0), end=t0 + r.sent_s + (r.e2el_s or 0.0))
             for r in done]  # fmt: skip
    demand = kv_demand([rows[r.trace_line] for r in done if r.trace_line is not None], lives, block_size=int(block))
    window = telemetry[(telemetry["t"] >= t0) & (telemetry["t"] <= max((x.end for x in lives), default=t0) + 1)]
    measured = window["kv_cache_usage"].to_numpy()
    predicted = _at(demand, window["t"].to_numpy() - min((x.start for x in lives), default=t0)) / int(pool)
    # both peaks at the server's sample times (a gauge read every telemetry interval)
    peak_p = float(predicted.max()) if predicted.size else 0.0
    peak_m = float(measured.max()) if measured.size else 0.0
    return TraceKvCheck(
        deployment=run.label(d.name), level=level.name, pool_blocks=int(pool), block_size=int(block),
        predicted_peak=peak_p, planner_peak=demand.peak_blocks / int(pool),
        measured_peak=peak_m, peak_error=peak_p / peak_m - 1 if peak_m else float("nan"),
        predicted_mean=float(predicted.mean()) if predicted.size else 0.0,
        measured_mean=float(measured.mean()) if measured.size else 0.0, preemptions=level.preemptions,
        unpredicted_preemptions=bool(level.preemptions) and peak_p < 1.0, requests=len(done),
        trace_rows=int(info["rows"]), not_sent=dict(info["skipped"]),
        times=[float(t) for t in window["t"]], predicted=[float(p) for p in predicted],
        measured=[float(m) for m in measured],
    )  # fmt: skip


def _at(demand: KvDemand, times: np.ndarray) -> np.ndarray:
    """The planner's blocks at the telemetry's sample times (its own grid, interpolated)."""
    return np.asarray(np.interp(times, demand.times, demand.blocks, left=0.0, right=0.0), dtype=float)

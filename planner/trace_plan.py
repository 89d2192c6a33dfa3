"""From a trace to layouts: the smallest deployments whose KV pool holds the trace's p99 live KV with
headroom and, where a performance calibration exists, whose predicted latency at the trace's busiest
minute meets the SLO. A layout's lifetimes come from its own predicted latency (planner/trace_timing.py),
so a faster layout holds less KV; DP engines each take 1 / dp of the traffic, a conversation whole."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from planner.capacity import Plan, PlanSettings, calibration_for, plan_capacity
from planner.errors import InputError, LayoutRejected
from planner.gpus import GpuSpec
from planner.layout import Layout
from planner.model_spec import ModelSpec
from planner.performance import predict_level
from planner.search import candidate_layouts
from planner.serving_sim import LoadShape
from planner.trace_demand import KvDemand, kv_demand, prefix_hit_tokens
from planner.trace_timing import fluid_lifetimes, peak_rate
from traces import TraceRequest

PREDICTED_REQUESTS = 200  # requests the level prediction at the peak rate replays


class Timing(BaseModel):
    """Per-request latency the lifetimes use: predicted for a layout, or given (--assume-*)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ttft_ms: float
    tpot_ms: float
    source: str


class TraceFit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    plan: Plan
    timing: Timing
    peak_tokens: int  # per engine
    p99_tokens: int
    p50_tokens: int
    peak_live_requests: int
    shared_peak_tokens: int
    fits: bool  # p99 x (1 + headroom) within the pool
    meets_slo: bool | None  # None: no SLO given


class TraceSlo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    headroom: float = 0.2  # the pool must hold p99 live KV x (1 + headroom)


def demand_for(requests: Sequence[TraceRequest], timing: Timing, *, block_size: int, engines: int = 1) -> KvDemand:
    mine = [r for i, r in enumerate(requests) if _engine(r, i) % engines == 0]
    lives = fluid_lifetimes(mine, ttft_s=timing.ttft_ms / 1e3, tpot_s=timing.tpot_ms / 1e3)
    return kv_demand(mine, lives, block_size=block_size)


def _engine(request: TraceRequest, index: int) -> int:
    """DP engines split the traffic by conversation (its turns stay together), else by request."""
    return sum(map(ord, request.session)) if request.session is not None else index


def predicted_timing(model: ModelSpec, gpu: GpuSpec, layout: Layout, plan: Plan, *,
                     requests: Sequence[TraceRequest], settings: PlanSettings) -> Timing:  # fmt: skip
    factors, source = calibration_for(settings)[0].performance_factors(gpu)
    hits = statistics.fmean(prefix_hit_tokens(requests, block_size=plan.block_size))
    load = LoadShape(
        input_tokens=max(1, round(statistics.fmean(r.input_tokens for r in requests))),
        cached_tokens=round(hits),
        output_tokens=max(1, round(statistics.fmean(r.output_tokens for r in requests))),
        request_rate=max(peak_rate(requests) / plan.dp, 1e-3),
        requests=PREDICTED_REQUESTS,
    )
    level = predict_level(model, gpu, layout, plan, load=load, factors=factors)
    return Timing(ttft_ms=level.median_ttft_ms, tpot_ms=level.mean_tpot_ms, source=f"predicted ({source})")


def fit_trace(plan: Plan, timing: Timing, requests: Sequence[TraceRequest], slo: TraceSlo) -> TraceFit:
    demand = demand_for(requests, timing, block_size=plan.block_size, engines=plan.dp)
    p99 = round(demand.percentile_blocks(99) * plan.block_size)
    meets = None
    if slo.ttft_ms is not None or slo.tpot_ms is not None:
        meets = (slo.ttft_ms is None or timing.ttft_ms <= slo.ttft_ms) and (
            slo.tpot_ms is None or timing.tpot_ms <= slo.tpot_ms
        )
    return TraceFit(
        plan=plan, timing=timing, peak_tokens=demand.peak_blocks * plan.block_size, p99_tokens=p99,
        p50_tokens=round(demand.percentile_blocks(50) * plan.block_size),
        peak_live_requests=int(demand.live.max()) if demand.live.size else 0,
        shared_peak_tokens=demand.shared_blocks_peak * plan.block_size,
        fits=p99 * (1 + slo.headroom) <= plan.kv_capacity_tokens, meets_slo=meets,
    )  # fmt: skip


def judge_layout(  # noqa: PLR0913 - the trace, what it runs on, and how it is judged
    model: ModelSpec, gpu: GpuSpec, requests: Sequence[TraceRequest], *, layout: Layout, settings: PlanSettings,
    slo: TraceSlo, timing: Timing | None = None,
) -> TraceFit:  # fmt: skip
    """One given layout against the trace, fitting or not; `timing` None: predicted for it."""
    if not requests:
        raise InputError("--trace", "no request the deployment can serve", "see the skipped rows")
    plan = plan_capacity(model, gpu, layout, settings)
    mine = timing or predicted_timing(model, gpu, layout, plan, requests=requests, settings=settings)
    return fit_trace(plan, mine, requests, slo)


def search_for_trace(  # noqa: PLR0913 - the trace, what it runs on, and the search's bounds
    model: ModelSpec, gpu: GpuSpec, requests: Sequence[TraceRequest], *, settings: PlanSettings, slo: TraceSlo,
    timing: Timing | None = None, max_gpus: int = 64, limit: int = 3,
) -> list[TraceFit]:  # fmt: skip
    """Layouts that hold the trace (and meet the SLO), fewest GPUs first; `timing` None: predicted per layout.
    A layout vLLM would refuse is skipped; any other error (no performance calibration, bad settings) is
    the answer, not a reason to try the next layout."""
    found = []
    for layout in sorted(candidate_layouts(model, max_gpus), key=lambda x: (x.gpus, x.pp, x.dp, x.ep)):
        try:
            fit = judge_layout(model, gpu, requests, layout=layout, settings=settings, slo=slo, timing=timing)
        except LayoutRejected:
            continue
        if fit.fits and fit.meets_slo is not False:
            found.append(fit)
        if len(found) >= limit:
            break
    return found

"""From a trace to layouts: the smallest deployments whose KV pool holds the trace's p99 live KV with
headroom and, where a performance calibration exists, whose replayed latency meets the SLO. A layout's
lifetimes come from replaying the trace on it (planner/trace_timing.py), so a faster layout holds less
KV; DP engines share the traffic, a conversation whole, and are sized for the busiest share."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from planner.calibration import performance_class
from planner.capacity import Plan, PlanSettings, calibration_for, plan_capacity
from planner.errors import InputError, LayoutRejected
from planner.gpus import GpuSpec
from planner.layout import Layout
from planner.model_spec import ModelSpec
from planner.performance import engine_model
from planner.search import candidate_layouts
from planner.trace_demand import Lifetime, kv_demand, prefix_hit_tokens
from planner.trace_timing import fluid_lifetimes, replayed_lifetimes
from traces import TraceRequest


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


def engine_share(requests: Sequence[TraceRequest], engines: int) -> list[TraceRequest]:
    """The busiest share of `engines` DP engines: conversations (their turns stay together, where their
    prefix-cache hits are) and single requests, in order of first arrival, each to the engine with the
    fewest tokens so far - a least-loaded router with conversation affinity; every engine is sized for the
    busiest share. Requests keep their order within it."""
    groups: dict[str, list[int]] = {}
    for i, request in enumerate(requests):
        groups.setdefault(request.session if request.session is not None else f"#{i}", []).append(i)
    loads = [0] * engines
    shares: list[list[int]] = [[] for _ in range(engines)]
    for members in groups.values():
        lightest = loads.index(min(loads))
        shares[lightest] += members
        loads[lightest] += sum(requests[i].input_tokens + requests[i].output_tokens for i in members)
    return [requests[i] for i in sorted(shares[loads.index(max(loads))])]


def replayed_timing(
    model: ModelSpec, gpu: GpuSpec, layout: Layout, plan: Plan, *, requests: Sequence[TraceRequest],
    settings: PlanSettings,
) -> tuple[list[Lifetime], Timing]:  # fmt: skip
    """The engine's share of the trace through the batching replay with the calibrated step model: its
    lifetimes, and its median TTFT and mean TPOT (the SLO's and the table's figures)."""
    factors, source = calibration_for(settings)[0].performance_factors(gpu, performance_class(model))
    engine = engine_model(model, gpu, layout, plan, factors=factors)
    hits = prefix_hit_tokens(requests, block_size=plan.block_size)
    lives, done = replayed_lifetimes(requests, hits, engine=engine)
    tpot = [r.tpot_ms for r in done if r.tpot_ms is not None]
    timing = Timing(ttft_ms=statistics.median(r.ttft * 1e3 for r in done),
                    tpot_ms=statistics.fmean(tpot) if tpot else 0.0, source=f"replayed ({source})")  # fmt: skip
    return lives, timing


def fit_trace(plan: Plan, timing: Timing, requests: Sequence[TraceRequest], *, lives: Sequence[Lifetime],
              slo: TraceSlo) -> TraceFit:  # fmt: skip
    demand = kv_demand(requests, lives, block_size=plan.block_size)
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
    mine = engine_share(requests, plan.dp)
    if timing is None:
        lives, timing = replayed_timing(model, gpu, layout, plan, requests=mine, settings=settings)
    else:
        lives = fluid_lifetimes(mine, ttft_s=timing.ttft_ms / 1e3, tpot_s=timing.tpot_ms / 1e3)
    return fit_trace(plan, timing, mine, lives=lives, slo=slo)


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

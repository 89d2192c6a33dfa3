"""Latency and throughput before a GPU is rented: a level's numbers as `vllm bench serve` would report them,
from the memory plan (batch limits, KV pool), the step roofline (planner/step_cost.py) and the batching
replay (planner/serving_sim.py), with calibrated factors. Keys name the metric as vLLM does.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from planner.arrivals import schedule
from planner.capacity import Plan
from planner.coupled_step import coupled_pricer
from planner.engine_loop import BatchLimits
from planner.gpus import GpuSpec
from planner.layout import Layout
from planner.model_spec import ModelSpec
from planner.replay_clients import Frontend
from planner.replay_requests import SimulatedRequest
from planner.serving_sim import EngineShare, LoadShape, simulate
from planner.step_cost import PerfFactors, StepShape, launch_seconds, step_model, step_pricer


class LevelPrediction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int | None
    request_rate: float | None
    input_tokens: int
    output_tokens: int
    mean_ttft_ms: float
    median_ttft_ms: float
    p99_ttft_ms: float
    mean_tpot_ms: float
    median_tpot_ms: float
    mean_itl_ms: float
    mean_e2el_ms: float
    mean_frontend_ms: float = 0.0  # sent to in the engine's queue: vLLM's TTFT less its queue and prefill phases
    output_throughput: float  # output tokens / s over the level
    request_throughput: float
    duration_s: float
    kv_short: bool  # the batch needed more KV than the pool: vLLM would preempt, the numbers are optimistic


def predict_level(model: ModelSpec, gpu: GpuSpec, layout: Layout, plan: Plan, *, load: LoadShape,
                  factors: PerfFactors) -> LevelPrediction:  # fmt: skip
    """The level replayed on each of the layout's DP engines with its share of the load (engine_shares), the
    requests of all pooled as the client sees them: a MoE model's engines stepping together (their MoE
    layers gather each other's tokens: planner/engine_loop.py), a dense model's each on its own."""
    engine = engine_model(model, gpu, layout, plan, factors=factors)
    done: list[SimulatedRequest] = []
    short = False
    for group in _replayed_together(engine_shares(load, layout.dp), layout.coupled_engines(model.moe)):
        served, lacked = simulate(group, prompt=load.input_tokens, output=load.output_tokens, limits=engine.limits,
                                  step_seconds=engine.coupled_seconds, cached=load.cached_tokens,
                                  frontend=engine.frontend)  # fmt: skip
        done, short = done + served, short or lacked
    return _summary(done, load, short)


def _replayed_together(shares: list[EngineShare], coupled: int) -> list[list[EngineShare]]:
    """Which engines one replay steps together: all `coupled` of a MoE model's, those without requests on
    dummy batches; a dense model's each alone (coupled 1)."""
    if coupled == 1:
        return [[share] for share in shares]
    return [shares + [([], 0, None)] * (coupled - len(shares))]


def engine_shares(load: LoadShape, engines: int) -> list[EngineShare]:
    """(arrivals, requests, concurrency) of each DP engine that gets any: vLLM's front end sends each request
    to the least loaded engine, so a closed loop's places split evenly (the first concurrency % engines
    engines one more) and an open loop's arrivals go round in turn."""
    offsets = open_loop_offsets(load)
    if offsets is not None:
        return [(offsets[i::engines], len(offsets[i::engines]), None) for i in range(min(engines, len(offsets)))]
    concurrency = load.concurrency or 1
    shares: list[EngineShare] = []
    for i in range(min(engines, concurrency)):
        places = concurrency // engines + (1 if i < concurrency % engines else 0)
        shares.append((None, max(1, round(load.requests * places / concurrency)), places))
    return shares


class EngineModel(NamedTuple):
    """One engine as the batching replay sees it: its batch limits and each step's duration (alone, and
    beside a MoE model's other DP engines, every engine's shape given)."""

    limits: BatchLimits
    step_seconds: Callable[[StepShape], float]
    frontend: Frontend
    coupled_seconds: Callable[[Sequence[StepShape]], float]


def engine_model(model: ModelSpec, gpu: GpuSpec, layout: Layout, plan: Plan, *, factors: PerfFactors) -> EngineModel:
    graph_tokens = plan.server.largest_capture
    sm = step_model(model, layout, kv_cache_dtype=plan.kv_cache_dtype, graph_tokens=graph_tokens,
                    dummy_weights=plan.server.dummy_weights,
                    piecewise=plan.server.piecewise_only)  # fmt: skip
    limits = BatchLimits(
        max_num_batched_tokens=plan.server.max_num_batched_tokens,
        max_num_seqs=plan.server.max_num_seqs,
        kv_capacity_tokens=plan.kv_capacity_tokens,
        async_scheduling=plan.server.async_scheduling,
        graph_tokens=graph_tokens,
        launch_s=launch_seconds(sm, factors),
    )
    frontend = Frontend(request=factors.frontend_request_us * 1e-6, token=factors.frontend_token_us * 1e-6)
    return EngineModel(limits, step_pricer(sm, gpu, factors), frontend, coupled_pricer(sm, gpu, factors))


def open_loop_offsets(load: LoadShape) -> list[float] | None:
    """Open loop: the offsets bench sends the level at (Poisson from the level's seed, rescaled to N / rate)."""
    return None if load.request_rate is None else schedule(load.requests, None, load.request_rate, seed=load.seed)


def _summary(done: list[SimulatedRequest], load: LoadShape, short: bool) -> LevelPrediction:
    ttft = sorted(r.ttft * 1e3 for r in done)
    tpot = [r.tpot_ms for r in done if r.tpot_ms is not None]
    itl = [gap * 1e3 for r in done for gap in r.itl]
    # timed from the level's start (offset 0), as bench times it, not from the first arrival
    duration = max(max(r.arrival + r.e2el for r in done), 1e-9)
    return LevelPrediction(
        concurrency=load.concurrency,
        request_rate=load.request_rate,
        input_tokens=load.input_tokens,
        output_tokens=load.output_tokens,
        mean_ttft_ms=statistics.fmean(ttft),
        median_ttft_ms=statistics.median(ttft),
        p99_ttft_ms=ttft[min(len(ttft) - 1, int(round(0.99 * (len(ttft) - 1))))],
        mean_tpot_ms=statistics.fmean(tpot) if tpot else 0.0,
        median_tpot_ms=statistics.median(tpot) if tpot else 0.0,
        mean_itl_ms=statistics.fmean(itl) if itl else 0.0,
        mean_e2el_ms=statistics.fmean(r.e2el * 1e3 for r in done),
        mean_frontend_ms=statistics.fmean(r.frontend * 1e3 for r in done),
        output_throughput=sum(r.output for r in done) / duration,
        request_throughput=len(done) / duration,
        duration_s=duration,
        kv_short=short,
    )


def slo_concurrency(predict: Callable[[int], LevelPrediction], *, ttft_ms: float | None, tpot_ms: float | None,
                    limit: int) -> int:  # fmt: skip
    """The highest closed-loop concurrency (<= limit) whose predicted median TTFT and mean TPOT meet the SLO;
    0 if even one request at a time misses it. Latency grows with concurrency, so doubling then bisecting
    finds it in O(log limit) predictions."""

    def meets(concurrency: int) -> bool:
        p = predict(concurrency)
        return (ttft_ms is None or p.median_ttft_ms <= ttft_ms) and (tpot_ms is None or p.mean_tpot_ms <= tpot_ms)

    if not meets(1):
        return 0
    good, bad = 1, None
    while bad is None and good < limit:
        probe = min(limit, good * 2)
        good, bad = (probe, None) if meets(probe) else (good, probe)
    while bad is not None and bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if meets(middle) else (good, middle)
    return good

"""One load level against a ready server: warm-up, measured requests, summary with self-check."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.load.level_runner import LevelResult, LevelRunner
from bench.load.serving_metrics import summarize
from bench.load.stream_client import new_session
from bench.load.trace_jobs import prepare_trace_level
from bench.load.workers import WorkerPlan, WorkerPool, share
from bench.load.workload import Job, JobFactory, made_ahead, tokens_label
from bench.observe.energy import level_energy
from bench.observe.server_events import ServerLogWindow
from bench.observe.server_latency import Histograms, compare, level_figures
from bench.observe.telemetry import TelemetrySampler
from bench.scenario.schema import Level, Scenario
from bench.server.profiler import ProfileOutcome, ProfileSink, profiled
from planner.arrivals import level_seed, schedule
from runfolder.requests import RequestRecord
from runfolder.schema import ClientCheck, LevelSummary

DISPATCH_LAG_LIMIT_MS = 5.0
LOOP_LAG_LIMIT_MS = 20.0
CPU_LIMIT = 0.9


class RecordWriter:
    """Appends each request as one JSON line as soon as it finishes, so an interrupted run keeps it."""

    def __init__(self, path: Path, on_record: Callable[[RequestRecord], None] | None = None) -> None:
        # open for the deployment's levels (close() ends it); unbuffered: one write per line, none held back
        self.handle = open(path, "ab", buffering=0)  # noqa: SIM115
        self.on_record = on_record

    def __call__(self, record: RequestRecord) -> None:
        self.handle.write(record.json_line())
        if self.on_record:
            self.on_record(record)

    def close(self) -> None:
        self.handle.close()


@dataclass(frozen=True)
class LevelTarget:
    """Where a level's requests go: the server, the model name they carry, the tokenizer prompts use."""

    base_url: str
    served_name: str
    tokenizer: Path
    max_model_len: int | None = None  # the deployment's, if it sets one (a trace's longer rows are counted)
    server_log: Path | None = None  # a local server's log, read for what happened during each level
    profile: ProfileSink | None = None  # where a profiled level's traces go (a server launched with its profiler)


async def run_level(
    scenario: Scenario,
    level: Level,
    index: int,
    target: LevelTarget,
    *,
    write: RecordWriter,
    telemetry: TelemetrySampler,
    summaries: list[LevelSummary],
) -> None:
    """Appends the level's summary to `summaries`, also when the level is cancelled part-way."""
    load = scenario.load
    seed = level_seed(scenario.seed, index)
    jobs = JobFactory(scenario.workload, level, target.tokenizer, target.served_name, seed=seed).jobs()
    traced = (
        prepare_trace_level(scenario.workload, target.tokenizer, target.served_name,
                            max_model_len=target.max_model_len, seed=seed) if level.trace else None
    )  # fmt: skip
    async with new_session() as session:
        runner = LevelRunner(session, target.base_url, level.label(), load.request_timeout_s, on_record=write)
        start = MeasuredStart()  # left empty if the level is cut short in warm-up
        profile = ProfileOutcome()
        sink = target.profile if level.profile else None
        try:
            await runner.warmup(jobs, load.warmup(level), level.concurrency or level.max_concurrency or 4)
            start = await MeasuredStart.take(telemetry, target.server_log)
            async with profiled(session, target.base_url, sink, level=level.label(), into=profile):
                if traced is not None:  # warm-ups above were synthetic: the trace is sent whole, at its own times
                    await runner.open_loop(iter(traced.jobs), traced.offsets, level.max_concurrency)
                elif load.workers > 1:
                    await _drive_in_workers(scenario, level, runner, target, seed=seed)
                else:
                    count, duration = load.request_count(level), load.duration(level)
                    await _drive(runner, jobs, level, count=count, duration=duration, seed=seed)
        except asyncio.CancelledError:
            runner.result.interrupted = True
            runner.result.finished = runner.result.finished or time.perf_counter()
            raise
        finally:
            after, latency_after = await _boundary_or_empty(telemetry)
            level_summary = summary(scenario, level, index, runner.result, before=start.counters, after=after)
            trace = traced.info | {"start_t": round(runner.result.started - telemetry.t0, 3)} if traced else {}
            level_summary = start.close(level_summary, telemetry, latency_after=latency_after, trace=trace)
            summaries.append(
                level_summary.model_copy(update={"profile": profile.traces, "profile_error": profile.error})
            )


@dataclass
class MeasuredStart:
    """What a level reads at its measured start, to difference at its end: engine counters, vLLM's latency
    histograms, NVML's energy counter, the server log's length."""

    counters: dict[str, float] = field(default_factory=dict)
    latency: Histograms = field(default_factory=dict)
    energy_mj: float | None = None
    log: ServerLogWindow = field(default_factory=lambda: ServerLogWindow(None))

    @classmethod
    async def take(cls, telemetry: TelemetrySampler, server_log: Path | None) -> MeasuredStart:
        counters, latency = await telemetry.boundary()
        return cls(counters, latency, telemetry.energy_mj(), ServerLogWindow(server_log))

    def close(
        self, level_summary: LevelSummary, telemetry: TelemetrySampler, *, latency_after: Histograms,
        trace: dict[str, Any],
    ) -> LevelSummary:  # fmt: skip
        """The summary with the level's energy, server histograms, server-log events and trace rows."""
        update: dict[str, Any] = {
            "energy": level_energy(self.energy_mj, telemetry.energy_mj(), level_summary.metrics),
            "server_events": self.log.events(),
            "trace": trace,
        }
        if self.latency:
            server = level_figures(self.latency, latency_after)
            update |= {"server": server, "server_check": compare(server, level_summary.metrics.get("mean_ttft_ms"))}
        return level_summary.model_copy(update=update)


async def _boundary_or_empty(telemetry: TelemetrySampler) -> tuple[dict[str, float], Histograms]:
    try:
        return await asyncio.shield(telemetry.boundary())
    except asyncio.CancelledError:
        return {}, {}


async def _drive(
    runner: LevelRunner, jobs: Iterator[Job], level: Level, *, count: int | None, duration: float | None, seed: int
) -> None:
    if level.concurrency is not None:
        jobs = made_ahead(jobs, count)
        deadline = time.perf_counter() + duration if duration else None
        await runner.closed_loop(jobs, level.concurrency, count, deadline)
        return
    offsets = _offsets(level, count, duration, seed)
    await runner.open_loop(made_ahead(jobs, len(offsets)), offsets, level.max_concurrency)


def _offsets(level: Level, count: int | None, duration: float | None, seed: int) -> list[float]:
    """An open loop's send times from the level start (seeded; the same for one process or many)."""
    rate, end = (level.rate or 0.0, None) if level.ramp is None else (level.ramp.start_rate, level.ramp.end_rate)
    return schedule(
        count,
        duration,
        rate,
        process=level.arrival.process,
        burstiness=level.burstiness,
        seed=seed,
        end_rate=end,
        normalize=level.arrival.normalize,
    )


async def _drive_in_workers(
    scenario: Scenario, level: Level, runner: LevelRunner, target: LevelTarget, *, seed: int
) -> None:
    load, workers = scenario.load, scenario.load.workers
    count, duration = load.request_count(level), load.duration(level)
    offsets = _offsets(level, count, duration, seed) if level.concurrency is None else None
    plans = [
        WorkerPlan(
            worker=w,
            workers=workers,
            scenario=scenario.model_dump(mode="json"),
            level=level.model_dump(mode="json"),
            seed=seed,
            base_url=target.base_url,
            tokenizer=str(target.tokenizer),
            served_name=target.served_name,
            timeout_s=load.request_timeout_s,
            skip=load.warmup(level),
            concurrency=share(level.concurrency, workers, w) if level.concurrency else None,
            count=share(count, workers, w) if count is not None and offsets is None else None,
            duration_s=duration,
            offsets=offsets[w::workers] if offsets is not None else None,
            max_concurrency=share(level.max_concurrency, workers, w) if level.max_concurrency else None,
        )
        for w in range(workers)
    ]
    await WorkerPool(plans, runner).run()


def level_driver(scenario: Scenario, level: Level) -> dict[str, Any]:
    """What drove a level, as run.json records it: its loop and arrival, and what bounded it, resolved against
    the scenario's defaults (an open loop's offsets depend on it)."""
    driver = level.model_dump(
        include={"concurrency", "rate", "arrival", "burstiness", "ramp", "max_concurrency"}, exclude_none=True
    )
    bounds = {"requests": scenario.load.request_count(level), "duration_s": scenario.load.duration(level)}
    return driver | {k: v for k, v in bounds.items() if v is not None}


def level_tokens(scenario: Scenario, level: Level) -> tuple[str, str]:
    """The level's prompt and output lengths as run.json labels them, the scenario's workload filling in."""
    return (tokens_label(level.input_tokens or scenario.workload.input_tokens),
            tokens_label(level.output_tokens or scenario.workload.output_tokens))  # fmt: skip


def summary(
    scenario: Scenario, level: Level, index: int, result: LevelResult, *, before: dict[str, Any], after: dict[str, Any]
) -> LevelSummary:
    slo = scenario.slo.model_dump(exclude_none=True) if scenario.slo else None
    slo = {k.removesuffix("_ms"): v for k, v in slo.items()} if slo else None
    duration = max(0.0, result.finished - result.started)
    queries = after.get("prefix_cache_queries", 0) - before.get("prefix_cache_queries", 0)
    hits = after.get("prefix_cache_hits", 0) - before.get("prefix_cache_hits", 0)
    preempted = after.get("preemptions", 0) - before.get("preemptions", 0) if after and before else None
    input_tokens, output_tokens = level_tokens(scenario, level)
    return LevelSummary(
        name=level.label(),
        index=index,
        driver=level_driver(scenario, level),
        interrupted=result.interrupted,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        requests_sent=len(result.records),
        metrics=summarize(result.records, duration, slo),
        client=client_check(result, level),
        prefix_cache_hit_rate=hits / queries if queries > 0 else None,
        preemptions=int(preempted) if preempted is not None else None,
        errors=dict(Counter((r.error or "")[:80] for r in result.records if not r.ok)),
    )


def client_check(result: LevelResult, level: Level) -> ClientCheck:
    """Flags runs where the client, not the server, set the pace."""
    lags = np.asarray(result.dispatch_lag_s) * 1000
    loop = np.asarray(result.loop_lag_s) * 1000
    check = ClientCheck(
        cpu_fraction=round(result.client_cpu_fraction, 3),
        loop_lag_p99_ms=float(np.percentile(loop, 99)) if loop.size else None,
    )
    if lags.size:
        check.dispatch_lag_p50_ms = float(np.percentile(lags, 50))
        check.dispatch_lag_p99_ms = float(np.percentile(lags, 99))
        check.dispatch_lag_max_ms = float(lags.max())
        if check.dispatch_lag_p99_ms > DISPATCH_LAG_LIMIT_MS:
            check.warnings.append(
                f"p99 dispatch lag {check.dispatch_lag_p99_ms:.1f} ms > {DISPATCH_LAG_LIMIT_MS} ms: "
                "the client fell behind its schedule"
            )
    if check.loop_lag_p99_ms is not None and check.loop_lag_p99_ms > LOOP_LAG_LIMIT_MS:
        check.warnings.append(
            f"event-loop lag p99 {check.loop_lag_p99_ms:.1f} ms: the client was held up (CPU "
            "contention with the server, or saturation); latencies include that delay"
        )
    if check.cpu_fraction > CPU_LIMIT:
        check.warnings.append(f"client used {check.cpu_fraction:.0%} of a core: results may be client-bound")
    check.client_limited = bool(check.warnings)
    return check

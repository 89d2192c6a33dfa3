"""`bench plan MODEL --trace FILE --gpu G`: the smallest layouts whose KV pool holds the trace's live KV
(p99, with headroom) and, with a performance calibration, meet the SLO with the trace replayed on them
(planner/trace_plan.py). Rows a server of the planned max_model_len would refuse are counted, not dropped."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from planner import GpuSpec, InputError, ModelSpec, PlanSettings
from planner.trace_plan import Timing, TraceFit, TraceSlo, judge_layout, search_for_trace
from planner.trace_timing import peak_rate
from traces import Trace, read_trace


def plan_for_trace(model: ModelSpec, gpu: GpuSpec, settings: PlanSettings, *, options: dict[str, Any]) -> None:
    """`options`: trace, trace_format, speedup, slo (TraceSlo), assume_ttft_ms, assume_tpot_ms, max_gpus,
    limit, as_json, layout (a Layout: judge that one only, fitting or not). Raises PlanError / TraceError for
    the CLI to report (exit 2)."""
    started = time.perf_counter()
    trace = read_trace(Path(options["trace"]), options["trace_format"], speedup=options["speedup"])
    served = trace.honoured(settings.max_model_len or model.max_position_embeddings)
    timing = _given_timing(options)
    if options["layout"] is not None:
        fits = [judge_layout(model, gpu, served.requests, layout=options["layout"], settings=settings,
                             slo=options["slo"], timing=timing)]  # fmt: skip
    else:
        fits = search_for_trace(model, gpu, served.requests, settings=settings, slo=options["slo"], timing=timing,
                                max_gpus=options["max_gpus"], limit=options["limit"])  # fmt: skip
    if not fits:
        raise InputError("--trace", f"no layout of up to {options['max_gpus']} {gpu.name} GPUs holds the trace"
                         " within the SLO", "raise --max-gpus, use --kv-cache-dtype fp8, or relax the SLO")  # fmt: skip
    summary = _summary(trace, served, time.perf_counter() - started)
    if options["as_json"]:
        typer.echo(json.dumps({"trace": summary, "layouts": [f.model_dump(mode="json") for f in fits]}, indent=2))
        return
    _print(summary, fits, options["slo"])


def _given_timing(options: dict[str, Any]) -> Timing | None:
    ttft, tpot = options["assume_ttft_ms"], options["assume_tpot_ms"]
    if (ttft is None) != (tpot is None):
        raise InputError("--assume-ttft-ms", "give both --assume-ttft-ms and --assume-tpot-ms, or neither",
                         "--assume-ttft-ms 500 --assume-tpot-ms 30")  # fmt: skip
    return Timing(ttft_ms=ttft, tpot_ms=tpot, source="assumed (--assume-*)") if ttft is not None else None


def _summary(trace: Trace, served: Trace, seconds: float) -> dict[str, Any]:
    requests = served.requests
    sessions = [turns for turns in served.sessions() if turns[0].session is not None]
    final = sorted(
        turns[-1].input_tokens + turns[-1].output_tokens for turns in sessions
    )  # each one's context at its end
    growth = {
        "conversations": len(sessions),
        "turns_mean": round(len(requests) / len(sessions), 2) if sessions else 0,
        "final_context_p50": final[len(final) // 2] if final else 0,
        "final_context_max": final[-1] if final else 0,
    }
    return {"conversations": growth,
        "path": trace.path, "format": trace.format, "rows": len(trace.requests), "served": len(requests),
        "skipped": served.skipped, "sessions": len(served.sessions()), "duration_s": round(trace.duration_s(), 3),
        "peak_rate": round(peak_rate(requests), 3),
        "longest_request_tokens": max((r.input_tokens + r.output_tokens for r in requests), default=0),
        "planned_in_s": round(seconds, 3),
    }  # fmt: skip


def _print(summary: dict[str, Any], fits: list[TraceFit], slo: TraceSlo) -> None:
    console = Console(width=160)
    skipped = ", ".join(f"{n} {reason}" for reason, n in summary["skipped"].items()) or "none"
    console.print(f"{summary['path']} ({summary['format']}): {summary['served']} of {summary['rows']} requests "
                  f"served, {summary['sessions']} sessions over {summary['duration_s']:,.1f} s, busiest minute "
                  f"{summary['peak_rate']:.2f} req/s; skipped: {skipped}")  # fmt: skip
    growth = summary["conversations"]
    if growth["conversations"]:
        console.print(f"{growth['conversations']} conversations, {growth['turns_mean']} turns on average; context "
                      f"at the last turn: median {growth['final_context_p50']:,}, longest "
                      f"{growth['final_context_max']:,} tokens")  # fmt: skip
    title = f"Layouts holding the trace's p99 live KV x {1 + slo.headroom:g}"
    title = (
        title
        if len(fits) > 1 or fits[0].fits
        else f"The layout given does NOT hold the p99 live KV x {1 + slo.headroom:g}"
    )
    table = Table(title=title, title_justify="left")
    for column in ("layout", "GPUs", "KV pool / engine", "live KV p50", "p99", "peak", "live requests",
                   "shared at peak", "TTFT p50", "TPOT", "SLO"):  # fmt: skip
        table.add_column(column, justify="right")
    for f in fits:
        p = f.plan
        layout = (
            f"TP{p.tp}"
            + (" EP" if p.ep else "")
            + (f" PP{p.pp}" if p.pp > 1 else "")
            + (f" DP{p.dp}" if p.dp > 1 else "")
        )
        slo_cell = "-" if f.meets_slo is None else "meets" if f.meets_slo else "misses"
        table.add_row(layout, str(p.gpus), f"{p.kv_capacity_tokens:,}", f"{f.p50_tokens:,}", f"{f.p99_tokens:,}",
                      f"{f.peak_tokens:,}", str(f.peak_live_requests), f"{f.shared_peak_tokens:,}",
                      f"{f.timing.ttft_ms:,.0f}", f"{f.timing.tpot_ms:,.1f}", slo_cell)  # fmt: skip
    console.print(table)
    console.print(f"lifetimes: {fits[0].timing.source}; KV tokens per engine; planned in {summary['planned_in_s']} s")

"""The capacity report: deployments side by side, predicted vs reported capacity, latency and
throughput per load level, goodput, telemetry, and the capacity answer."""

from __future__ import annotations

import pandas as pd

from reports import figures
from reports.capacity_answer import capacity_answers
from reports.document import Document
from reports.run_data import RunData, layout_of
from planner.units import GIB


def build_report(runs: list[RunData], attainment: float = 0.99, target_rps: float | None = None) -> Document:
    names = ", ".join(sorted({r.record.scenario.get("name", "?") if r.record.scenario else r.record.kind for r in runs}))
    doc = Document(f"Capacity report: {names}")
    doc.text("Runs: " + ", ".join(f"{r.record.run_id} ({r.record.environment.vllm_distribution or 'vLLM ?'}, "
                                  f"harness {(r.record.environment.git_sha or '?')[:10]})" for r in runs))
    for run in runs:
        if run.partial:
            doc.text(f"PARTIAL: {run.record.run_id} did not finish every deployment "
                     f"({'; '.join(f'{d.name}: {d.status}' + (f' - {d.error}' if d.error else '') for d in run.record.deployments)}).")
    _deployments(doc, runs)
    levels = pd.concat([r.levels() for r in runs], ignore_index=True) if runs else pd.DataFrame()
    _capacity(doc, levels, attainment, target_rps, runs)
    _levels(doc, levels)
    doc.heading("Figures")
    doc.image("latency_throughput", figures.latency_vs_throughput(levels), "TTFT and TPOT against output throughput")
    doc.image("percentiles", figures.latency_percentiles(levels), "TTFT / TPOT / ITL percentiles per level")
    doc.image("goodput", figures.goodput(levels), "request throughput and goodput per level")
    series = {r.label(d.name): r.telemetry(d) for r in runs for d in r.record.deployments}
    doc.image("telemetry", figures.telemetry(series), "KV-cache usage, engine queue and memory over time")
    _warnings(doc, runs)
    return doc


def _deployments(doc: Document, runs: list[RunData]) -> None:
    doc.heading("Deployments")
    rows = []
    for run in runs:
        for d in run.record.deployments:
            spec, cap, plan = d.spec, d.capacity, d.predicted or {}
            layout = layout_of(d)
            diff = (f"{cap.relative_error:+.2%}" if cap and cap.relative_error is not None else "-")
            rows.append([run.label(d.name), d.status, spec.get("device"), spec.get("gpu") or plan.get("gpu") or "-",
                         layout.label(), layout.gpus,
                         plan.get("weights_bytes_per_gpu", 0) / GIB if plan else None, d.startup.get("weights_gib"),
                         cap.predicted_tokens if cap else None, cap.reported_tokens if cap else None, diff,
                         d.vllm_version])
    doc.table(["deployment", "status", "device", "GPU", "layout", "GPUs", "weights/GPU predicted GiB",
               "weights/GPU reported GiB", "KV tokens predicted", "KV tokens reported", "difference", "vLLM"], rows)


def _capacity(doc: Document, levels: pd.DataFrame, attainment: float, target_rps: float | None,
              runs: list[RunData]) -> None:
    doc.heading("Capacity answer")
    if levels.empty:
        doc.text("No load level was measured.")
        return
    answers = capacity_answers(levels, attainment)
    slo = next((r.record.scenario.get("slo") for r in runs if r.record.scenario and r.record.scenario.get("slo")), None)
    slo_text = ", ".join(f"{k.removesuffix('_ms').upper()} <= {v:g} ms" for k, v in (slo or {}).items() if v)
    doc.text(f"Highest measured load with no failures and >= {attainment:.0%} of requests within the SLO "
             f"({slo_text})." if slo else "No SLO in the scenario: highest measured load with no failures.")
    columns = ["deployment", "GPUs", "best level", "req/s", "output tok/s", "req/s per GPU", "tok/s per GPU"]
    if target_rps:
        columns.append(f"GPUs for {target_rps:g} req/s")
    rows = []
    for a in answers:
        row = [a.deployment, a.gpus, a.best_level or "none met the SLO", a.request_throughput, a.output_throughput,
               a.per_gpu_request_throughput, a.per_gpu_output_throughput]
        rows.append(row + ([a.gpus_for(target_rps)] if target_rps else []))
    doc.table(columns, rows)


def _levels(doc: Document, levels: pd.DataFrame) -> None:
    doc.heading("Load levels")
    if levels.empty:
        return
    keys = ["completed", "failed", "request_throughput", "output_throughput", "median_ttft_ms", "p99_ttft_ms",
            "median_tpot_ms", "p99_tpot_ms", "median_itl_ms", "p99_itl_ms", "p99_e2el_ms", "request_goodput",
            "prefix_cache_hit_rate", "preemptions"]
    rows = [[row["deployment"], row["level"] + (" (partial)" if row["interrupted"] else "")]
            + [row.get(k) for k in keys] + ["LIMITED" if row["client_limited"] else "ok"]
            for _, row in levels.iterrows()]
    headers = ["ok", "failed", "req/s", "out tok/s", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "ITL p50",
               "ITL p99", "E2EL p99", "goodput req/s", "prefix hit", "preempted"]
    doc.table(["deployment", "level"] + headers + ["client"], rows)
    doc.text("Latencies in ms, with vllm bench serve's definitions (TPOT = (E2EL - TTFT) / (output tokens - 1); "
             "ITL per streamed chunk).")


def _warnings(doc: Document, runs: list[RunData]) -> None:
    notes = [f"{r.label(d.name)}/{level.name}: {w}" for r in runs for d in r.record.deployments for level in d.levels
             for w in level.client.warnings]
    if notes:
        doc.heading("Client self-check")
        for note in notes:
            doc.text(note)

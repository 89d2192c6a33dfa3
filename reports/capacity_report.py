"""The capacity report: deployments side by side, predicted vs reported capacity, latency and
throughput per load level, goodput, telemetry, and the capacity answer."""

from __future__ import annotations

import pandas as pd

from planner.units import GIB
from reports import figures
from reports.capacity_answer import capacity_answers
from reports.document import Document
from reports.perf_report import predicted_vs_measured
from reports.profile_report import profile_section
from reports.run_data import RunData, layout_of
from reports.trace_report import trace_section
from runfolder.schema import DeploymentRecord


def _run_named(run: RunData) -> str:
    """The run, the vLLM and harness it ran, and its host's Python speed where recorded (schema 9)."""
    env = run.record.environment
    said = [env.vllm_distribution or "vLLM ?", f"harness {(env.git_sha or '?')[:10]}"]
    if env.host_speed:
        said.append(f"host Python {env.host_speed.describe()}")
    return f"{run.record.run_id} ({', '.join(said)})"


def build_report(runs: list[RunData], attainment: float = 0.99, target_rps: float | None = None) -> Document:
    names = ", ".join(
        sorted({r.record.scenario.get("name", "?") if r.record.scenario else r.record.kind for r in runs})
    )
    doc = Document(f"Capacity report: {names}")
    doc.text("Runs: " + ", ".join(_run_named(r) for r in runs))
    for run in runs:
        if run.partial:
            states = "; ".join(
                f"{d.name}: {d.status}" + (f" - {d.error}" if d.error else "") for d in run.record.deployments
            )
            doc.text(f"PARTIAL: {run.record.run_id} did not finish every deployment ({states}).")
    _deployments(doc, runs)
    levels = pd.concat([r.levels() for r in runs], ignore_index=True) if runs else pd.DataFrame()
    _capacity(doc, levels, attainment, target_rps, runs=runs)
    _levels(doc, levels)
    predicted_vs_measured(doc, runs)
    trace_section(doc, runs)
    profile_section(doc, runs)
    doc.heading("Figures")
    doc.image("latency_throughput", figures.latency_vs_throughput(levels), "TTFT and TPOT against output throughput")
    doc.image("percentiles", figures.latency_percentiles(levels), "TTFT / TPOT / ITL percentiles per level")
    doc.image("goodput", figures.goodput(levels), "request throughput and goodput per level")
    series = {r.label(d.name): r.telemetry(d) for r in runs for d in r.record.deployments}
    doc.image("telemetry", figures.telemetry(series), "KV-cache usage, engine queue and memory over time")
    _warnings(doc, runs)
    return doc


DEPLOYMENT_COLUMNS = ["deployment", "status", "device", "GPU", "layout", "GPUs", "weights/GPU predicted GiB",
                      "weights/GPU reported GiB", "KV tokens predicted", "KV tokens reported", "difference",
                      "KV B/token/GPU predicted", "KV B/token/GPU reported", "experts/GPU predicted",
                      "experts/GPU reported", "model runner predicted", "model runner reported", "MoE routing",
                      "vLLM"]  # fmt: skip


def _deployments(doc: Document, runs: list[RunData]) -> None:
    doc.heading("Deployments")
    doc.table(DEPLOYMENT_COLUMNS, [_deployment_row(run, d) for run in runs for d in run.record.deployments])
    for run in runs:
        for d in run.record.deployments:
            if d.error:
                doc.text(f"{run.label(d.name)} {d.status}: {d.error}" + (f" (hint: {d.hint})" if d.hint else ""))


def _deployment_row(run: RunData, d: DeploymentRecord) -> list[object]:
    spec, cap, plan = d.spec, d.capacity, d.predicted or {}
    layout = layout_of(d)
    return [
        run.label(d.name),
        d.status,
        spec.get("device"),
        spec.get("gpu") or plan.get("gpu") or "-",
        layout.label(),
        layout.gpus,
        plan.get("weights_bytes_per_gpu", 0) / GIB if plan else None,
        d.startup.get("weights_gib"),
        cap.predicted_tokens if cap else None,
        cap.reported_tokens if cap else None,
        f"{cap.relative_error:+.2%}" if cap and cap.relative_error is not None else "-",
        cap.predicted_kv_bytes_per_token if cap else None,
        cap.reported_kv_bytes_per_token if cap else None,
        cap.predicted_experts if cap else None,
        cap.reported_experts if cap else None,
        cap.predicted_model_runner if cap else None,
        cap.reported_model_runner if cap else None,
        plan.get("moe_routing"),
        d.vllm_version,
    ]


def _capacity(
    doc: Document, levels: pd.DataFrame, attainment: float, target_rps: float | None, *, runs: list[RunData]
) -> None:
    doc.heading("Capacity answer")
    if levels.empty:
        doc.text("No load level was measured.")
        return
    answers = capacity_answers(levels, attainment)
    slo = next((r.record.scenario.get("slo") for r in runs if r.record.scenario and r.record.scenario.get("slo")), None)
    slo_text = ", ".join(f"{k.removesuffix('_ms').upper()} <= {v:g} ms" for k, v in (slo or {}).items() if v)
    doc.text(
        f"Highest measured load with no failures and >= {attainment:.0%} of requests within the SLO ({slo_text})."
        if slo
        else "No SLO in the scenario: highest measured load with no failures."
    )
    columns = ["deployment", "GPUs", "best level", "req/s", "output tok/s", "req/s per GPU", "tok/s per GPU"]
    if target_rps:
        columns.append(f"GPUs for {target_rps:g} req/s")
    rows = []
    for a in answers:
        row = [
            a.deployment,
            a.gpus,
            a.best_level or "none met the SLO",
            a.request_throughput,
            a.output_throughput,
            a.per_gpu_request_throughput,
            a.per_gpu_output_throughput,
        ]
        rows.append(row + ([a.gpus_for(target_rps)] if target_rps else []))
    doc.table(columns, rows)


# metric of a level -> its column in the report's level table
LEVEL_COLUMNS = {"completed": "ok", "failed": "failed", "request_throughput": "req/s", "output_throughput": "out tok/s",
                 "median_ttft_ms": "TTFT p50", "p99_ttft_ms": "TTFT p99", "median_tpot_ms": "TPOT p50",
                 "p99_tpot_ms": "TPOT p99", "median_itl_ms": "ITL p50", "p99_itl_ms": "ITL p99",
                 "p99_e2el_ms": "E2EL p99", "request_goodput": "goodput req/s", "prefix_cache_hit_rate": "prefix hit",
                 "preemptions": "preempted", "mean_ttft_ms": "TTFT mean", "server_mean_ttft_ms": "server TTFT mean",
                 "server_mean_queue_ms": "server queue mean", "j_per_output_token": "J/out tok",
                 "j_per_request": "J/req", "mean_power_w": "GPU W"}  # fmt: skip


def _levels(doc: Document, levels: pd.DataFrame) -> None:
    doc.heading("Load levels")
    if levels.empty:
        return
    rows = [
        [
            row["deployment"],
            row["level"] + (" (partial)" if row["interrupted"] else "") + (" (profiled)" if row["profiled"] else ""),
        ]
        + [row.get(k) for k in LEVEL_COLUMNS]
        + ["LIMITED" if row["client_limited"] else "ok"]
        for _, row in levels.iterrows()
    ]
    doc.table(["deployment", "level", *LEVEL_COLUMNS.values(), "client"], rows)
    doc.text(
        "Latencies in ms, with vllm bench serve's definitions (TPOT = (E2EL - TTFT) / (output tokens - 1); "
        "ITL per streamed chunk). Server columns: vLLM's own histograms over the level (mean = sum / count). "
        "Energy: NVML's energy counter over the level, all the machine's GPUs (bench/observe/energy.py). "
        "A profiled level ran under vLLM's torch profiler: its timings carry the profiler's cost, and no "
        "capacity answer or prediction check uses it."
    )


def _warnings(doc: Document, runs: list[RunData]) -> None:
    notes = [
        f"{r.label(d.name)}/{level.name}: {w}"
        for r in runs
        for d in r.record.deployments
        for level in d.levels
        for w in [*level.self_checks(), *level.server_events]
    ]
    if notes:
        doc.heading("Level self-checks (client, server)")
        for note in notes:
            doc.text(note)

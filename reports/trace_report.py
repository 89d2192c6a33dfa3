"""The report's "Trace replay: live KV, planned vs measured" section (reports/trace_check.py)."""

from __future__ import annotations

import matplotlib.pyplot as plt

from reports.document import Document
from reports.figures import png
from reports.run_data import RunData
from reports.trace_check import TraceKvCheck, trace_checks

PEAK_TOLERANCE = 0.10  # issue 22: the planned peak within 10% of the server's


def trace_section(doc: Document, runs: list[RunData]) -> None:
    checks = [c for run in runs for c in trace_checks(run)]
    if not checks:
        return
    doc.heading("Trace replay: live KV, planned vs measured")
    doc.text(
        "The planner's KV accounting (planner/trace_demand.py) over each request's lifetime as it ran, "
        "against vllm:kv_cache_usage_perc at the telemetry's sample times; peaks compared at those times."
    )
    rows: list[list[object]] = []
    for c in checks:
        flag = "" if abs(c.peak_error) <= PEAK_TOLERANCE else f"beyond {PEAK_TOLERANCE:.0%}"
        flag += " preempted, not predicted" if c.unpredicted_preemptions else ""
        not_sent = "; ".join(f"{n} {reason}" for reason, n in c.not_sent.items()) or "-"
        rows.append([c.deployment, c.level, f"{c.requests} of {c.trace_rows}", not_sent,
                     f"{c.pool_blocks:,} x {c.block_size}",
                     f"{c.predicted_peak:.2%}", f"{c.measured_peak:.2%}", f"{c.peak_error:+.1%}",
                     f"{c.planner_peak:.2%}", f"{c.predicted_mean:.2%}", f"{c.measured_mean:.2%}",
                     c.preemptions if c.preemptions is not None else "-", flag.strip()])  # fmt: skip
    doc.table(["deployment", "level", "requests measured", "rows not sent", "pool (blocks x size)", "peak planned",
               "peak measured", "error", "planner peak (between samples)", "mean planned", "mean measured",
               "preemptions", "flag"], rows)  # fmt: skip
    doc.image("trace_kv", _figure(checks), "Live KV: the planner's (over the run's lifetimes) and the server's gauge")


def _figure(checks: list[TraceKvCheck]) -> bytes:
    fig, axes = plt.subplots(1, len(checks), figsize=(5.5 * len(checks), 3.6), squeeze=False)
    for ax, c in zip(axes[0], checks, strict=True):
        ax.plot(c.times, [100 * v for v in c.measured], label="vllm:kv_cache_usage_perc", color="tab:blue")
        ax.plot(c.times, [100 * v for v in c.predicted], label="planned", color="tab:orange", linestyle="--")
        ax.set_title(f"{c.deployment} / {c.level}")
        ax.set_xlabel("s")
        ax.set_ylabel("% of the KV pool")
        ax.legend(fontsize=8)
    return png(fig)

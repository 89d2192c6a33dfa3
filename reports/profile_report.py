"""The report's section on profiled levels: where each one's engine steps spent their time on the device."""

from __future__ import annotations

from pathlib import Path

from reports.document import Document
from reports.kernel_profile import COLUMNS, level_steps, step_rows
from reports.run_data import RunData


def profile_section(doc: Document, runs: list[RunData]) -> None:
    tables = [
        (run.label(d.name), level.name, Path(trace).name, step_rows(steps))
        for run in runs
        for d in run.record.deployments
        for level in d.levels
        for trace, steps in level_steps(run.folder, level)
    ]
    if not tables:
        return
    doc.heading("Profiled levels: engine steps on the device")
    doc.text(
        "From vLLM's torch profiler traces (the first rank's), steps grouped by the prompt and decode tokens they "
        "held; medians in ms. span: the step on the device, first kernel to last; busy: its kernels' union; idle: "
        "span less busy (the device waiting on the host); then busy time by kernel kind (reports/kernel_profile.py)."
    )
    for deployment, level, trace, rows in tables:
        doc.text(f"{deployment} / {level} ({trace})")
        formatted = [[int(r[0]), int(r[1]), int(r[2]), *(f"{v:.2f}" for v in r[3:])] for r in rows]
        doc.table(["prompt tokens", "decode tokens", "steps", *COLUMNS], formatted)

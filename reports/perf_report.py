"""The report's "Predicted vs measured" section: each GPU level of fixed lengths predicted by the performance
model with the shipped calibration of its vLLM release (its GPU's factors, or its family's), beside what was
measured, with the error; a level the factors were fitted on is marked so (its error is in sample), and so is
a level in the one load domain the replay is known to get wrong (planner/whole_waves.py)."""

from __future__ import annotations

from planner import PlanError
from planner.calibration import performance_class, shipped_calibration
from planner.whole_waves import whole_waves
from reports.document import Document
from reports.perf_fit import METRICS, perf_cases, perf_residuals
from reports.run_data import RunData

LABELS = {"mean_tpot_ms": "TPOT mean", "median_ttft_ms": "TTFT p50", "output_throughput": "out tok/s"}


def predicted_vs_measured(doc: Document, runs: list[RunData]) -> None:
    try:
        cases = perf_cases(runs)
    except PlanError:
        return  # no GPU level of fixed lengths: nothing to predict
    doc.heading("Predicted vs measured")
    rows: list[list[object]] = []
    sources: set[str] = set()
    for case in cases:
        calibration, _ = shipped_calibration(case.plan.server.vllm_version)
        try:
            factors, source = calibration.performance_factors(case.gpu, performance_class(case.model))
        except PlanError as exc:
            sources.add(f"{case.gpu.name}: {exc}")
            continue
        sources.add(source)
        (r,) = perf_residuals([case], factors)
        fitted = any((p.run, p.deployment, p.level) == (r.run, r.deployment, r.level)
                     for c in calibration.performance for p in c.points)  # fmt: skip
        cells = [
            f"{r.measured[m]:,.1f} / {r.predicted[m]:,.1f} ({r.errors[m]:+.1%})" if m in r.errors else "-"
            for m in METRICS
        ]
        status = "fitted on" if fitted else "predicted"
        if whole_waves(r.load, graph_tokens=r.graph_tokens):
            status += ", whole waves"
        rows.append([r.deployment, r.level, r.gpu, *cells, status])
    doc.table(["deployment", "level", "GPU", *(f"{LABELS[m]} measured / predicted" for m in METRICS), "level is"], rows)
    doc.text(
        "Performance model (planner/step_cost.py, serving_sim.py): "
        + "; ".join(sorted(sources))
        + ". Errors = predicted / measured - 1; 'fitted on' levels are in sample; 'whole waves': a closed loop whose"
        " prompts together pass the largest CUDA graph and each stays under it, where the replay holds least often"
        " (results/perf_model/domains.txt)."
    )

"""Explored after the fifteenth check, not shipped: the PIECEWISE floor (planner/step_cost.py piecewise_layer_us)
fitted on each run's PIECEWISE levels' TPOT, throughput and rebuilt steps, without their TTFT, every other factor
held as shipped; then each level's errors with it.

Run: .venv/bin/python results/perf_model/explored-fifteenth/floor_without_ttft.py RUN_DIR...
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from planner.calibration import shipped_calibration  # noqa: E402
from reports.perf_fit import PIECEWISE_ONLY, _fit, perf_cases, perf_residuals  # noqa: E402
from reports.run_data import open_runs  # noqa: E402

KEPT = ("mean_tpot_ms", "output_throughput")
SHOWN = ("mean_tpot_ms", "median_ttft_ms", "output_throughput")

for run in sys.argv[1:]:
    cases = perf_cases(open_runs([Path(run)]), steps=True)
    held, _ = shipped_calibration(cases[0].plan.server.vllm_version)[0].performance_factors(cases[0].gpu)
    held = held.model_copy(update={"piecewise_layer_us": 0.0})
    without_ttft = [
        c.model_copy(update={"point": c.point.model_copy(update={"measured": {m: c.point.measured[m] for m in KEPT}})})
        for c in cases
    ]
    factors = _fit(without_ttft, list(PIECEWISE_ONLY), held)
    print(f"{Path(run).name}: floor fitted without TTFT {factors.piecewise_layer_us:.1f} us a layer")
    for r in perf_residuals(cases, factors):
        print(f"  {r.level:10}", "  ".join(f"{m} {100 * r.errors[m]:+.1f}%" for m in SHOWN))

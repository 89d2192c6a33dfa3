"""How much the performance factors depend on the order the fit sees its levels in, and what that moves
out of sample.

The replay (planner/serving_sim.py) is piecewise constant in the factors (whole steps, whole waves), so
least squares (reports/perf_fit.py) stops where its finite differences go flat, and that point depends
on the order of the residuals. This fits the --fit runs' levels in the order given, sorted by (run,
deployment, level) and in reverse, prints the three factor sets, and each one's errors on the --check runs
(predicted / measured - 1 of vllm bench serve's mean TPOT, median TTFT, output throughput).
Run: .venv/bin/python benchmarks/fit_order.py --fit RUN_DIR... --check RUN_DIR... [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.perf_fit import METRICS, PerfCase, fit_factors, perf_cases, perf_residuals  # noqa: E402
from reports.run_data import open_runs  # noqa: E402


def orders(cases: list[PerfCase]) -> dict[str, list[PerfCase]]:
    def key(c: PerfCase) -> tuple[str, str, str]:
        return c.point.run, c.point.deployment, c.point.level

    return {"as given": cases, "sorted": sorted(cases, key=key), "reversed": sorted(cases, key=key, reverse=True)}


def report(fit_runs: list[Path], check_runs: list[Path]) -> str:
    fitted, checked = perf_cases(open_runs(fit_runs), steps=True), perf_cases(open_runs(check_runs))
    lines = []
    for name, cases in orders(fitted).items():
        factors = fit_factors(cases)
        lines.append(f"== {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in factors.model_dump().items()))
        for row in perf_residuals(checked, factors):
            errors = "  ".join(f"{m.split('_')[1]} {row.errors[m]:+6.1%}" for m in METRICS if m in row.errors)
            lines.append(f"   {row.gpu:5s} {row.deployment:6s} {row.level:11s} {errors}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", nargs="+", type=Path, required=True)
    parser.add_argument("--check", nargs="+", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = report(args.fit, args.check)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

"""The performance model out of sample: fitted on one GPU's levels, predicting another's.

Two modes:
- `--predict SCENARIO --deployment NAME --gpu G [--model-dir DIR] [--factors-gpu F]`: the levels of a
  scenario predicted before they run, with the shipped calibration's factors for G (planner/calibrations/;
  a GPU without its own takes its family's; those of the model's class where fitted, planner/calibration.py),
  or for F: another card's factors, the out-of-sample case;
  written to `--out` (JSON and a table) so the run can be judged against it. A level the replay does not
  model (lengths drawn from a distribution; an open loop other than bench's default Poisson schedule, capped
  in flight or bounded by a duration) is listed as skipped, by the rule the check applies to the run.
- `--fit RUN_DIR... --check RUN_DIR...`: factors fitted on the --fit runs' levels, per model class (reports/perf_fit.py)
  (or, with `--factors-gpu F` instead of --fit, the shipped factors of F), then every level of the
  --check runs predicted with them; per level and metric the error
  (predicted - measured) / measured of vllm bench serve's mean TPOT, median TTFT and output throughput,
  against issue 21's targets (TPOT and throughput within 15%, TTFT within 25%).
Run: .venv/bin/python benchmarks/perf_model.py --fit results/gpu_perf_h100/* --check results/gpu_perf_h200/*
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load.level import level_driver, level_tokens  # noqa: E402
from bench.run.capacity_check import predict as plan_deployment  # noqa: E402
from bench.run.model_source import materialize_model  # noqa: E402
from bench.scenario.loader import load_scenario  # noqa: E402
from planner import load_model, resolve_gpu  # noqa: E402
from planner.arrivals import level_seed  # noqa: E402
from planner.calibration import performance_class, shipped_calibration  # noqa: E402
from planner.performance import predict_level  # noqa: E402
from reports.analysis_files import write_analysis  # noqa: E402
from reports.perf_fit import METRICS, TARGETS, calibrate_performance, perf_cases, perf_residuals, replayed_load  # noqa: E402
from reports.run_data import open_runs  # noqa: E402


def predict_scenario(args: argparse.Namespace) -> dict:
    scenario = load_scenario(Path(args.predict))
    spec = next(d for d in scenario.deployments if d.name == args.deployment).model_copy(update={"gpu": args.gpu})
    gpu = resolve_gpu(args.gpu)
    # without --model-dir, the deployment's own (synthetic) model, written as bench run would write it
    model_dir = Path(args.model_dir) if args.model_dir else materialize_model(spec, Path(tempfile.mkdtemp()))
    plan = plan_deployment(spec, model_dir, args.vllm_version)
    model = load_model(str(model_dir))
    calibration, _ = shipped_calibration(args.vllm_version)
    factors, source = calibration.performance_factors(
        resolve_gpu(args.factors_gpu or args.gpu), performance_class(model)
    )
    levels: list[dict] = []
    for index, level in enumerate(scenario.load.levels):
        # the rule the check applies to the run (reports/perf_fit.replayed_load), on what bench will record
        load = replayed_load(
            level_driver(scenario, level),
            *level_tokens(scenario, level),
            requests=scenario.load.request_count(level) or 1,
            seed=level_seed(scenario.seed, index),
        )
        if load is None:
            levels.append({"level": level.label(), "skipped": "not replayed: lengths drawn from a distribution, "
                           "or an open loop other than bench's default Poisson schedule"})  # fmt: skip
            continue
        p = predict_level(model, gpu, spec.layout, plan, load=load, factors=factors)
        levels.append({"level": level.label(), **{m: getattr(p, m) for m in METRICS}, "mean_ttft_ms": p.mean_ttft_ms})
    return {"scenario": args.predict, "deployment": args.deployment, "gpu": args.gpu,
            "factors_gpu": args.factors_gpu or args.gpu, "factors_source": source,
            "factors": factors.model_dump(), "levels": levels}  # fmt: skip


def check(args: argparse.Namespace) -> dict:
    checked = perf_cases(open_runs([Path(p) for p in args.check]))
    calibration, _ = shipped_calibration(args.vllm_version)
    if args.fit:  # fitted per GPU and model class as bench calibrate fits them, looked up as the shipped ones are
        fitted = calibrate_performance(perf_cases(open_runs([Path(p) for p in args.fit]), steps=True))
        calibration = calibration.model_copy(update={"performance": fitted})
    # the factors of --factors-gpu (else the fitted GPU's) for each checked class, as a --predict before the run
    gpu = resolve_gpu(args.factors_gpu or calibration.performance[0].gpu)
    factors = {
        k: calibration.performance_factors(gpu, k)[0] for k in sorted({performance_class(c.model) for c in checked})
    }
    rows = [r.model_dump() for c in checked for r in perf_residuals([c], factors[performance_class(c.model)])]
    worst = {m: max(abs(r["errors"][m]) for r in rows if m in r["errors"]) for m in METRICS}
    # per metric: [levels within its target, levels with that metric measured]
    within = {m: [sum(abs(r["errors"][m]) <= TARGETS[m] for r in rows if m in r["errors"]),
                  sum(m in r["errors"] for r in rows)] for m in METRICS}  # fmt: skip
    return {"fit": args.fit or f"shipped factors of {args.factors_gpu}", "check": args.check,
            "factors": {k: f.model_dump() for k, f in factors.items()}, "levels": rows, "worst": worst,
            "levels_within": within,
            "within_targets": {m: worst[m] <= TARGETS[m] for m in METRICS}}  # fmt: skip


def table(result: dict) -> str:
    lines = []
    for row in result["levels"]:
        if "errors" in row:
            measured, predicted, errors = row["measured"], row["predicted"], row["errors"]
            cells = [f"{m.split('_')[1]} {measured[m]:9.1f} -> {predicted[m]:9.1f} ({errors[m]:+.1%})"
                     for m in METRICS if m in errors]  # fmt: skip
            lines.append(
                f"{row['gpu']:5s} {row['run'][:15]} {row['deployment']:10s} {row['level']:9s} " + "  ".join(cells)
            )
        elif "skipped" in row:
            lines.append(f"{row['level']:9s} {row['skipped']}")
        else:
            lines.append(f"{row['level']:9s} " + "  ".join(f"{m} {row[m]:9.1f}" for m in METRICS))
    if "worst" in result:
        lines.append(
            "worst |error|: " + ", ".join(f"{m} {v:.1%} (target {TARGETS[m]:.0%})" for m, v in result["worst"].items())
        )
        within = result["levels_within"].items()
        lines.append("levels within target: " + ", ".join(f"{m} {k} of {n}" for m, (k, n) in within))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predict")
    parser.add_argument("--deployment")
    parser.add_argument("--gpu")
    parser.add_argument("--model-dir")
    parser.add_argument("--factors-gpu", help="predict with another GPU's shipped factors (the out-of-sample check)")
    parser.add_argument("--vllm-version", default="0.26.0")
    parser.add_argument("--fit", nargs="*")
    parser.add_argument("--check", nargs="*")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = predict_scenario(args) if args.predict else check(args)
    text = table(result)
    print(text)
    if args.out:
        write_analysis(args.out, result, text)


if __name__ == "__main__":
    main()

"""The gate against the regressions it exists to catch, each doctored into a real smoke run (24 requests
a level, results/smoke_pinning), and its false-positive rate on identical data, measured."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.cli import app
from reports.baseline import Baseline, BaselineRun, make_baseline
from reports.gate import DEFAULT_RULES, Rules, evaluate, exit_code
from reports.gate_rules import Rule
from reports.run_data import open_runs
from tests.paths import REPO
from tools.doctored_runs import doctored, side, slowest_eighth_3x

SMOKE = REPO / "results/smoke_pinning/20261125-183448-smoke"


@pytest.fixture(scope="module")
def smoke() -> Baseline:
    return make_baseline(open_runs([SMOKE]))


def verdicts(findings, metric: str) -> set[str]:
    return {f.verdict for f in findings if f.metric == metric}


def test_tail_only_regression_fails_from_one_smoke_run_a_side(smoke):
    run = smoke.runs[0]
    candidate = side(smoke, doctored(run, "ttft", slowest_eighth_3x))
    for level in run.metrics["tiny-minimax"]:  # the tail moved, the median did not
        assert (
            candidate.runs[0].metrics["tiny-minimax"][level]["median_ttft_ms"]
            == run.metrics["tiny-minimax"][level]["median_ttft_ms"]
        )
    findings = evaluate(DEFAULT_RULES, smoke, candidate)
    assert verdicts(findings, "p99_ttft_ms") == {"regression"} and exit_code(findings) == 1
    assert all(
        "bootstrap of the p99 change over 24 vs 24 requests" in f.method for f in findings if f.metric == "p99_ttft_ms"
    )


def test_median_only_regression_fails(smoke):
    candidate = side(smoke, doctored(smoke.runs[0], "tpot", lambda v: v * 1.5))
    findings = evaluate(DEFAULT_RULES, smoke, candidate)
    assert verdicts(findings, "median_tpot_ms") == {"regression"} and verdicts(findings, "p99_ttft_ms") != {
        "regression"
    }


def with_throughput(run: BaselineRun, value: float, run_id: str) -> BaselineRun:
    metrics = {
        d: {lv: m | {"output_throughput": value} for lv, m in levels.items()} for d, levels in run.metrics.items()
    }
    return run.model_copy(update={"metrics": metrics, "run_id": run_id})


def test_throughput_only_regression_fails_with_repeated_runs_and_is_undecided_with_one(smoke):
    run = smoke.runs[0]
    base = side(smoke, *(with_throughput(run, v, f"b{i}") for i, v in enumerate([600.0, 610.0, 595.0])))
    worse = side(smoke, *(with_throughput(run, v, f"c{i}") for i, v in enumerate([480.0, 470.0, 490.0])))
    assert verdicts(evaluate(DEFAULT_RULES, base, worse), "output_throughput") == {"regression"}
    one = evaluate(DEFAULT_RULES, side(smoke, base.runs[0]), side(smoke, worse.runs[0]))
    assert verdicts(one, "output_throughput") == {"inconclusive"}
    assert all("3 runs a side would" in f.method for f in one if f.metric == "output_throughput")


def two_deployments(run: BaselineRun) -> BaselineRun:
    twice = {
        key: {**value, "other": value["tiny-minimax"]}
        for key, value in (
            ("metrics", run.metrics),
            ("samples", run.samples),
            ("capacity", run.capacity),
            ("residual", run.residual),
        )
    }
    return run.model_copy(update=twice)  # fmt: skip


def test_one_deployment_of_two_regresses_alone(smoke):
    both = two_deployments(smoke.runs[0])
    findings = evaluate(
        DEFAULT_RULES, side(smoke, both), side(smoke, doctored(both, "ttft", slowest_eighth_3x, deployment="other"))
    )
    failing = {f.deployment for f in findings if f.verdict == "regression"}
    assert failing == {"other"} and exit_code(findings) == 1


def test_a_capacity_change_and_planner_drift_fail(smoke):
    run = smoke.runs[0]
    smaller = run.model_copy(update={"capacity": {"tiny-minimax": 500_000}})
    assert verdicts(evaluate(DEFAULT_RULES, smoke, side(smoke, smaller)), "kv_capacity_tokens") == {"regression"}
    drifted = run.model_copy(update={"residual": {"tiny-minimax": -0.05}})  # the planner now 5% above the server
    findings = evaluate(DEFAULT_RULES, smoke, side(smoke, drifted))
    assert verdicts(findings, "planner_residual") == {"regression"} and exit_code(findings) == 1
    assert verdicts(evaluate(DEFAULT_RULES, smoke, smoke), "planner_residual") == {"pass"}


def test_sigma_limits_use_the_baselines_spread(smoke):
    run = smoke.runs[0]
    rules = Rules(rules=[Rule(metric="output_throughput", max_decrease="3 sigma")])
    base = side(smoke, *(with_throughput(run, v, f"b{i}") for i, v in enumerate([600.0, 606.0, 594.0])))  # sd 1%
    slightly = side(smoke, *(with_throughput(run, v, f"c{i}") for i, v in enumerate([570.0, 572.0, 568.0])))  # -5%
    assert verdicts(evaluate(rules, base, slightly), "output_throughput") == {"regression"}  # beyond 3 x 1%
    single = evaluate(rules, side(smoke, run), slightly)
    assert (
        verdicts(single, "output_throughput") == {"inconclusive"}
        and "needs the baseline's run-to-run" in single[0].method
    )


def test_identical_reruns_fail_at_most_five_percent_of_the_time(smoke):
    """200 gate calls, each side resampled with replacement from the same smoke run's requests: a
    false positive is any exit 1 under the default rules at alpha 0.05."""
    rng = np.random.default_rng(7)
    run, failures = smoke.runs[0], 0
    for call in range(200):

        def resample(values: np.ndarray) -> np.ndarray:
            return rng.choice(values, len(values))

        sides = []
        for name in ("a", "b"):
            resampled = run
            for sample in ("ttft", "tpot"):
                resampled = doctored(resampled, sample, resample, run_id=f"{name}{call}")
            sides.append(side(smoke, resampled))
        failures += exit_code(evaluate(DEFAULT_RULES.model_copy(update={"resamples": 500}), *sides))
    assert failures / 200 <= 0.05


def test_cli_strict_turns_undecided_into_failure(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["gate", str(SMOKE), "--baseline", str(SMOKE)])
    strict = runner.invoke(app, ["gate", str(SMOKE), "--baseline", str(SMOKE), "--strict"])
    assert ok.exit_code == 0 and "inconclusive" in ok.output
    assert strict.exit_code == 1 and strict.output.startswith("## bench gate: FAIL") and "--strict" in strict.output

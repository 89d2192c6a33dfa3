"""bench compare, bench gate and bench baseline, on the golden runs (real CPU runs)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from bench.cli import app
from reports.baseline import Baseline, make_baseline
from reports.compare import compare_runs
from reports.gate import DEFAULT_RULES, Rule, Rules, evaluate, exit_code
from reports.run_data import open_runs
from tests.paths import DATA

GOLDEN = DATA / "golden"
RUN_A, RUN_B = GOLDEN / "run_a", GOLDEN / "run_b"
runner = CliRunner()


@pytest.fixture(scope="module")
def base_a() -> Baseline:
    return make_baseline(open_runs([RUN_A]))


def scaled(baseline: Baseline, factor: float, metric: str = "p99_ttft_ms", sample: str = "ttft") -> Baseline:
    """The same real run with one metric and its per-request samples multiplied by `factor`."""
    runs = []
    for run in baseline.runs:
        metrics = {
            d: {lv: m | {metric: m[metric] * factor} for lv, m in levels.items()} for d, levels in run.metrics.items()
        }
        samples = {
            d: {lv: s | {sample: [x * factor for x in s[sample]]} for lv, s in levels.items()}
            for d, levels in run.samples.items()
        }
        runs.append(run.model_copy(update={"metrics": metrics, "samples": samples, "run_id": run.run_id + "-x"}))
    return baseline.model_copy(update={"runs": runs})


def with_values(baseline: Baseline, values: list[float], metric: str = "output_throughput") -> Baseline:
    """Repeated runs: copies of the real run whose `metric` takes each of `values`."""
    run = baseline.runs[0]
    runs = [
        run.model_copy(
            update={
                "run_id": f"r{i}",
                "metrics": {d: {lv: m | {metric: v} for lv, m in levels.items()} for d, levels in run.metrics.items()},
            }
        )
        for i, v in enumerate(values)
    ]
    return baseline.model_copy(update={"runs": runs})


def test_compare_gives_changes_with_bootstrap_intervals():
    a, b = open_runs([RUN_A, RUN_B])
    deltas = compare_runs(a, b)
    ttft = [d for d in deltas if d.metric == "median_ttft_ms"]
    assert len(ttft) == 3 and all(d.ci_low <= d.change <= d.ci_high for d in ttft)
    capacity = next(d for d in deltas if d.metric == "kv_capacity_tokens")
    assert capacity.change == 0.0
    throughput = next(d for d in deltas if d.metric == "output_throughput")
    assert throughput.ci_low is None  # one number per run: no interval claimed


def test_compare_a_run_with_itself_is_zero():
    a, a2 = open_runs([RUN_A, RUN_A])
    assert all(
        d.change in (0.0, None) and (d.ci_low is None or d.ci_low <= 0 <= d.ci_high) for d in compare_runs(a, a2)
    )


def test_a_run_gated_against_itself_passes(base_a):
    """16 requests a level cannot bound a p99 within 10%: such rules say so (inconclusive), and pass."""
    findings = evaluate(DEFAULT_RULES, base_a, base_a)
    assert findings and "regression" not in {f.verdict for f in findings} and exit_code(findings) == 0
    assert {f.verdict for f in findings if f.metric in ("kv_capacity_tokens", "planner_residual")} == {"pass"}
    assert exit_code(findings, strict=True) == (1 if any(f.verdict == "inconclusive" for f in findings) else 0)


def test_a_real_slowdown_is_a_regression_by_its_quantile_interval(base_a):
    findings = evaluate(Rules(rules=[Rule(metric="median_ttft_ms", max_increase="10%")]), base_a, scaled(base_a, 3.0,
                        "median_ttft_ms"))  # fmt: skip
    assert {f.verdict for f in findings} == {"regression"} and all("bootstrap of the p50" in f.method for f in findings)
    assert all(f.interval and f.interval[0] > 0.1 for f in findings) and exit_code(findings) == 1


def test_a_change_within_the_limit_is_never_a_regression(base_a):
    findings = evaluate(Rules(rules=[Rule(metric="p99_ttft_ms", max_increase_pct=10)]), base_a, scaled(base_a, 1.05))
    assert "regression" not in {f.verdict for f in findings}


def test_repeated_runs_use_welch_and_say_inconclusive_when_noise_wins(base_a):
    rule = Rules(rules=[Rule(metric="output_throughput", max_decrease_pct=5)])
    clear = evaluate(rule, with_values(base_a, [100.0, 101.0, 99.0]), with_values(base_a, [80.0, 81.0, 79.5]))
    noisy = evaluate(rule, with_values(base_a, [100.0, 40.0, 160.0]), with_values(base_a, [60.0, 140.0, 70.0]))
    assert {f.verdict for f in clear} == {"regression"} and all("Welch" in f.method for f in clear)
    assert {f.verdict for f in noisy} == {"inconclusive"} and exit_code(noisy) == 0


def test_kv_capacity_must_not_change(base_a):
    changed = base_a.model_copy(update={"runs": [base_a.runs[0].model_copy(update={"capacity": {"tiny": 1000}})]})
    findings = evaluate(Rules(rules=[Rule(metric="kv_capacity_tokens", must_equal=True)]), base_a, changed)
    assert [f.verdict for f in findings] == ["regression"]


def test_cli_gate_baseline_round_trip_markdown_and_junit(tmp_path):
    baseline = tmp_path / "baseline.json"
    assert runner.invoke(app, ["baseline", "save", str(RUN_A), "-o", str(baseline)]).exit_code == 0
    junit = tmp_path / "gate.xml"
    result = runner.invoke(app, ["gate", str(RUN_A), "--baseline", str(baseline), "--junit", str(junit)])
    assert result.exit_code == 0 and result.output.startswith("## bench gate: pass")
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "0" and len(suite.findall("testcase")) == int(suite.get("tests")) > 0


def test_cli_gate_catches_a_regression_from_a_rules_file(tmp_path):
    # The baseline is the same real run made 3x faster in TTFT, so the run itself has regressed.
    faster = scaled(make_baseline(open_runs([RUN_A])), 1 / 3)
    baseline, rules, junit = tmp_path / "b.json", tmp_path / "rules.yaml", tmp_path / "gate.xml"
    baseline.write_text(json.dumps(faster.model_dump()))
    rules.write_text("alpha: 0.05\nrules:\n  - {metric: p99_ttft_ms, max_increase_pct: 10}\n")
    result = runner.invoke(
        app, ["gate", str(RUN_A), "--baseline", str(baseline), "--rules", str(rules), "--junit", str(junit)]
    )
    assert result.exit_code == 1 and result.output.startswith("## bench gate: REGRESSION")
    regressions = result.output.count("REGRESSION |")  # at most one per load level; a heavy-tailed level may not decide
    assert regressions >= 2 and ET.parse(junit).getroot().get("failures") == str(regressions)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "/nonexistent.json"], "no such baseline"),
        (["--baseline", "{run_b}", "--rules", "{bad_rules}"], "give one of"),
        (["--baseline", "{other}"], "baseline is for scenario 'other'"),
        (["--baseline", "{newer}"], "newer than this harness"),
    ],
)
def test_cli_gate_usage_errors_exit_2(tmp_path, args, message):
    bad_rules = tmp_path / "rules.yaml"
    bad_rules.write_text("rules:\n  - {metric: p99_ttft_ms}\n")
    base = make_baseline(open_runs([RUN_B]))
    (tmp_path / "other.json").write_text(json.dumps(base.model_copy(update={"scenario": "other"}).model_dump()))
    (tmp_path / "newer.json").write_text(json.dumps(base.model_dump() | {"schema_version": 7}))
    names = {
        "run_b": str(RUN_B),
        "bad_rules": str(bad_rules),
        "other": str(tmp_path / "other.json"),
        "newer": str(tmp_path / "newer.json"),
    }
    result = runner.invoke(app, ["gate", str(RUN_A)] + [a.format(**names) for a in args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output

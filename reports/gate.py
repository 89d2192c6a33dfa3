"""Regression gate: rules over a candidate's runs against a baseline's runs, each judged by a method
that fits the metric, and saying which:

- a quantile of a latency (median_ or pNN_ of ttft, tpot, itl, e2el): per-request samples pooled over
  each side's runs; the bootstrap interval of the quantile's change (reports/quantile_test.py):
  regression when its low end is past the limit, pass when its high end is within it, inconclusive
  otherwise, saying about how many requests a side would decide;
- any other metric (throughput, mean latencies): one value per run; with >= 2 runs a side, Welch's
  t-test of the candidate against the baseline moved to the limit (one-sided, alpha); with fewer,
  within the limit passes and beyond it is inconclusive: one run a side cannot tell noise from change;
- a limit in sigmas is k x the baseline's run-to-run relative spread (>= 2 baseline runs);
- must_equal compares exactly; planner_residual is the candidate's own |predicted - reported| KV.
Inconclusive passes unless `strict` (bench gate --strict).
"""

from __future__ import annotations

from statistics import mean, stdev
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats

from reports.baseline import Baseline
from reports.gate_rules import DEFAULT_RULES, Limit, Rule, Rules
from reports.quantile_test import quantile_change, requests_to_decide
from reports.samples import sample_for

__all__ = ["DEFAULT_RULES", "Finding", "Rules", "evaluate", "exit_code"]
Verdict = Literal["pass", "regression", "inconclusive", "missing"]


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deployment: str
    level: str
    metric: str
    rule: str
    baseline: float | None
    current: float | None
    change: float | None
    verdict: Verdict
    method: str
    interval: tuple[float, float] | None = None  # the change's one-sided bounds, quantile rules
    limit: float | None = None  # the relative change allowed, as applied (sigma limits resolved)


def evaluate(rules: Rules, baseline: Baseline, current: Baseline) -> list[Finding]:
    findings = []
    for deployment, levels in baseline.runs[0].metrics.items():
        for rule in rules.rules:
            if rule.metric in ("kv_capacity_tokens", "planner_residual"):
                findings.append(_deployment_rule(rule, deployment, baseline, current))
                continue
            for level in levels:
                findings.append(_judge(rules, rule, deployment, level, baseline=baseline, current=current))
    return findings


def exit_code(findings: list[Finding], strict: bool = False) -> int:
    failing = {"regression", "missing"} | ({"inconclusive"} if strict else set())
    return 1 if any(f.verdict in failing for f in findings) else 0


def _values(side: Baseline, deployment: str, level: str, metric: str) -> list[float]:
    return [v for run in side.runs if (v := run.metrics.get(deployment, {}).get(level, {}).get(metric)) is not None]


def _samples(side: Baseline, deployment: str, level: str, name: str) -> np.ndarray:
    return np.array([x for run in side.runs for x in run.samples.get(deployment, {}).get(level, {}).get(name, [])])


def _deployment_rule(rule: Rule, deployment: str, baseline: Baseline, current: Baseline) -> Finding:
    base = Finding(
        deployment=deployment,
        level="-",
        metric=rule.metric,
        rule=rule.describe(),
        baseline=None,
        current=None,
        change=None,
        verdict="missing",
        method="exact",
    )
    if rule.metric == "planner_residual":
        residuals = [r for run in current.runs if (r := run.residual.get(deployment)) is not None]
        if not residuals:
            return base.model_copy(update={"method": "no prediction in the candidate"})
        worst = max(residuals, key=abs)
        limit = (rule.max_abs_pct or 0) / 100
        verdict = "pass" if abs(worst) <= limit else "regression"
        return base.model_copy(
            update={
                "current": worst,
                "change": worst,
                "verdict": verdict,
                "limit": limit,
                "method": "worst |planner - server| / server over the candidate's runs",
            }
        )
    before = {run.capacity.get(deployment) for run in baseline.runs}
    after = {run.capacity.get(deployment) for run in current.runs}
    b, c = next(iter(before)), next(iter(after), None)
    verdict = "missing" if c is None else ("pass" if before == after else "regression")
    return base.model_copy(
        update={"baseline": b, "current": c, "verdict": verdict, "change": (c / b - 1) if b and c is not None else None}
    )


def _judge(rules: Rules, rule: Rule, deployment: str, level: str, *, baseline: Baseline, current: Baseline) -> Finding:
    b, c = _values(baseline, deployment, level, rule.metric), _values(current, deployment, level, rule.metric)
    base = Finding(
        deployment=deployment,
        level=level,
        metric=rule.metric,
        rule=rule.describe(),
        baseline=mean(b) if b else None,
        current=mean(c) if c else None,
        change=None,
        verdict="missing",
        method="-",
    )
    if not b or not c:
        return base
    base = base.model_copy(update={"change": mean(c) / mean(b) - 1 if mean(b) else 0.0})
    if rule.must_equal:
        return base.model_copy(update={"verdict": "pass" if b == c else "regression", "method": "exact"})
    rising = rule.rising is not None
    limit, why = _relative_limit(rule.rising or rule.falling, b)
    if limit is None:
        return base.model_copy(update={"verdict": "inconclusive", "method": why})
    base = base.model_copy(update={"limit": limit})
    sample = sample_for(rule.metric)
    if sample is not None:
        return _quantile_rule(rules, base, rising=rising, sample=sample, baseline=baseline, current=current)
    return _per_run_rule(rules.alpha, base, b, c, rising=rising)


def _relative_limit(limit: Limit | None, baseline_values: list[float]) -> tuple[float | None, str]:
    if limit is None:
        return None, "no limit"
    if limit.unit == "%":
        return limit.value / 100, ""
    if len(baseline_values) < 2 or not mean(baseline_values):
        return (
            None,
            f"a limit of {limit.describe()} needs the baseline's run-to-run spread: >= 2 baseline runs "
            "(bench run --repeat 3, then bench baseline save)",
        )
    return limit.value * stdev(baseline_values) / mean(baseline_values), ""


def _quantile_rule(  # noqa: PLR0917 - the rule set, the finding so far
    rules: Rules, base: Finding, *, rising: bool, sample: tuple[str, float], baseline: Baseline, current: Baseline
) -> Finding:
    name, q = sample
    xs, ys = (_samples(side, base.deployment, base.level, name) for side in (baseline, current))
    limit = base.limit or 0.0
    if len(xs) < 2 or len(ys) < 2:
        return base.model_copy(update={"verdict": "inconclusive", "method": f"{name} samples: {len(xs)} vs {len(ys)}"})
    result = quantile_change(xs, ys, q, alpha=rules.alpha, resamples=rules.resamples)
    worse_low, worse_high = (result.low, result.high) if rising else (-result.high, -result.low)
    verdict: Verdict = "regression" if worse_low > limit else "pass" if worse_high <= limit else "inconclusive"
    method = (
        f"bootstrap of the p{q:g} change over {len(xs)} vs {len(ys)} requests: "
        f"[{result.low:+.1%}, {result.high:+.1%}] at alpha {rules.alpha:g} a side"
    )
    if verdict == "inconclusive":
        method += f"; about {requests_to_decide(result, limit if rising else -limit, q):,} requests a side would decide"
    return base.model_copy(
        update={"change": result.change, "verdict": verdict, "method": method, "interval": (result.low, result.high)}
    )


def _per_run_rule(alpha: float, base: Finding, b: list[float], c: list[float], *, rising: bool) -> Finding:
    change, limit = base.change or 0.0, base.limit or 0.0
    beyond = change > limit if rising else -change > limit
    if len(b) >= 2 and len(c) >= 2:
        moved = np.asarray(b) * ((1 + limit) if rising else (1 - limit))
        p = float(stats.ttest_ind(c, moved, equal_var=False, alternative="greater" if rising else "less").pvalue)
        verdict: Verdict = "regression" if p < alpha else "pass" if not beyond else "inconclusive"
        return base.model_copy(
            update={
                "verdict": verdict,
                "method": f"Welch t-test against the limit, {len(b)} vs {len(c)} runs, p={p:.3g}",
            }
        )
    if not beyond:
        return base.model_copy(update={"verdict": "pass", "method": "within the limit (one run a side)"})
    return base.model_copy(
        update={
            "verdict": "inconclusive",
            "method": f"beyond the limit on {len(b)} vs {len(c)} runs: one run a side cannot "
            "tell noise from change; 3 runs a side would (bench run --repeat 3)",
        }
    )

"""Regression gate: rules over metrics, judged against a baseline with the noise taken into account.

Per (deployment, level, rule), change = mean(current) / mean(baseline) - 1 over the runs given.
- Within the allowed change: pass.
- Beyond it: with >= 2 runs on each side, Welch's t-test (scipy) of current against the baseline
  moved to the limit, one-sided; for a latency statistic with single runs, Mann-Whitney U on the
  per-request samples, likewise. p < alpha: regression; otherwise inconclusive (the data can't
  decide). Single-run throughput has no samples to test: beyond the limit it is a regression,
  marked as judged by threshold alone.
- `must_equal` rules (e.g. kv_capacity_tokens) compare exactly.
"""

from __future__ import annotations

from statistics import mean
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import stats

from reports.baseline import Baseline
from reports.samples import sample_for

Verdict = Literal["pass", "regression", "inconclusive", "missing"]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str
    max_increase_pct: float | None = Field(None, ge=0)
    max_decrease_pct: float | None = Field(None, ge=0)
    must_equal: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        if sum([self.max_increase_pct is not None, self.max_decrease_pct is not None, self.must_equal]) != 1:
            raise ValueError(f"rule for {self.metric}: give one of max_increase_pct, max_decrease_pct, must_equal")
        return self

    def describe(self) -> str:
        if self.must_equal:
            return "must not change"
        return (
            f"may rise <= {self.max_increase_pct:g}%"
            if self.max_increase_pct is not None
            else f"may fall <= {self.max_decrease_pct:g}%"
        )


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(0.05, gt=0, lt=1)
    rules: list[Rule] = Field(min_length=1)


DEFAULT_RULES = Rules(
    rules=[
        Rule(metric="p99_ttft_ms", max_increase_pct=10),
        Rule(metric="median_tpot_ms", max_increase_pct=10),
        Rule(metric="output_throughput", max_decrease_pct=5),
        Rule(metric="kv_capacity_tokens", must_equal=True),
    ]
)


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


def evaluate(rules: Rules, baseline: Baseline, current: Baseline) -> list[Finding]:
    findings = []
    for deployment, levels in baseline.runs[0].metrics.items():
        for rule in rules.rules:
            if rule.metric == "kv_capacity_tokens":
                findings.append(_capacity(rule, deployment, baseline, current))
                continue
            for level in levels:
                findings.append(_judge(rules.alpha, rule, deployment, level, baseline=baseline, current=current))
    return findings


def _values(side: Baseline, deployment: str, level: str, metric: str) -> list[float]:
    return [v for run in side.runs if (v := run.metrics.get(deployment, {}).get(level, {}).get(metric)) is not None]


def _capacity(rule: Rule, deployment: str, baseline: Baseline, current: Baseline) -> Finding:
    before = {run.capacity.get(deployment) for run in baseline.runs}
    after = {run.capacity.get(deployment) for run in current.runs}
    b, c = next(iter(before)), next(iter(after), None)
    verdict = "missing" if c is None else ("pass" if before == after else "regression")
    return Finding(
        deployment=deployment,
        level="-",
        metric=rule.metric,
        rule=rule.describe(),
        baseline=b,
        current=c,
        change=(c / b - 1) if b and c is not None else None,
        verdict=verdict,
        method="exact",
    )


def _judge(alpha: float, rule: Rule, deployment: str, level: str, *, baseline: Baseline, current: Baseline) -> Finding:
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
    change = mean(c) / mean(b) - 1 if mean(b) else 0.0
    if rule.must_equal:
        return base.model_copy(
            update={"change": change, "verdict": "pass" if b == c else "regression", "method": "exact"}
        )
    rising = rule.max_increase_pct is not None
    limit = ((rule.max_increase_pct if rising else rule.max_decrease_pct) or 0.0) / 100
    beyond = change > limit if rising else -change > limit
    if not beyond:
        return base.model_copy(update={"change": change, "verdict": "pass", "method": "within limit"})
    p, method = _p_value(
        rising, limit, b, c, deployment=deployment, level=level, metric=rule.metric, baseline=baseline, current=current
    )
    verdict = "regression" if p is None or p < alpha else "inconclusive"
    return base.model_copy(update={"change": change, "verdict": verdict, "method": method})


def _p_value(
    rising: bool,
    limit: float,
    b: list[float],
    c: list[float],
    *,
    deployment: str,
    level: str,
    metric: str,
    baseline: Baseline,
    current: Baseline,
) -> tuple[float | None, str]:
    """One-sided p-value that current is worse than the baseline moved to the limit."""

    def moved(xs: list[float]) -> np.ndarray:
        return np.asarray(xs) * ((1 + limit) if rising else (1 - limit))

    alternative = "greater" if rising else "less"
    if len(b) >= 2 and len(c) >= 2:
        p = stats.ttest_ind(c, moved(b), equal_var=False, alternative=alternative).pvalue
        return float(p), f"Welch t-test, {len(b)} vs {len(c)} runs, p={p:.3g}"
    sample = sample_for(metric)
    if sample:
        xs = [x for run in baseline.runs for x in run.samples.get(deployment, {}).get(level, {}).get(sample[0], [])]
        ys = [y for run in current.runs for y in run.samples.get(deployment, {}).get(level, {}).get(sample[0], [])]
        if len(xs) >= 3 and len(ys) >= 3:
            p = stats.mannwhitneyu(ys, moved(xs), alternative=alternative).pvalue
            return float(p), f"Mann-Whitney U on {len(xs)} vs {len(ys)} requests, p={p:.3g}"
    return None, "single run, threshold only (repeat runs for a test)"


def exit_code(findings: list[Finding]) -> int:
    return 1 if any(f.verdict in ("regression", "missing") for f in findings) else 0

"""The rules a gate applies, as a rules file states them.

    alpha: 0.05                       # one-sided error rate of every test
    rules:
      - {metric: p99_ttft_ms, max_increase: 10%}       # or "3 sigma": the baseline's run-to-run spread
      - {metric: output_throughput, max_decrease: 5%}
      - {metric: kv_capacity_tokens, must_equal: true}
      - {metric: planner_residual, max_abs_pct: 2}     # |predicted - reported| / reported KV tokens

max_increase_pct / max_decrease_pct (numbers) are read as percentages, as before.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_LIMIT = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>%|sigma)\s*$")


class Limit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value: float
    unit: Literal["%", "sigma"]

    def describe(self) -> str:
        return f"{self.value:g}%" if self.unit == "%" else f"{self.value:g} sigma"


def _limit(text: str | float | None, legacy_pct: float | None) -> Limit | None:
    if text is None:
        return None if legacy_pct is None else Limit(value=legacy_pct, unit="%")
    if isinstance(text, int | float):
        return Limit(value=float(text), unit="%")
    match = _LIMIT.match(text)
    if not match:
        raise ValueError(f"limit {text!r}: write a percentage (10%) or a number of sigmas (3 sigma)")
    return Limit(value=float(match["n"]), unit="%" if match["unit"] == "%" else "sigma")


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str
    max_increase: str | float | None = None
    max_decrease: str | float | None = None
    max_increase_pct: float | None = Field(None, ge=0)
    max_decrease_pct: float | None = Field(None, ge=0)
    must_equal: bool = False
    max_abs_pct: float | None = Field(None, ge=0)  # planner_residual: |residual| in percent

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = [self.rising is not None, self.falling is not None, self.must_equal, self.max_abs_pct is not None]
        if sum(kinds) != 1:
            raise ValueError(f"rule for {self.metric}: give one of max_increase, max_decrease, must_equal, max_abs_pct")
        if self.max_abs_pct is not None and self.metric != "planner_residual":
            raise ValueError(f"rule for {self.metric}: max_abs_pct applies to planner_residual")
        return self

    @property
    def rising(self) -> Limit | None:
        return _limit(self.max_increase, self.max_increase_pct)

    @property
    def falling(self) -> Limit | None:
        return _limit(self.max_decrease, self.max_decrease_pct)

    def describe(self) -> str:
        if self.must_equal:
            return "must not change"
        if self.max_abs_pct is not None:
            return f"|planner - server| <= {self.max_abs_pct:g}%"
        if (limit := self.rising) is not None:
            return f"may rise <= {limit.describe()}"
        return f"may fall <= {self.falling.describe() if self.falling else '?'}"


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(0.05, gt=0, lt=0.5)
    resamples: int = Field(2000, ge=200)  # bootstrap resamples per quantile rule
    rules: list[Rule] = Field(min_length=1)


DEFAULT_RULES = Rules(
    rules=[
        Rule(metric="p99_ttft_ms", max_increase="10%"),
        Rule(metric="median_tpot_ms", max_increase="10%"),
        Rule(metric="output_throughput", max_decrease="5%"),
        Rule(metric="kv_capacity_tokens", must_equal=True),
        Rule(metric="planner_residual", max_abs_pct=2),
    ]
)

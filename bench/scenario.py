"""Scenario files: deployments to run in turn, the workload, load levels, SLOs and a seed.

Unknown keys are rejected; a bad file fails before anything starts, with file, line and field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bench.deployment_spec import DeploymentSpec
from bench.scenario_errors import ScenarioError, line_of


class Tokens(BaseModel):
    """A token-count distribution; a plain integer in YAML means fixed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mean: int = Field(ge=1)
    dist: Literal["fixed", "uniform", "normal"] = "fixed"
    spread: float = Field(0.0, ge=0, le=1)  # uniform: +-spread x mean; normal: std = spread x mean
    min: int = Field(1, ge=1)


def _tokens(value: object) -> object:
    return {"mean": value} if isinstance(value, int) and not isinstance(value, bool) else value


class Workload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["random", "shared_prefix", "multi_turn", "dataset"] = "random"
    api: Literal["completions", "chat"] = "completions"
    input_tokens: Tokens = Tokens(mean=256)
    output_tokens: Tokens = Tokens(mean=64)
    prefix_tokens: int = Field(0, ge=0)  # shared_prefix: tokens every request of a group shares
    num_prefixes: int = Field(1, ge=1)
    turns: int = Field(1, ge=1)  # multi_turn: user turns per conversation
    tools: bool = False  # multi_turn: send tool definitions and tool-call / tool-result turns
    dataset: str | None = None  # dataset: JSONL of {"prompt": ...} or {"messages": [...]}, optional "output_tokens"
    ignore_eos: bool = True  # synthetic prompts: generate exactly output_tokens

    _coerce = field_validator("input_tokens", "output_tokens", mode="before")(_tokens)

    @model_validator(mode="after")
    def _kind_needs(self) -> Workload:
        if self.kind == "dataset" and not self.dataset:
            raise ValueError("kind: dataset needs dataset: PATH.jsonl")
        if self.kind == "multi_turn" and self.api != "chat":
            raise ValueError("kind: multi_turn needs api: chat")
        if self.kind == "shared_prefix" and not self.prefix_tokens:
            raise ValueError("kind: shared_prefix needs prefix_tokens > 0")
        return self


class Ramp(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start_rate: float = Field(gt=0)
    end_rate: float = Field(gt=0)


class Level(BaseModel):
    """One load level: fixed concurrency (closed loop), or an arrival rate / ramp (open loop)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    concurrency: int | None = Field(None, ge=1)
    rate: float | None = Field(None, gt=0)
    arrival: Literal["poisson", "gamma", "constant"] = "poisson"
    burstiness: float = Field(1.0, gt=0)  # gamma shape; 1 = Poisson
    ramp: Ramp | None = None
    max_concurrency: int | None = Field(None, ge=1)  # cap on in-flight requests for rate levels
    requests: int | None = Field(None, ge=1)
    duration_s: float | None = Field(None, gt=0)
    warmup_requests: int | None = Field(None, ge=0)
    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None

    _coerce = field_validator("input_tokens", "output_tokens", mode="before")(_tokens)

    @model_validator(mode="after")
    def _one_driver(self) -> Level:
        drivers = [self.concurrency is not None, self.rate is not None, self.ramp is not None]
        if sum(drivers) != 1:
            raise ValueError("give exactly one of concurrency, rate or ramp")
        return self

    def label(self) -> str:
        if self.name:
            return self.name
        if self.concurrency is not None:
            return f"c{self.concurrency}"
        return f"r{self.rate:g}" if self.rate is not None else f"ramp{self.ramp.start_rate:g}-{self.ramp.end_rate:g}"


class Sweep(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: list[int] = Field(default_factory=list)
    rate: list[float] = Field(default_factory=list)


class Load(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    levels: list[Level] = Field(default_factory=list)
    sweep: Sweep | None = None
    requests: int | None = Field(32, ge=1)  # per level, unless the level says otherwise
    duration_s: float | None = Field(None, gt=0)
    warmup_requests: int = Field(2, ge=0)
    request_timeout_s: float = Field(600, gt=0)
    deadline_s: float | None = Field(None, gt=0)  # per deployment, all levels: stop and keep what was measured
    workers: int = Field(1, ge=1, le=64)  # client processes (one event loop each) sharing every level

    @model_validator(mode="after")
    def _bounded(self) -> Load:
        if not self.all_levels():
            raise ValueError("no load levels: give levels or sweep")
        for level in self.all_levels():
            if self.request_count(level) is None and self.duration(level) is None:
                raise ValueError(f"level {level.label()}: bound it by requests and/or duration_s")
            cap = level.concurrency or level.max_concurrency
            if cap is not None and cap < self.workers:
                raise ValueError(f"level {level.label()}: concurrency {cap} < workers {self.workers} leaves a "
                                 "worker without a slot; lower workers")
        return self

    def request_count(self, level: Level) -> int | None:
        """Jobs a level sends: its own count, else the load's default unless the level sets a duration."""
        return level.requests or (self.requests if level.duration_s is None else None)

    def duration(self, level: Level) -> float | None:
        return level.duration_s or self.duration_s

    def warmup(self, level: Level) -> int:
        return self.warmup_requests if level.warmup_requests is None else level.warmup_requests

    def all_levels(self) -> list[Level]:
        swept = [Level(concurrency=c) for c in (self.sweep.concurrency if self.sweep else [])]
        swept += [Level(rate=r) for r in (self.sweep.rate if self.sweep else [])]
        return list(self.levels) + swept


class Slo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ttft_ms: float | None = Field(None, gt=0)
    tpot_ms: float | None = Field(None, gt=0)
    e2el_ms: float | None = Field(None, gt=0)


class Telemetry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    interval_s: float = Field(1.0, gt=0)


class Scenario(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    description: str = ""
    seed: int = 0
    deployments: list[DeploymentSpec] = Field(min_length=1)
    workload: Workload = Workload()
    load: Load
    slo: Slo | None = None
    telemetry: Telemetry = Telemetry()

    @field_validator("deployments")
    @classmethod
    def _unique_names(cls, deployments: list[DeploymentSpec]) -> list[DeploymentSpec]:
        names = [d.name for d in deployments]
        if len(names) != len(set(names)):
            raise ValueError(f"deployment names must be unique, got {names}")
        return deployments


def load_scenario(path: Path) -> Scenario:
    """Parse and validate; every failure is a ScenarioError naming the file, line and field."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(path, None, "file", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ScenarioError(path, mark.line + 1 if mark else None, "yaml", str(getattr(exc, "problem", exc))) from None
    if not isinstance(data, dict):
        raise ScenarioError(path, 1, "scenario", "expected a mapping of name, deployments, workload, load, ...")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p in {"str", "SynthModel", "function-after"})]
        field = ".".join(str(p) for p in loc) or "scenario"
        raise ScenarioError(path, line_of(root, loc), field, err["msg"]) from None
    if scenario.workload.kind == "dataset":
        problem = dataset_problem(path.resolve().parent, scenario.workload.dataset)
        if problem:
            raise ScenarioError(path, line_of(root, ["workload", "dataset"]), "workload.dataset", problem)
    return scenario


def check_on_this_host(path: Path, scenario: Scenario, refusal: Callable[[DeploymentSpec], tuple[str, str, str] | None],
                       only: set[str] | None = None) -> None:
    """Deployments (of the file as loaded; `only` those names) this host cannot start fail here, before
    any starts: ScenarioError at the field's line. `refusal` gives (field, problem, value that fixes it)."""
    root = None
    for index, spec in enumerate(scenario.deployments):
        found = refusal(spec) if only is None or spec.name in only else None
        if found is None:
            continue
        field, problem, value = found
        root = root or yaml.compose(Path(path).read_text())
        raise ScenarioError(path, line_of(root, ["deployments", index, field]), f"deployments.{index}.{field}",
                            f"{problem}; fix: {field}: {value}")


def dataset_problem(scenario_dir: Path, name: str) -> str | None:
    """Why a JSONL dataset can't be used, or None. It must resolve (symlinks followed) to a file inside
    the scenario's folder: a scenario from elsewhere must not read arbitrary files."""
    root = scenario_dir.resolve()
    dataset = (scenario_dir / name).resolve()
    if not dataset.is_relative_to(root):
        return f"{name} resolves to {dataset}, outside the scenario's folder {root}; fix: keep datasets beside it"
    try:
        lines = [line for line in dataset.read_text().splitlines() if line.strip()]
    except OSError as exc:
        return f"cannot read {dataset}: {exc.strerror or exc}"
    if not lines:
        return f"{dataset} has no rows"
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            return f"{dataset} row {number}: not JSON ({exc.msg})"
        if not isinstance(row, dict) or not ("prompt" in row or "messages" in row):
            return f"{dataset} row {number}: needs \"prompt\" or \"messages\""
    return None

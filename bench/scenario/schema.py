"""A scenario: deployments to run in turn, the workload, load levels, SLOs and a seed.

Unknown keys are rejected (bench/scenario/loader.py turns every failure into file, line and field).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bench.scenario.deployment import DeploymentSpec
from planner import arrivals


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

    kind: Literal["random", "shared_prefix", "multi_turn", "dataset", "trace"] = "random"
    api: Literal["completions", "chat"] = "completions"
    input_tokens: Tokens = Tokens(mean=256)
    output_tokens: Tokens = Tokens(mean=64)
    prefix_tokens: int = Field(0, ge=0)  # shared_prefix: tokens every request of a group shares
    num_prefixes: int = Field(1, ge=1)
    turns: int = Field(1, ge=1)  # multi_turn: user turns per conversation
    tools: bool = False  # multi_turn: send tool definitions and tool-call / tool-result turns
    dataset: str | None = None  # dataset: JSONL of {"prompt": ...} or {"messages": [...]}, optional "output_tokens"
    ignore_eos: bool = True  # synthetic prompts: generate exactly output_tokens
    # completions: send token ids (the server sees exactly input_tokens) or text decoded to that many
    # tokens, as vllm bench serve's random dataset does (the server then tokenizes it: it costs TTFT)
    prompt_format: Literal["token_ids", "text"] = "token_ids"
    # trace: a traffic trace replayed at its timestamps (traces/): its file, format, and time compression
    path: str | None = None
    format: Literal["mooncake", "azure", "jsonl"] = "jsonl"
    speedup: float = Field(1.0, gt=0)

    _coerce = field_validator("input_tokens", "output_tokens", mode="before")(_tokens)

    @model_validator(mode="after")
    def _kind_needs(self) -> Workload:
        if self.kind == "dataset" and not self.dataset:
            raise ValueError("kind: dataset needs dataset: PATH.jsonl")
        if self.kind == "multi_turn" and self.api != "chat":
            raise ValueError("kind: multi_turn needs api: chat")
        if self.kind == "trace" and (not self.path or self.api != "completions"):
            raise ValueError("kind: trace needs path: FILE and api: completions (its prompts go as token ids)")
        if self.kind == "shared_prefix" and not self.prefix_tokens:
            raise ValueError("kind: shared_prefix needs prefix_tokens > 0")
        return self


class Ramp(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start_rate: float = Field(gt=0)
    end_rate: float = Field(gt=0)


class Arrival(BaseModel):
    """An open loop's arrival process; a plain string in YAML names the process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    process: Literal["poisson", "gamma", "constant"] = arrivals.PROCESS
    normalize: bool = arrivals.NORMALIZE  # vLLM's rescaling of the cumulative delays to N / rate


def _arrival(value: object) -> object:
    return {"process": value} if isinstance(value, str) else value


class Level(BaseModel):
    """One load level: fixed concurrency (closed loop), or an arrival rate / ramp (open loop)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    concurrency: int | None = Field(None, ge=1)
    rate: float | None = Field(None, gt=0)
    arrival: Arrival = Arrival()
    burstiness: float = Field(1.0, gt=0)  # gamma shape; 1 = Poisson
    ramp: Ramp | None = None
    trace: bool = False  # replay the workload's trace at its own timestamps (workload kind: trace)
    max_concurrency: int | None = Field(None, ge=1)  # cap on in-flight requests for rate levels
    requests: int | None = Field(None, ge=1)
    duration_s: float | None = Field(None, gt=0)
    warmup_requests: int | None = Field(None, ge=0)
    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None
    # record vLLM's torch profiler over the measured requests (bench/server/profiler.py): the level's own
    # timings then carry the profiler's cost, so profile a level of its own, with few requests
    profile: bool = False

    _coerce = field_validator("input_tokens", "output_tokens", mode="before")(_tokens)
    _coerce_arrival = field_validator("arrival", mode="before")(_arrival)

    @model_validator(mode="after")
    def _one_driver(self) -> Level:
        drivers = [self.concurrency is not None, self.rate is not None, self.ramp is not None, self.trace]
        if sum(drivers) != 1:
            raise ValueError("give exactly one of concurrency, rate, ramp or trace: true")
        return self

    def label(self) -> str:
        if self.name:
            return self.name
        if self.concurrency is not None:
            return f"c{self.concurrency}"
        if self.trace:
            return "trace"
        if self.ramp is not None:
            return f"ramp{self.ramp.start_rate:g}-{self.ramp.end_rate:g}"
        return f"r{self.rate:g}"


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
            if level.trace:
                continue  # bounded by its trace
            if self.request_count(level) is None and self.duration(level) is None:
                raise ValueError(f"level {level.label()}: bound it by requests and/or duration_s")
            cap = level.concurrency or level.max_concurrency
            if cap is not None and cap < self.workers:
                raise ValueError(
                    f"level {level.label()}: concurrency {cap} < workers {self.workers} leaves a "
                    "worker without a slot; lower workers"
                )
        return self

    def request_count(self, level: Level) -> int | None:
        """Jobs a level sends: its own count, else the load's default unless the level sets a duration."""
        if level.trace:
            return None  # the whole trace (its rows the server can honour)
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

    @model_validator(mode="after")
    def _trace_levels_need_a_trace(self) -> Scenario:
        traced = [level.label() for level in self.load.all_levels() if level.trace]
        if traced and self.workload.kind != "trace":
            raise ValueError(f"level {traced[0]}: trace: true needs workload kind: trace")
        if traced and self.load.workers > 1:  # one schedule, one process: the trace's rows are not split
            raise ValueError(f"level {traced[0]}: a trace replays from one client process; set workers: 1")
        return self

    def profiled_levels(self) -> list[str]:
        """The levels vLLM's profiler records: a deployment's server starts with it if there is one."""
        return [level.label() for level in self.load.all_levels() if level.profile]

    @model_validator(mode="after")
    def _profiles_need_a_local_server(self) -> Scenario:
        profiled = self.profiled_levels()
        remote = [d.name for d in self.deployments if d.endpoint or d.ray]
        if profiled and remote:  # vLLM writes its traces on its own host: only one launched here can be read
            raise ValueError(
                f"level {profiled[0]}: profile: true needs a server launched on this machine, and "
                f"{', '.join(remote)} runs elsewhere (endpoint or ray); profile another scenario's levels"
            )
        return self

    @field_validator("deployments")
    @classmethod
    def _unique_names(cls, deployments: list[DeploymentSpec]) -> list[DeploymentSpec]:
        names = [d.name for d in deployments]
        if len(names) != len(set(names)):
            raise ValueError(f"deployment names must be unique, got {names}")
        unknown = [d.name for d in deployments if d.model_unknown]
        if unknown:  # prompts are built with the served model's tokenizer
            raise ValueError(
                f"{', '.join(unknown)}: an endpoint deployment needs the served model's folder for its "
                "tokenizer; fix: set model: /path/to/the/served/model"
            )
        return deployments

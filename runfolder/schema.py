"""The run folder's `run.json`: versioned, so old runs can be re-read and newer ones refused clearly.
Written by bench (after every state change, atomically), read by reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runfolder.atomic import write_atomic
from runfolder.versioned import load_versioned

# 2: the host's CPU (model, ISA, flags, usable cores) in environment; per deployment, the cores of a
#    local CPU server vs the client (cpu_cores) and the readiness route that answered (ready_via).
# 3: cpu_cores.ranks (a multi-rank CPU server's cores per rank); per-rank KV bytes/token and EP experts,
#    predicted vs reported, in capacity.
# 4: per level, vLLM's own latency histograms (server, server_check) and the GPUs' energy (energy).
# 5: per level, a trace replay's rows (trace: path, format, rows, served, skipped by reason).
# 6: per level, what vLLM logged during its measured part that skews it (server_events: a kernel compiled).
# 7: the GPU model runner the plan assumed vs the one vLLM's start-up log names, in capacity.
# 8: per level, the torch profiler traces vLLM wrote over its measured requests (profile), if it was profiled.
# 9: the host's Python speed at the run's start (environment.host_speed).
SCHEMA_VERSION = 9


class CpuCores(BaseModel):
    """A local CPU server's cores vs the client's (disjoint), and each server rank's share."""

    model_config = ConfigDict(extra="forbid")

    server: list[int]
    client: list[int]
    ranks: list[list[int]] = Field(default_factory=list)  # absent before schema 3


# The server flags whose values are each run's own (its model folder, name, address and port), in the order the
# harness writes them after the entry point in a deployment's argv: what differs between two runs' argv otherwise
# is their setup.
RUN_SPECIFIC_FLAGS = ("--model", "--served-model-name", "--host", "--port")

# A deployment's profiler traces: DEPLOYMENT_FOLDER/PROFILE_FOLDER/<level>/ (vLLM writes into PROFILE_FOLDER while a
# level is profiled; bench moves each level's traces into a folder of its own)
PROFILE_FOLDER = "profile"
PROFILER_FLAG = "--profiler-config"  # the server flag that starts vLLM's profiler, naming PROFILE_FOLDER
TRACE_SUFFIX = ".pt.trace.json"  # torch's name for a trace file (beside each, vLLM writes a key-averages table)


class CapacityComparison(BaseModel):
    model_config = ConfigDict(extra="forbid")

    predicted_tokens: int | None = None
    reported_tokens: int | None = None
    predicted_blocks: int | None = None
    reported_blocks: int | None = None
    block_size: int | None = None
    reported_source: Literal["metrics", "log", "none"] = "none"
    difference_tokens: int | None = None  # reported - predicted
    relative_error: float | None = None  # (reported - predicted) / reported
    prediction_error: str | None = None  # why the planner gave no prediction
    # per rank (schema 3): what one rank holds, predicted vs reported (ranks: the plan's gpus)
    predicted_kv_bytes_per_token: int | None = None  # per rank
    reported_kv_bytes_per_token: int | None = None  # KV budget / tokens, where the server reports its budget (CPU)
    predicted_experts: int | None = None  # the fullest rank's experts (sliced without EP, whole with it)
    reported_experts: int | None = None  # from the ranks' "Local/global number of experts" lines (EP only)
    # vLLM's GPU model runner (schema 7): the plan's (planner/model_runner.py) vs the start-up log's; None on CPU
    predicted_model_runner: Literal["v1", "v2"] | None = None
    reported_model_runner: Literal["v1", "v2"] | None = None


class ClientCheck(BaseModel):
    """The load generator's view of itself during a level."""

    model_config = ConfigDict(extra="forbid")

    dispatch_lag_p50_ms: float | None = None  # open loop: actual - scheduled send time
    dispatch_lag_p99_ms: float | None = None
    dispatch_lag_max_ms: float | None = None
    loop_lag_p99_ms: float | None = None
    cpu_fraction: float = 0.0  # client CPU time / level wall time
    client_limited: bool = False
    warnings: list[str] = Field(default_factory=list)


class LevelSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    index: int
    driver: dict[str, Any]  # concurrency, or rate / arrival / burstiness / ramp / max_concurrency; requests, duration_s
    input_tokens: str
    output_tokens: str
    requests_sent: int
    interrupted: bool = False
    metrics: dict[str, float | int | None]
    client: ClientCheck
    prefix_cache_hit_rate: float | None = None
    preemptions: int | None = None
    errors: dict[str, int] = Field(default_factory=dict)
    # vLLM's own latency histograms over the level (server_mean_ttft_ms, server_median_itl_ms, ...; the
    # formulas: bench/observe/server_latency.py), and a warning where its TTFT and the client's disagree
    server: dict[str, float | None] = Field(default_factory=dict)
    server_check: str | None = None
    server_events: list[str] = Field(default_factory=list)  # runfolder/server_log.py serving_events
    # GPU energy over the level from NVML's counter (energy_j, j_per_output_token, j_per_request, mean_power_w;
    # bench/observe/energy.py); empty without NVML (CPU servers)
    energy: dict[str, float | None] = Field(default_factory=dict)
    # a trace level (schema 5): {"path", "format", "speedup", "rows", "served", "skipped": {reason: rows},
    # "start_t": the level's start on telemetry.jsonl's clock (a request's sent_s is from this)}; the
    # trace file itself is copied to RUN/traces/ and requests.jsonl names each request's row (trace_line)
    trace: dict[str, Any] = Field(default_factory=dict)
    # a profiled level (schema 8): the traces vLLM's torch profiler wrote over its measured requests, one per
    # process (each rank's, the API server's), relative to the run folder, under PROFILE_FOLDER/<level>/
    profile: list[str] = Field(default_factory=list)
    profile_error: str | None = None  # why a profiled level has no traces (its measurement stands)

    def self_checks(self) -> list[str]:
        """What qualifies the level's figures: the client's own warnings, the server-vs-client check, a
        profiler's failure."""
        checks = [*self.client.warnings, self.server_check, self.profile_error]
        return [c for c in checks if c]


class DeploymentRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    status: Literal["ok", "failed", "incomplete"]
    error: str | None = None
    hint: str | None = None
    spec: dict[str, Any]
    model_dir: str | None = None
    argv: list[str] | None = None
    env_set: dict[str, str] = Field(default_factory=dict)
    base_url: str | None = None
    ray_node: dict[str, Any] | None = None  # Ray deployments: the node the server ran on (ip, node_id, workdir)
    vllm_version: str | None = None
    ready_after_s: float | None = None
    ready_via: str | None = None  # /health (vLLM), or /v1/models for a server without /health
    cpu_cores: CpuCores | None = None  # when the harness split them
    startup: dict[str, Any] = Field(default_factory=dict)
    cache_config: dict[str, Any] | None = None
    predicted: dict[str, Any] | None = None
    capacity: CapacityComparison | None = None
    log_file: str | None = None
    levels: list[LevelSummary] = Field(default_factory=list)
    requests_file: str | None = None
    telemetry_file: str | None = None


class HostSpeed(BaseModel):
    """How fast this host ran a fixed pure-Python workload (bench/observe/host_speed.py): what a server's steps
    that no CUDA graph covers wait on. Nanoseconds a call; the median apart from the best says the host was busy."""

    model_config = ConfigDict(extra="forbid")

    best_ns: float
    median_ns: float
    repeats: int

    def describe(self) -> str:
        """As reports and comparisons print it; reports/served_setup.py reads the median back from the front."""
        return f"{self.median_ns:.0f} ns a call (best {self.best_ns:.0f})"


class EnvironmentInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    harness_version: str
    git_sha: str | None = None
    python: str
    platform: str
    cpu_count: int
    cpu_model: str | None = None
    cpu_isa: str | None = None  # AMX, AVX-512, AVX2: what vLLM's CPU kernels can use on this host
    cpu_flags: list[str] = Field(default_factory=list)  # /proc/cpuinfo flags
    cpus_allowed: list[int] = Field(default_factory=list)  # this process's affinity mask at start
    vllm_distribution: str | None = None
    gpus: list[dict[str, Any]] = Field(default_factory=list)
    host_speed: HostSpeed | None = None  # schema 9


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    kind: Literal["probe", "run"]
    run_id: str
    created_at: str
    finished_at: str | None = None
    complete: bool = False
    scenario: dict[str, Any] | None = None
    environment: EnvironmentInfo
    deployments: list[DeploymentRecord] = Field(default_factory=list)


def load_run(folder: Path) -> RunRecord:
    return load_versioned(
        Path(folder) / "run.json",
        RunRecord,
        SCHEMA_VERSION,
        f"{folder}: no run.json; fix: point at a folder written by bench",
    )


def save_run(folder: Path, record: RunRecord) -> None:
    write_atomic(folder / "run.json", json.dumps(record.model_dump(mode="json"), indent=2) + "\n")

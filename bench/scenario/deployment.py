"""A deployment as a scenario names it: which model, which layout, which vLLM settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from planner import Layout, PlanError, ServerSettings, parse_server_flags
from planner.model_runner import runner_from_env


class SynthModel(BaseModel):
    """A config-only model written at run time (see `bench model synth`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    like: str = "minimax-m2"
    full: bool = False
    sizes: dict[str, int] = Field(default_factory=dict)  # layers, hidden, heads, kv_heads, head_dim, experts, ...
    config: dict[str, Any] = Field(default_factory=dict)  # raw config.json overrides


class RayTarget(BaseModel):
    """An existing Ray cluster to deploy on (the harness neither starts nor stops the cluster)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str = Field(min_length=1)  # as for `ray start --address`: HOST:PORT of the head's GCS
    executor: Literal["ray", "mp"] | None = None  # vLLM's --distributed-executor-backend; default ray on GPU
    resources: dict[str, float] = Field(default_factory=dict)  # Ray resources the server's node must have


class DeploymentSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("default", pattern=r"^[A-Za-z0-9._-]+$")
    model: str | SynthModel = Field(default_factory=SynthModel)
    served_model_name: str | None = None
    device: Literal["cpu", "gpu"] = "cpu"
    gpu: str | None = None  # GPU type for the planner's prediction (h100, h200, ...)
    tp: int = Field(1, ge=1)
    pp: int = Field(1, ge=1)
    dp: int = Field(1, ge=1)
    ep: bool = False
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1)
    max_model_len: int | None = Field(None, ge=1)
    kv_cache_dtype: str = "auto"
    block_size: int | None = Field(None, ge=1)
    cpu_kvcache_space_gib: int = Field(1, ge=1)  # VLLM_CPU_KVCACHE_SPACE (whole GiB)
    kv_cache_memory_bytes: int | None = Field(None, ge=1)
    load_format: str | None = None  # default: dummy for synthetic models
    trust_remote_code: bool = False
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=1, le=65535)  # None: a free port
    startup_timeout_s: float = Field(600, gt=0)
    python: str | None = None  # interpreter with vLLM installed; default: this one
    endpoint: str | None = None  # external mode: use a running server, launch nothing
    ray: RayTarget | None = None  # launch on a node of this Ray cluster instead of here
    calibration: str | None = None  # a calibration file (bench calibrate); default: the shipped one for the vLLM
    overhead_gib: float | None = Field(None, ge=0)  # an explicit overhead per GPU instead of the computed terms

    @field_validator("extra_args")
    @classmethod
    def _extra_args_are_understood(cls, args: list[str]) -> list[str]:
        """Flags the deployment owns are refused in extra_args (they would contradict the prediction)."""
        try:
            parse_server_flags(args)
        except PlanError as exc:
            raise ValueError(f"{exc.problem}; fix: {exc.fix}") from None
        return args

    def server_settings(self, vllm_version: str | None = None) -> ServerSettings:
        """The vLLM settings the planner reads: those in extra_args (planner/server_flags.py), the load format,
        the model runner its env asks for."""
        update = {"vllm_version": vllm_version, "load_format": self.served_load_format(),
                  "model_runner": runner_from_env(self.env)}  # fmt: skip
        return parse_server_flags(self.extra_args).model_copy(update=update)

    def served_load_format(self) -> str | None:
        """vLLM's --load-format: as given, else dummy for a synthetic (config-only) model."""
        if self.load_format:
            return self.load_format
        return "dummy" if isinstance(self.model, SynthModel) else None

    @model_validator(mode="after")
    def _cpu_has_no_gpu_knobs(self) -> DeploymentSpec:
        if self.device == "cpu" and self.gpu_memory_utilization is not None:
            raise ValueError(
                "gpu_memory_utilization applies to device: gpu; the CPU backend uses cpu_kvcache_space_gib"
            )
        if self.ray and self.endpoint:
            raise ValueError("ray launches a server and endpoint uses a running one: give only one of them")
        if self.ray and self.device == "cpu" and self.ray.executor == "ray":
            raise ValueError(
                "vLLM's CPU platform refuses the Ray executor ('current platform cpu does not support "
                "ray': it has no Ray device key); use ray.executor: mp"
            )
        return self

    @property
    def ray_executor(self) -> str | None:
        """vLLM's executor for a Ray deployment: Ray across GPUs; mp on CPU, which can't use Ray workers."""
        if self.ray is None:
            return None
        return self.ray.executor or ("ray" if self.device == "gpu" else "mp")

    @property
    def served_name(self) -> str:
        return self.served_model_name or self.name

    @property
    def layout(self) -> Layout:
        """The planner's view of the deployment's parallel layout."""
        return Layout(tp=self.tp, pp=self.pp, dp=self.dp, ep=self.ep)

    @property
    def model_unknown(self) -> bool:
        """A running server (endpoint) whose model folder was not given: there is no tokenizer to build
        prompts with and no config to predict from. `bench run` refuses it; `bench probe` reads the
        server's report without a prediction."""
        return self.endpoint is not None and isinstance(self.model, SynthModel)

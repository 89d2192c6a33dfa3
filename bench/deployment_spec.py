"""A deployment as a scenario names it: which model, which layout, which vLLM settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SynthModel(BaseModel):
    """A config-only model written at run time (see `bench model synth`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    like: str = "minimax-m2"
    full: bool = False
    sizes: dict[str, int] = Field(default_factory=dict)  # layers, hidden, heads, kv_heads, head_dim, experts, ...
    config: dict[str, Any] = Field(default_factory=dict)  # raw config.json overrides


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
    overhead_profile: str | None = None
    overhead_gib: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _cpu_has_no_gpu_knobs(self) -> DeploymentSpec:
        if self.device == "cpu" and self.gpu_memory_utilization is not None:
            raise ValueError("gpu_memory_utilization applies to device: gpu; the CPU backend uses cpu_kvcache_space_gib")
        return self

    @property
    def served_name(self) -> str:
        return self.served_model_name or self.name

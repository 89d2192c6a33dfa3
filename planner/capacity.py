"""vLLM's KV budget rule, forward: layout in, KV capacity and concurrency out.

Per GPU:  budget = total x gpu_memory_utilization - weights - overhead
          (or exactly kv_cache_memory_bytes when given: --kv-cache-memory-bytes skips profiling;
           the CPU backend budgets VLLM_CPU_KVCACHE_SPACE GiB that way)
          blocks = floor(budget / (block_size x KV bytes per token on that GPU))
Engine:   blocks = min over its ranks (vLLM takes the minimum over workers);
          tokens = blocks x block_size;  max_concurrency = blocks / ceil(max_model_len / block_size).
"""

from __future__ import annotations

from math import ceil

from pydantic import BaseModel, ConfigDict, Field

from planner.errors import InputError, LayoutRejected
from planner.gpus import GpuSpec
from planner.kv_cache import block_bytes_per_gpu, kv_bytes_per_token, kv_bytes_per_token_per_gpu, kv_dtype_bytes
from planner.layout import Layout, check_layout
from planner.model_spec import ModelSpec
from planner.overhead import OverheadProfile, resolve_overhead
from planner.placement import Placement, check_tp_within_node, place
from planner.units import GIB
from planner.weights import weights_per_rank, weights_total

VLLM_DEFAULT_UTILIZATION = 0.92  # vllm/config/cache.py in vLLM 0.32.0; releases before it used 0.9
GPU_BLOCK_SIZE = 16  # vLLM's default KV block on GPU attention backends
CPU_BLOCK_SIZE = 128  # vLLM's CPU platform default (vllm/platforms/cpu.py)


def default_block_size(on_cpu: bool) -> int:
    return CPU_BLOCK_SIZE if on_cpu else GPU_BLOCK_SIZE


class PlanSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kv_cache_dtype: str = "auto"
    gpu_memory_utilization: float = VLLM_DEFAULT_UTILIZATION
    max_model_len: int | None = None  # None: the model's max_position_embeddings, as vLLM does
    block_size: int = GPU_BLOCK_SIZE
    kv_cache_memory_bytes: int | None = None
    overhead: OverheadProfile = Field(default_factory=resolve_overhead)
    gpus_per_node: int = 8


class StageBudget(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: int
    layers: int
    weights_bytes: int
    kv_bytes_per_token: int
    kv_budget_bytes: int
    num_blocks: int


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    gpu: str
    gpu_memory_gib: float
    gpus: int
    nodes: int
    tp: int
    ep: bool
    ep_size: int
    dp: int
    pp: int
    kv_cache_dtype: str
    kv_dtype_bytes: int
    block_size: int
    gpu_memory_utilization: float
    max_model_len: int
    weights_bytes_total: int
    weights_bytes_per_gpu: int
    kv_bytes_per_token: int
    kv_bytes_per_token_per_gpu: int
    requested_bytes_per_gpu: int
    overhead_bytes_per_gpu: int
    overhead_profile: str
    kv_budget_bytes_per_gpu: int
    num_blocks: int
    kv_capacity_tokens: int
    total_kv_capacity_tokens: int
    max_concurrency: float
    vllm_flags: str
    stages: list[StageBudget]
    placement: Placement
    assumptions: list[str]


def plan_capacity(model: ModelSpec, gpu: GpuSpec, layout: Layout, settings: PlanSettings | None = None) -> Plan:
    """Forward plan; raises LayoutRejected where vLLM would refuse to start."""
    settings = settings or PlanSettings()
    _check_settings(settings)
    check_layout(model, layout)
    check_tp_within_node(layout, settings.gpus_per_node)
    max_len = settings.max_model_len or model.max_position_embeddings
    if max_len > model.max_position_embeddings:
        raise LayoutRejected(
            "--max-model-len",
            f"{max_len} exceeds the model's max_position_embeddings {model.max_position_embeddings}",
            f"use --max-model-len <= {model.max_position_embeddings}",
        )
    if gpu.name == "cpu" and settings.kv_cache_memory_bytes is None:
        raise InputError(
            "--cpu-kvcache-space",
            "the CPU backend's KV budget is VLLM_CPU_KVCACHE_SPACE, not given",
            "pass --cpu-kvcache-space GIB (the harness always sets it)",
        )
    requested = int(gpu.memory_bytes * settings.gpu_memory_utilization)
    stages = [_stage_budget(model, layout, settings, requested, stage=s) for s in range(layout.pp)]
    binding = min(stages, key=lambda s: s.num_blocks)
    if binding.kv_budget_bytes <= 0:
        need = (binding.weights_bytes + settings.overhead.total_bytes) / GIB
        raise LayoutRejected(
            "--gpus",
            f"weights {binding.weights_bytes / GIB:.2f} GiB + overhead "
            f"{settings.overhead.total_gib:.2f} GiB per GPU = {need:.2f} GiB exceed "
            f"{settings.gpu_memory_utilization} x {gpu.memory_gib} GiB",
            "use more GPUs (bench plan MODEL --gpu GPU --target-context N lists layouts)",
        )
    tokens = binding.num_blocks * settings.block_size
    if tokens < max_len:
        raise LayoutRejected(
            "--max-model-len",
            f"KV capacity {tokens:,} tokens cannot hold one request of max_model_len {max_len:,}",
            f"use --max-model-len <= {tokens:,}, or more GPUs",
        )
    return _plan(model, gpu, layout, settings, max_len=max_len, requested=requested, stages=stages, binding=binding)


def _plan(
    model: ModelSpec,
    gpu: GpuSpec,
    layout: Layout,
    settings: PlanSettings,
    *,
    max_len: int,
    requested: int,
    stages: list[StageBudget],
    binding: StageBudget,
) -> Plan:
    tokens = binding.num_blocks * settings.block_size
    return Plan(
        model=model.name,
        gpu=gpu.name,
        gpu_memory_gib=gpu.memory_gib,
        gpus=layout.gpus,
        nodes=ceil(layout.gpus / settings.gpus_per_node),
        tp=layout.tp,
        ep=layout.ep,
        ep_size=layout.ep_size,
        dp=layout.dp,
        pp=layout.pp,
        kv_cache_dtype=settings.kv_cache_dtype,
        kv_dtype_bytes=kv_dtype_bytes(model, settings.kv_cache_dtype),
        block_size=settings.block_size,
        gpu_memory_utilization=settings.gpu_memory_utilization,
        max_model_len=max_len,
        weights_bytes_total=weights_total(model),
        weights_bytes_per_gpu=max(s.weights_bytes for s in stages),
        kv_bytes_per_token=kv_bytes_per_token(model, settings.kv_cache_dtype),
        kv_bytes_per_token_per_gpu=max(s.kv_bytes_per_token for s in stages),
        requested_bytes_per_gpu=requested,
        overhead_bytes_per_gpu=0 if settings.kv_cache_memory_bytes is not None else settings.overhead.total_bytes,
        overhead_profile=settings.overhead.name,
        kv_budget_bytes_per_gpu=binding.kv_budget_bytes,
        num_blocks=binding.num_blocks,
        kv_capacity_tokens=tokens,
        total_kv_capacity_tokens=tokens * layout.dp,
        max_concurrency=binding.num_blocks / ceil(max_len / settings.block_size),
        vllm_flags=_vllm_flags(layout, settings, max_len, gpu.name == "cpu"),
        stages=stages,
        placement=place(layout, settings.gpus_per_node),
        assumptions=_assumptions(model, gpu, layout, settings),
    )


def _check_settings(settings: PlanSettings) -> None:
    if not 0 < settings.gpu_memory_utilization <= 1:
        raise InputError(
            "--gpu-memory-utilization",
            f"{settings.gpu_memory_utilization} is outside (0, 1]",
            "give a fraction such as 0.9",
        )
    if settings.block_size < 1:
        raise InputError(
            "--block-size", f"{settings.block_size} is not positive", f"use {GPU_BLOCK_SIZE} (vLLM's GPU default)"
        )
    if settings.gpus_per_node < 1:
        raise InputError("--gpus-per-node", f"{settings.gpus_per_node} is not positive", "give GPUs per node, e.g. 8")
    if settings.max_model_len is not None and settings.max_model_len < 1:
        raise InputError("--max-model-len", f"{settings.max_model_len} is not positive", "give a token count")


def _stage_budget(
    model: ModelSpec, layout: Layout, settings: PlanSettings, requested: int, *, stage: int
) -> StageBudget:
    weights = weights_per_rank(model, layout, stage)
    budget = settings.kv_cache_memory_bytes
    if budget is None:
        budget = requested - weights.total - settings.overhead.total_bytes
    block = block_bytes_per_gpu(
        model, layout.tp, weights.layers, settings.block_size, kv_cache_dtype=settings.kv_cache_dtype
    )
    return StageBudget(
        stage=stage,
        layers=weights.layers,
        weights_bytes=weights.total,
        kv_bytes_per_token=kv_bytes_per_token_per_gpu(model, layout.tp, weights.layers, settings.kv_cache_dtype),
        kv_budget_bytes=budget,
        num_blocks=max(0, budget // block),
    )


def _vllm_flags(layout: Layout, settings: PlanSettings, max_len: int, on_cpu: bool) -> str:
    flags = [layout.flags()] + ([] if on_cpu else [f"--gpu-memory-utilization {settings.gpu_memory_utilization}"])
    flags.append(f"--max-model-len {max_len}")
    if settings.kv_cache_dtype != "auto":
        flags.append(f"--kv-cache-dtype {settings.kv_cache_dtype}")
    if settings.kv_cache_memory_bytes is not None and not on_cpu:
        flags.append(f"--kv-cache-memory-bytes {settings.kv_cache_memory_bytes}")
    if settings.block_size != default_block_size(on_cpu):
        flags.append(f"--block-size {settings.block_size}")
    return " ".join(flags)


def _assumptions(model: ModelSpec, gpu: GpuSpec, layout: Layout, settings: PlanSettings) -> list[str]:
    if settings.kv_cache_memory_bytes is not None:
        return [
            f"KV budget fixed at {settings.kv_cache_memory_bytes / GIB:.2f} GiB per rank "
            f"({'VLLM_CPU_KVCACHE_SPACE' if gpu.name == 'cpu' else '--kv-cache-memory-bytes'}): "
            "weights and overhead are not subtracted",
            f"model: {model.source}",
            *model.notes,
        ]
    o = settings.overhead
    notes = [
        f"GPU memory {gpu.memory_gib} GiB per {gpu.name}: {gpu.memory_source}",
        f"overhead {o.total_gib:.2f} GiB/GPU = activation {o.activation_peak_gib:.2f} + non-torch "
        f"{o.non_torch_gib:.2f} + CUDA graphs {o.cudagraph_gib:.2f} (profile '{o.name}'): {o.source}",
        f"model: {model.source}",
    ]
    if settings.gpu_memory_utilization == VLLM_DEFAULT_UTILIZATION:
        notes.append("gpu_memory_utilization 0.92 is vLLM 0.32.0's default; earlier releases used 0.9")
    if settings.kv_cache_dtype == "auto":
        notes.append(f"KV cache dtype auto = the model's activation dtype ({model.param_bytes} bytes)")
    if layout.tp > model.num_kv_heads:
        notes.append(f"tp={layout.tp} > {model.num_kv_heads} KV heads: each GPU stores a replica of one KV head")
    if layout.ep:
        notes.append(
            f"expert parallel: {model.moe.num_experts if model.moe else 0} experts split whole over "
            f"{layout.ep_size} ranks; attention stays TP{layout.tp}"
        )
    if layout.dp > 1:
        notes.append(f"dp={layout.dp}: each DP engine has its own KV cache; one request fits in one engine")
    if layout.dp > 1 and not layout.ep and model.moe:
        notes.append(
            f"MoE layers without EP: every expert split over tp x dp = {layout.moe_tp} ranks, as vLLM "
            "flattens TP across DP there"
        )
    if layout.gpus > settings.gpus_per_node:
        notes.append(
            f"{layout.gpus} GPUs span {ceil(layout.gpus / settings.gpus_per_node)} nodes of {settings.gpus_per_node}"
        )
    return notes + list(model.notes)

"""What a plan assumed, in words, and the vLLM flags it stands for."""

from __future__ import annotations

from math import ceil
from typing import TYPE_CHECKING

from planner.budget import StageBudget
from planner.gpus import GpuSpec
from planner.kv_cache import default_block, hybrid_block_size
from planner.layout import Layout
from planner.model_runner import runner_note
from planner.model_spec import ModelSpec
from planner.server_settings import ResolvedSettings
from planner.step_cost import FIXED_ROUTING_NOTE, moe_routing
from planner.units import GIB

if TYPE_CHECKING:  # capacity imports this module: the settings' type only
    from planner.capacity import PlanSettings


def vllm_flags(model: ModelSpec, layout: Layout, settings: PlanSettings, *, max_len: int, on_cpu: bool) -> str:
    flags = [layout.flags()]
    if settings.gpu_memory_utilization is not None and not on_cpu:
        flags.append(f"--gpu-memory-utilization {settings.gpu_memory_utilization}")
    flags.append(f"--max-model-len {max_len}")
    if settings.kv_cache_dtype != "auto":
        flags.append(f"--kv-cache-dtype {settings.kv_cache_dtype}")
    if settings.kv_cache_memory_bytes is not None and not on_cpu:
        flags.append(f"--kv-cache-memory-bytes {settings.kv_cache_memory_bytes}")
    default = hybrid_block_size(model, layout.tp, default_block(model, on_cpu=on_cpu),
                                kv_cache_dtype=settings.kv_cache_dtype, ssm_bytes=settings.ssm_state_bytes)  # fmt: skip
    if settings.block_size != default:
        flags.append(f"--block-size {settings.block_size}")
    server = settings.server
    for flag, value in (
        ("--max-num-batched-tokens", server.max_num_batched_tokens),
        ("--max-num-seqs", server.max_num_seqs),
    ):
        if value is not None:
            flags.append(f"{flag} {value}")
    if server.enforce_eager:
        flags.append("--enforce-eager")
    elif server.cudagraph_mode:
        flags.append(f'--compilation-config \'{{"cudagraph_mode": "{server.cudagraph_mode}"}}\'')
    return " ".join(flags)


def plan_assumptions(  # noqa: PLR0917 - the plan's own inputs
    model: ModelSpec,
    gpu: GpuSpec,
    layout: Layout,
    settings: PlanSettings,
    *,
    server: ResolvedSettings,
    fullest: StageBudget,
    source: str,
) -> list[str]:
    if settings.kv_cache_memory_bytes is not None:
        where = "VLLM_CPU_KVCACHE_SPACE" if gpu.name == "cpu" else "--kv-cache-memory-bytes"
        return [
            f"KV budget fixed at {settings.kv_cache_memory_bytes / GIB:.2f} GiB per rank ({where}): weights and "
            "overhead are not subtracted",
            f"model: {model.source}",
            *model.notes,
        ]
    notes = [
        f"GPU memory {gpu.memory_gib} GiB per {gpu.name}: {gpu.memory_source}",
        _overhead_note(fullest, server, source),
        runner_note(server.model_runner, server.vllm_version, asked=settings.server.model_runner is not None),
        f"model: {model.source}",
    ]
    if server.defaulted:
        notes.append(f"vLLM {server.vllm_version or '(version not given)'} defaults: {', '.join(server.defaulted)}")
    notes += [f"not modelled, memory effect ignored: {flag}" for flag in settings.server.unmodelled]
    if settings.kv_cache_dtype == "auto":
        notes.append(f"KV cache dtype auto = the model's activation dtype ({model.param_bytes} bytes)")
    if moe_routing(model, dummy_weights=server.dummy_weights) == "fixed":
        notes.append(f"{FIXED_ROUTING_NOTE} (memory alike)")
    return notes + _layout_notes(model, layout, settings.gpus_per_node) + list(model.notes)


def _overhead_note(fullest: StageBudget, server: ResolvedSettings, source: str) -> str:
    graphs = f"{server.cudagraph_mode}, {len(server.capture_sizes)} sizes" if server.capture_sizes else "none"
    return (
        f"overhead {fullest.overhead_bytes / GIB:.2f} GiB/GPU = activation {fullest.activation_bytes / GIB:.2f} "
        f"(max_num_batched_tokens {server.max_num_batched_tokens}, max_num_seqs {server.max_num_seqs}) + "
        f"non-torch {fullest.non_torch_bytes / GIB:.2f} + CUDA graphs {fullest.cudagraph_bytes / GIB:.2f} "
        f"({graphs}); {source or 'explicit'}"
    )


def _layout_notes(model: ModelSpec, layout: Layout, gpus_per_node: int) -> list[str]:
    notes = []
    if layout.tp > model.num_kv_heads and model.attention.mla is None:
        notes.append(f"tp={layout.tp} > {model.num_kv_heads} KV heads: each GPU stores a replica of one KV head")
    if layout.tp > 1 or layout.dp > 1:
        notes.append("non-torch memory was measured at TP1; NCCL buffers of larger groups are not modelled")
    if layout.ep:
        experts = model.moe.num_experts if model.moe else 0
        notes.append(
            f"expert parallel: {experts} experts split whole over {layout.ep_size} ranks; attention stays TP{layout.tp}"
        )
    if layout.dp > 1:
        notes.append(f"dp={layout.dp}: each DP engine has its own KV cache; one request fits in one engine")
    if layout.dp > 1 and not layout.ep and model.moe:
        notes.append(
            f"MoE layers without EP: every expert split over tp x dp = {layout.moe_tp} ranks, as vLLM "
            "flattens TP across DP there"
        )
    if layout.gpus > gpus_per_node:
        notes.append(f"{layout.gpus} GPUs span {ceil(layout.gpus / gpus_per_node)} nodes of {gpus_per_node}")
    return notes

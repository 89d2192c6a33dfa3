"""vLLM's KV budget rule, forward: layout and server settings in, KV capacity and concurrency out.

Per GPU and pipeline stage: planner/budget.py (weights, activation, non-torch, CUDA graphs, KV).
Engine:   blocks = min over its ranks (vLLM takes the minimum over workers);
          max_concurrency = blocks / blocks one request of max_model_len takes (ceil(max_model_len /
          block_size) for full attention; planner/kv_groups.py with sliding layers);
          tokens = int(max_concurrency x max_model_len), the "KV cache size" vLLM reports.
A max_model_len the blocks cannot hold is refused as vLLM refuses it; vLLM's "estimated maximum
model length" is then the capacity in tokens, which the refusal names.
"""

from __future__ import annotations

from math import ceil
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from planner.assumptions import plan_assumptions, vllm_flags
from planner.budget import BudgetInputs, StageBudget, stage_budget
from planner.calibration import Calibration, shipped_calibration
from planner.errors import InputError, LayoutRejected
from planner.gpus import GpuSpec
from planner.kv_cache import hybrid_block_size, kv_bytes_per_token, kv_dtype_bytes
from planner.kv_groups import RequestRule, blocks_per_request, longest_request, model_kv_groups
from planner.layout import Layout, check_layout
from planner.model_spec import ModelSpec
from planner.placement import Placement, check_tp_within_node, place
from planner.recurrent_state import state_blocks
from planner.server_settings import GPU_BLOCK_SIZE, ResolvedSettings, ServerSettings, in_flight_tokens, resolve
from planner.step_cost import moe_routing
from planner.units import GIB
from planner.weights import weights_total


class PlanSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kv_cache_dtype: str = "auto"
    gpu_memory_utilization: float | None = None  # None: the release's default (planner/server_settings.py)
    max_model_len: int | None = None  # None: the model's max_position_embeddings, as vLLM does
    block_size: int = GPU_BLOCK_SIZE
    kv_cache_memory_bytes: int | None = None
    server: ServerSettings = Field(default_factory=ServerSettings)
    calibration: Calibration | None = None  # None: the shipped one for server.vllm_version
    overhead_gib: float | None = Field(None, ge=0)  # an explicit total instead of the computed terms
    ssm_state_bytes: int | None = None  # linear attention's recurrent state dtype; None: the model's (bench sets 4
    # where vLLM forces float32: CPU hosts with AVX-512 BF16)
    gpus_per_node: int = 8


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
    server: ResolvedSettings
    weights_bytes_total: int
    weights_bytes_per_gpu: int
    kv_bytes_per_token: int
    kv_bytes_per_token_per_gpu: int
    experts_per_gpu: int | None = None  # MoE: the most experts one rank holds (whole with EP, sliced without)
    moe_routing: Literal["fixed", "spread"] | None = None  # MoE: how the served router sends tokens (step_cost)
    requested_bytes_per_gpu: int
    activation_bytes_per_gpu: int
    non_torch_bytes_per_gpu: int
    cudagraph_bytes_per_gpu: int
    overhead_bytes_per_gpu: int
    overhead_source: str
    kv_budget_bytes_per_gpu: int
    num_blocks: int
    kv_capacity_tokens: int
    total_kv_capacity_tokens: int
    kv_blocks_per_request: int  # one request of max_model_len, over every KV-cache group
    max_request_tokens: int = 0  # the longest request the blocks hold (<= max_position_embeddings)
    max_concurrency: float
    vllm_flags: str
    stages: list[StageBudget]
    placement: Placement
    assumptions: list[str]


def plan_capacity(model: ModelSpec, gpu: GpuSpec, layout: Layout, settings: PlanSettings | None = None) -> Plan:
    """Forward plan; raises LayoutRejected where vLLM would refuse to start."""
    settings = settings or PlanSettings()
    _check_settings(model, gpu, layout, settings)
    block = hybrid_block_size(model, layout.tp, settings.block_size, kv_cache_dtype=settings.kv_cache_dtype,
                              ssm_bytes=settings.ssm_state_bytes)  # fmt: skip
    settings = settings.model_copy(update={"block_size": block})
    max_len = settings.max_model_len or model.max_position_embeddings
    server = resolved_server(model, gpu, layout, settings)
    inputs = _budget_inputs(gpu, settings, server)
    stages = [stage_budget(model, layout, inputs, s) for s in range(layout.pp)]
    binding = min(stages, key=lambda s: s.num_blocks)
    if binding.kv_budget_bytes <= 0:
        need = (binding.weights_bytes + binding.overhead_bytes) / GIB
        raise LayoutRejected(
            "--gpus",
            f"weights {binding.weights_bytes / GIB:.2f} GiB + overhead {binding.overhead_bytes / GIB:.2f} GiB per GPU "
            f"= {need:.2f} GiB exceed {server.gpu_memory_utilization} x {gpu.memory_gib} GiB",
            "use more GPUs (bench plan MODEL --gpu GPU --target-context N lists layouts)",
        )
    need, longest = _request_blocks(model, layout, settings, server=server, blocks=binding.num_blocks, max_len=max_len)
    plan = _plan(
        model, gpu, layout, settings, inputs=inputs, max_len=max_len, stages=stages, binding=binding, need=need
    )
    routing = moe_routing(model, dummy_weights=server.dummy_weights)
    return plan.model_copy(update={"max_request_tokens": longest, "moe_routing": routing})


def resolved_server(model: ModelSpec, gpu: GpuSpec, layout: Layout, settings: PlanSettings) -> ResolvedSettings:
    """The server's settings with the release's defaults filled in for this model on this GPU and layout."""
    return resolve(settings.server, settings.gpu_memory_utilization, gpu_memory_gib=gpu.memory_gib, gpu_name=gpu.name,
                   tp=layout.tp, pp=layout.pp, hybrid=model.attention.state_layers > 0, moe=model.moe is not None,
                   architecture=model.architecture)  # fmt: skip


def _request_blocks(
    model: ModelSpec, layout: Layout, settings: PlanSettings, *, server: ResolvedSettings, blocks: int, max_len: int
) -> tuple[int, int]:
    """(blocks one request of max_model_len takes, the longest request the blocks hold); refuses a
    max_model_len they cannot hold once, naming vLLM's estimate of the longest that fits."""
    groups, block = model_kv_groups(model), settings.block_size
    state = model.attention.state
    held = state_blocks(state, prefix_caching=server.prefix_caching, align=server.mamba_align) if state else 1
    rule = RequestRule(block_size=block, in_flight=in_flight_tokens(server, layout.pp), state_blocks=held or 0,
                       state_per_block=held is None)  # fmt: skip
    need = blocks_per_request(groups, max_len, rule)
    if blocks < need:
        longest = longest_request(groups, blocks, rule, limit=max_len)
        raise LayoutRejected(
            "--max-model-len",
            f"KV capacity {blocks:,} blocks of {block} cannot hold one request of max_model_len {max_len:,} "
            f"({need:,} blocks; vLLM refuses it; its estimated maximum model length is {longest})",
            f"use --max-model-len <= {longest:,}, or more GPUs",
        )
    return need, longest_request(groups, blocks, rule, limit=model.max_position_embeddings)


def calibration_for(settings: PlanSettings) -> tuple[Calibration, str]:
    """The calibration a plan uses: the one given, else the shipped one for the server's release; and a note."""
    if settings.calibration is not None:
        return (
            settings.calibration,
            f"calibration {settings.calibration.name} (vLLM {settings.calibration.vllm_version})",
        )
    return shipped_calibration(settings.server.vllm_version)


def _budget_inputs(gpu: GpuSpec, settings: PlanSettings, server: ResolvedSettings) -> BudgetInputs:
    calibration, note = None, ""
    if settings.overhead_gib is None and settings.kv_cache_memory_bytes is None:
        calibration, note = calibration_for(settings)
    return BudgetInputs(
        server=server,
        coefficients=calibration.coefficients if calibration else None,
        overhead_gib=settings.overhead_gib,
        overhead_source=note,
        requested_bytes=int(gpu.memory_bytes * server.gpu_memory_utilization),
        kv_cache_memory_bytes=settings.kv_cache_memory_bytes,
        kv_cache_dtype=settings.kv_cache_dtype,
        block_size=settings.block_size,
    )


def _plan(  # noqa: PLR0917 - model, GPU, layout and settings are the plan's own inputs
    model: ModelSpec,
    gpu: GpuSpec,
    layout: Layout,
    settings: PlanSettings,
    *,
    inputs: BudgetInputs,
    max_len: int,
    stages: list[StageBudget],
    binding: StageBudget,
    need: int,
) -> Plan:
    tokens = int(binding.num_blocks / need * max_len)  # vLLM's "KV cache size": max concurrency x max_model_len
    fullest = max(stages, key=lambda s: s.weights_bytes + s.overhead_bytes)
    return Plan(
        model=model.name,
        gpu=gpu.name,
        gpu_memory_gib=gpu.memory_gib,
        nodes=ceil(layout.gpus / settings.gpus_per_node),
        **layout.model_dump(),  # tp, pp, dp, ep
        gpus=layout.gpus,
        ep_size=layout.ep_size,
        kv_cache_dtype=settings.kv_cache_dtype,
        kv_dtype_bytes=kv_dtype_bytes(model, settings.kv_cache_dtype),
        block_size=settings.block_size,
        gpu_memory_utilization=inputs.server.gpu_memory_utilization,
        max_model_len=max_len,
        server=inputs.server,
        weights_bytes_total=weights_total(model),
        weights_bytes_per_gpu=max(s.weights_bytes for s in stages),
        kv_bytes_per_token=kv_bytes_per_token(model, settings.kv_cache_dtype),
        kv_bytes_per_token_per_gpu=max(s.kv_bytes_per_token for s in stages),
        experts_per_gpu=layout.local_experts(model.moe.num_experts) if model.moe else None,
        requested_bytes_per_gpu=inputs.requested_bytes,
        activation_bytes_per_gpu=fullest.activation_bytes,
        non_torch_bytes_per_gpu=fullest.non_torch_bytes,
        cudagraph_bytes_per_gpu=fullest.cudagraph_bytes,
        overhead_bytes_per_gpu=fullest.overhead_bytes,
        overhead_source=inputs.overhead_source if inputs.coefficients else "",
        kv_budget_bytes_per_gpu=binding.kv_budget_bytes,
        num_blocks=binding.num_blocks,
        kv_capacity_tokens=tokens,
        total_kv_capacity_tokens=tokens * layout.dp,
        kv_blocks_per_request=need,
        max_concurrency=binding.num_blocks / need,
        vllm_flags=vllm_flags(model, layout, settings, max_len=max_len, on_cpu=gpu.name == "cpu"),
        stages=stages,
        placement=place(layout, settings.gpus_per_node),
        assumptions=plan_assumptions(
            model, gpu, layout, settings, server=inputs.server, fullest=fullest, source=inputs.overhead_source
        ),
    )


def _check_settings(model: ModelSpec, gpu: GpuSpec, layout: Layout, settings: PlanSettings) -> None:
    utilization = settings.gpu_memory_utilization
    if utilization is not None and not 0 < utilization <= 1:
        raise InputError("--gpu-memory-utilization", f"{utilization} is outside (0, 1]", "give a fraction such as 0.9")
    if settings.block_size < 1:
        raise InputError("--block-size", f"{settings.block_size} is not positive", f"use {GPU_BLOCK_SIZE}")
    if settings.gpus_per_node < 1:
        raise InputError("--gpus-per-node", f"{settings.gpus_per_node} is not positive", "give GPUs per node, e.g. 8")
    if settings.max_model_len is not None and settings.max_model_len < 1:
        raise InputError("--max-model-len", f"{settings.max_model_len} is not positive", "give a token count")
    if settings.max_model_len and settings.max_model_len > model.max_position_embeddings:
        raise LayoutRejected(
            "--max-model-len",
            f"{settings.max_model_len} exceeds the model's max_position_embeddings {model.max_position_embeddings}",
            f"use --max-model-len <= {model.max_position_embeddings}",
        )
    if gpu.name == "cpu" and settings.kv_cache_memory_bytes is None:
        raise InputError(
            "--cpu-kvcache-space",
            "the CPU backend's KV budget is VLLM_CPU_KVCACHE_SPACE, not given",
            "pass --cpu-kvcache-space GIB (the harness always sets it)",
        )
    check_layout(model, layout)
    check_tp_within_node(layout, settings.gpus_per_node)

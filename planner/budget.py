"""One pipeline stage's memory on one GPU, as vLLM's worker budgets it (V1 gpu_worker):

budget = total x gpu_memory_utilization - weights - activation - non-torch - CUDA-graph estimate
(or exactly kv_cache_memory_bytes when given: --kv-cache-memory-bytes skips profiling; the CPU
 backend budgets VLLM_CPU_KVCACHE_SPACE GiB that way)
blocks = floor(budget / (block_size x KV bytes per token of the stage's widest KV-cache group))
(every layer of the stage for one attention kind; planner/kv_groups.py when full and sliding mix)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner.kv_cache import block_bytes_per_gpu, kv_bytes_per_token_per_gpu
from planner.kv_groups import layers_per_block, model_kv_groups
from planner.layout import Layout, stage_layers
from planner.model_spec import ModelSpec
from planner.overhead import OverheadCoefficients, OverheadTerms, explicit_overhead, overhead_terms
from planner.server_settings import ResolvedSettings
from planner.weights import weights_per_rank


class StageBudget(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: int
    layers: int
    weights_bytes: int
    activation_bytes: int
    non_torch_bytes: int
    cudagraph_bytes: int
    kv_bytes_per_token: int
    kv_budget_bytes: int
    num_blocks: int

    @property
    def overhead_bytes(self) -> int:
        return self.activation_bytes + self.non_torch_bytes + self.cudagraph_bytes


class BudgetInputs(BaseModel):
    """What every stage's budget shares."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    server: ResolvedSettings
    coefficients: OverheadCoefficients | None  # None: an explicit overhead, or a fixed KV budget
    overhead_gib: float | None
    overhead_source: str
    requested_bytes: int
    kv_cache_memory_bytes: int | None
    kv_cache_dtype: str
    block_size: int


def stage_budget(model: ModelSpec, layout: Layout, inputs: BudgetInputs, stage: int) -> StageBudget:
    weights = weights_per_rank(model, layout, stage)
    held = stage_layers(model.num_layers, layout.pp, stage)
    terms = _overhead(model, layout, inputs, layers=weights.layers, last_stage=stage == layout.pp - 1)
    budget = inputs.kv_cache_memory_bytes
    if budget is None:
        budget = inputs.requested_bytes - weights.total - terms.total_bytes
    block = block_bytes_per_gpu(
        model, layout.tp, stage_pages(model, layout.pp, stage), inputs.block_size, kv_cache_dtype=inputs.kv_cache_dtype
    )
    return StageBudget(
        stage=stage,
        layers=weights.layers,
        weights_bytes=weights.total,
        activation_bytes=terms.activation_bytes,
        non_torch_bytes=terms.non_torch_bytes,
        cudagraph_bytes=terms.cudagraph_bytes,
        kv_bytes_per_token=kv_bytes_per_token_per_gpu(model, layout.tp, held, inputs.kv_cache_dtype),
        kv_budget_bytes=budget,
        num_blocks=max(0, budget // block),
    )


def stage_pages(model: ModelSpec, pp: int, stage: int) -> int:
    """Layer pages in one pool block on a GPU of this stage."""
    return layers_per_block(model_kv_groups(model), stage_layers(model.num_layers, pp, stage))


def _overhead(
    model: ModelSpec, layout: Layout, inputs: BudgetInputs, *, layers: int, last_stage: bool
) -> OverheadTerms:
    if inputs.kv_cache_memory_bytes is not None:  # a fixed KV budget: nothing is profiled or subtracted
        return OverheadTerms(activation_bytes=0, non_torch_bytes=0, cudagraph_bytes=0, source="fixed KV budget")
    if inputs.overhead_gib is not None or inputs.coefficients is None:
        return explicit_overhead(inputs.overhead_gib or 0.0)
    return overhead_terms(
        model,
        layout,
        inputs.server,
        inputs.coefficients,
        layers=layers,
        last_stage=last_stage,
        source=inputs.overhead_source,
    )

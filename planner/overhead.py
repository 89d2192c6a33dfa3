"""Per-GPU memory vLLM keeps out of the KV budget besides the weights, as terms computed from the
server's settings (vLLM V1, gpu_worker.determine_available_memory):

- activation: the peak of the profile run, a forward pass over max_num_batched_tokens tokens and a
  sampler pass over max_num_seqs sequences:
      forward = k_token x max_num_batched_tokens x token_bytes
      sampler = k_seq[runner] x max_num_seqs x logits_bytes
  A MoE model's forward keeps its fused-MoE workspaces through the sampler pass, so the two add; a dense
  model's intermediates are gone before it samples, so the larger counts (measured: a dense model's peak
  moved 0.07 GiB when max_num_batched_tokens went 8,192 -> 1,024 on V1, where the sum would move 1.44;
  results/gpu_dense_runner_memory). The sampler's copies of the logits differ by model runner
  (planner/model_runner.py): k_seq for V1, k_seq_v2 for V2.
  token_bytes is one token's working set in the widest layer of this rank: dtype bytes x (3 x hidden
  + the widest of: MoE top_k x (max(2 x I, hidden) + I) x E with I the expert intermediate size over the
  MoE TP size (fused-MoE workspaces 1/3 and 2) and E a MoE model's DP engines (Layout.coupled_engines:
  each MoE layer runs every engine's gathered tokens, and vLLM 0.26.0 sizes those workspaces for all of
  them - modular_kernel's _allocate_buffers gets M_chunk = M_full, no chunking - while every engine's
  profile run fills its max_num_batched_tokens at once), dense MLP 3 x intermediate / tp, attention
  (2 x q heads + 2 x KV heads on this rank) x head_dim); logits_bytes is the padded vocabulary x 4
  (fp32 logits, gathered on every rank; on the last pipeline stage only).
- non_torch: NCCL and cuBLAS buffers and the like: a constant per vLLM release (measured at TP1 only).
- cudagraph: vLLM's estimate of CUDA-graph memory, in the budget since 0.21 (not V2's in 0.26.0):
      k_cudagraph x graph sets x capture sizes x layers on this rank
  graph sets: 2 for FULL_AND_PIECEWISE, 1 for PIECEWISE / FULL / FULL_DECODE_ONLY, 0 eager or NONE. Per
  graph and layer, not per byte of hidden state: a 64-layer model of hidden 5,120 estimated 1.09 GiB where the
  62-layer MiniMax-M2 shape of hidden 3,072 estimated 1.06, both at 2 x 51 graphs.

k_token, k_seq, k_seq_v2, k_cudagraph and non_torch come from a calibration fitted on measured runs
(planner/calibration.py); each multiplies a size derived from the model, so one calibration carries
to other models, layouts and settings.
"""

from __future__ import annotations

from math import ceil

from pydantic import BaseModel, ConfigDict

from planner.kv_cache import kv_heads_per_gpu
from planner.layout import Layout
from planner.model_runner import ModelRunner
from planner.model_spec import ModelSpec
from planner.server_settings import ResolvedSettings
from planner.units import GIB

VOCAB_PADDING = 64  # vLLM's DEFAULT_VOCAB_PADDING_SIZE
LOGITS_BYTES = 4  # fp32
GRAPH_SETS = {"FULL_AND_PIECEWISE": 2, "PIECEWISE": 1, "FULL": 1, "FULL_DECODE_ONLY": 1, "NONE": 0}


class OverheadCoefficients(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    k_token: float
    k_seq: float  # copies of a sequence's fp32 logits the V1 runner's sampler pass holds
    k_seq_v2: float  # the V2 runner's
    k_cudagraph: float  # bytes a graph set's capture size takes a layer
    non_torch_gib: float


class OverheadTerms(BaseModel):
    """Bytes per GPU of one pipeline stage, each term named with where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    activation_bytes: int
    non_torch_bytes: int
    cudagraph_bytes: int
    source: str

    @property
    def total_bytes(self) -> int:
        return self.activation_bytes + self.non_torch_bytes + self.cudagraph_bytes


def token_bytes(model: ModelSpec, layout: Layout) -> int:
    """One token's activation working set on one rank (see the module docstring)."""
    tp = layout.tp
    widest = [(2 * model.num_heads // tp + 2 * kv_heads_per_gpu(model, tp)) * model.head_dim]
    if model.dense_layers and model.intermediate_size:
        widest.append(3 * model.intermediate_size // tp)
    if model.moe:
        inter = model.moe.expert_intermediate_size // layout.moe_tp
        engines = layout.coupled_engines(model.moe)
        widest.append(model.moe.top_k * (max(2 * inter, model.hidden_size) + inter) * engines)
    return model.param_bytes * (3 * model.hidden_size + max(widest))


def logits_bytes(model: ModelSpec) -> int:
    """A sequence's row of fp32 logits over the padded vocabulary: what k_seq and k_seq_v2 multiply."""
    return ceil(model.vocab_size / VOCAB_PADDING) * VOCAB_PADDING * LOGITS_BYTES


def cudagraph_units(layers: int, settings: ResolvedSettings) -> int:
    """graph sets x capture sizes x layers on this rank: what k_cudagraph multiplies."""
    sets = GRAPH_SETS[settings.cudagraph_mode] if settings.cudagraph_in_budget else 0
    return sets * len(settings.capture_sizes) * layers


def activation_bytes(
    forward_bytes: float, sampler_bytes: float, *, moe: bool, runner: ModelRunner, coefficients: OverheadCoefficients
) -> float:
    """The profile run's peak from its passes' sizes (max_num_batched_tokens x token_bytes, max_num_seqs x
    logits_bytes; 0 for a stage that does not sample): added for a MoE model, the larger for a dense one."""
    forward = coefficients.k_token * forward_bytes
    sampler = (coefficients.k_seq_v2 if runner == "v2" else coefficients.k_seq) * sampler_bytes
    return forward + sampler if moe else max(forward, sampler)


def overhead_terms(
    model: ModelSpec,
    layout: Layout,
    settings: ResolvedSettings,
    coefficients: OverheadCoefficients,
    *,
    layers: int,
    last_stage: bool,
    source: str,
) -> OverheadTerms:
    activation = activation_bytes(
        settings.max_num_batched_tokens * token_bytes(model, layout),
        settings.max_num_seqs * logits_bytes(model) if last_stage else 0,
        moe=model.moe is not None,
        runner=settings.model_runner,
        coefficients=coefficients,
    )
    return OverheadTerms(
        activation_bytes=round(activation),
        non_torch_bytes=round(coefficients.non_torch_gib * GIB),
        cudagraph_bytes=round(coefficients.k_cudagraph * cudagraph_units(layers, settings)),
        source=source,
    )


def explicit_overhead(total_gib: float) -> OverheadTerms:
    """--overhead-gib: one given total, booked as activation."""
    return OverheadTerms(
        activation_bytes=round(total_gib * GIB),
        non_torch_bytes=0,
        cudagraph_bytes=0,
        source=f"given: --overhead-gib {total_gib}",
    )

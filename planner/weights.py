"""Weight bytes held by one GPU, tensor by tensor, as vLLM shards them.

Column-parallel weights (QKV, gate/up) split their output over TP ranks, row-parallel ones
(o_proj, down) their input; embedding and LM head are split by (64-padded) vocabulary; norms and
MoE routers are replicated. Without expert parallel every rank holds every expert's 1/(tp x dp) slice
(vLLM flattens TP across DP in MoE layers);
with it each rank holds whole experts (ceil(E / (tp x dp)) on the fullest rank). FP8 block
quantization stores one byte per weight plus one fp32 scale per (block_n x block_k) block.
"""

from __future__ import annotations

from math import ceil

from pydantic import BaseModel, ConfigDict

from planner.kv_cache import kv_heads_per_gpu
from planner.layout import Layout, pp_layer_split, stage_layers
from planner.model_spec import ModelSpec

VOCAB_PADDING = 64  # vLLM's DEFAULT_VOCAB_PADDING_SIZE


class WeightBreakdown(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    layers: int
    vision: int = 0  # the vision tower and projector, 16-bit, split over TP on the first stage
    embedding: int
    attention: int
    mlp: int
    router: int
    norms: int
    lm_head: int

    @property
    def total(self) -> int:
        return self.vision + self.embedding + self.attention + self.mlp + self.router + self.norms + self.lm_head


def linear_bytes(model: ModelSpec, out_features: int, in_features: int, quantized: bool) -> int:
    """One weight matrix: quantized as the checkpoint says (planner/quantization.py), else 16-bit."""
    if not (quantized and model.quant):
        return out_features * in_features * model.param_bytes
    return model.quant.matrix_bytes(out_features, in_features)


def weights_per_rank(model: ModelSpec, layout: Layout, stage: int = 0) -> WeightBreakdown:
    """Bytes on one GPU of pipeline stage `stage` (the fullest rank of that stage under EP)."""
    layers = pp_layer_split(model.num_layers, layout.pp)[stage]
    first, last = stage == 0, stage == layout.pp - 1
    vocab_shard = ceil(model.vocab_size / VOCAB_PADDING) * VOCAB_PADDING // layout.tp
    vocab_bytes = vocab_shard * model.hidden_size * model.param_bytes
    tied_here = model.tie_word_embeddings and layout.pp == 1
    moe_layers, dense_layers = _stage_mlp_layers(model, layout.pp, stage)
    held = stage_layers(model.num_layers, layout.pp, stage)
    mixers = [kind for layer, kind, _ in model.attention.kv_layers(model.num_layers) if layer in held]
    return WeightBreakdown(
        layers=layers,
        vision=model.vision_parameters * model.param_bytes // layout.tp if first else 0,
        embedding=vocab_bytes if first else 0,
        attention=sum(
            state_layer_bytes(model, layout.tp) if kind == "state" else attention_layer_bytes(model, layout.tp)
            for kind in mixers
        ),  # fmt: skip
        mlp=dense_layers * dense_mlp_bytes(model, model.intermediate_size, layout.tp)
        + (moe_layers * moe_layer_bytes(model, layout) if moe_layers else 0),
        router=moe_layers * router_bytes(model) if moe_layers else 0,
        norms=layers * 2 * model.hidden_size * model.param_bytes
        + (model.hidden_size * model.param_bytes if last else 0),
        lm_head=vocab_bytes if last and not tied_here else 0,
    )


def weights_total(model: ModelSpec) -> int:
    """The whole model on one GPU, as vLLM holds it in memory."""
    return weights_per_rank(model, Layout()).total


def attention_layer_bytes(model: ModelSpec, tp: int) -> int:
    quantized = bool(model.quant and model.quant.attention_quantized)
    if model.attention.mla is not None:
        return mla_layer_bytes(model, tp, quantized=quantized)
    q_out = model.num_heads // tp * model.head_dim
    kv_out = kv_heads_per_gpu(model, tp) * model.head_dim
    gate = 2 if model.attention_output_gate else 1  # Qwen3-Next: q_proj also yields a sigmoid gate per query
    total = linear_bytes(model, gate * q_out, model.hidden_size, quantized)
    total += 2 * linear_bytes(model, kv_out, model.hidden_size, quantized)
    total += linear_bytes(model, model.hidden_size, q_out, quantized)
    if model.attention_bias:
        total += (q_out + 2 * kv_out) * model.param_bytes
    if model.qk_norm == "per_head":
        total += 2 * model.head_dim * model.param_bytes
    elif model.qk_norm == "per_layer":  # MiniMax's norm over the whole q / k width, TP-sharded
        total += (model.num_heads + model.num_kv_heads) * model.head_dim // tp * model.param_bytes
    return total


def state_layer_bytes(model: ModelSpec, tp: int) -> int:
    """A state layer's projections as vLLM shards them (column-parallel in, row-parallel out), its conv1d,
    norm and per-head vectors: Qwen3NextGatedDeltaNet, MambaMixer2, MiniMaxText01LinearAttention."""
    state, hidden = model.attention.state, model.hidden_size
    quantized = bool(model.quant and model.quant.attention_quantized)
    if state is None:
        return 0
    if state.kind == "gdn":
        values = state.linear_num_value_heads * state.linear_value_head_dim // tp
        keys = state.linear_num_key_heads * state.linear_key_head_dim // tp
        matrices = [(2 * keys + 2 * values, hidden), (2 * state.linear_num_value_heads // tp, hidden), (hidden, values)]
        vectors = state.conv_channels(tp) * state.linear_conv_kernel_dim + 2 * state.linear_num_value_heads // tp
        vectors += state.linear_value_head_dim
    elif state.kind == "mamba2":
        inner, heads = state.intermediate_size // tp, state.num_heads // tp
        matrices = [(2 * inner + 2 * state.groups(tp) * state.state_size // tp + heads, hidden), (hidden, inner)]
        vectors = state.conv_channels(tp) * (state.conv_kernel + 1) + 3 * heads + inner  # conv + bias, A D dt, norm
    else:
        inner = state.num_heads * state.head_dim // tp
        matrices, vectors = [(3 * inner, hidden), (inner, hidden), (hidden, inner)], inner
    return sum(linear_bytes(model, o, i, quantized) for o, i in matrices) + vectors * model.param_bytes


def mla_layer_bytes(model: ModelSpec, tp: int, *, quantized: bool) -> int:
    """DeepSeek-style MLA as vLLM shards it: the down-projections to the query and KV latents
    (q_a_proj, kv_a_proj_with_mqa) and their norms are replicated; the up-projections (q_b_proj or
    q_proj, kv_b_proj) split their heads over TP, o_proj its input."""
    mla = model.attention.mla
    assert mla is not None
    heads = model.num_heads // tp
    q_head = mla.qk_nope_head_dim + mla.qk_rope_head_dim
    total = linear_bytes(model, mla.latent_dim, model.hidden_size, quantized)  # kv_a_proj_with_mqa
    total += mla.kv_lora_rank * model.param_bytes  # kv_a_layernorm
    if mla.q_lora_rank:
        total += linear_bytes(model, mla.q_lora_rank, model.hidden_size, quantized)  # q_a_proj
        total += mla.q_lora_rank * model.param_bytes  # q_a_layernorm
        total += linear_bytes(model, heads * q_head, mla.q_lora_rank, quantized)  # q_b_proj
    else:
        total += linear_bytes(model, heads * q_head, model.hidden_size, quantized)  # q_proj
    total += linear_bytes(model, heads * (mla.qk_nope_head_dim + mla.v_head_dim), mla.kv_lora_rank, quantized)
    if mla.index_head_dim:  # V3.2's indexer, replicated: wq_b, wk, k_norm (LayerNorm), weights_proj (16-bit)
        total += linear_bytes(model, mla.index_n_heads * mla.index_head_dim, mla.q_lora_rank, quantized)
        total += linear_bytes(model, mla.index_head_dim, model.hidden_size, quantized)
        total += (2 * mla.index_head_dim + model.hidden_size * mla.index_n_heads) * model.param_bytes
    return total + linear_bytes(model, model.hidden_size, heads * mla.v_head_dim, quantized)  # o_proj


def dense_mlp_bytes(model: ModelSpec, intermediate: int, tp: int) -> int:
    """Gated MLP: gate and up (column-parallel, merged) plus down (row-parallel); ungated: up and down."""
    quantized = bool(model.quant and model.quant.mlp_quantized)
    shard = intermediate // tp
    inputs = 2 if model.mlp_gated else 1
    return inputs * linear_bytes(model, shard, model.hidden_size, quantized) + linear_bytes(
        model, model.hidden_size, shard, quantized
    )


def expert_slice(model: ModelSpec, layout: Layout) -> tuple[int, int]:
    """(experts on the fullest rank, each one's intermediate width there): whole experts under EP, a
    1/moe_tp slice of every expert without; (0, 0) for a dense model."""
    moe = model.moe
    if moe is None:
        return 0, 0
    return layout.local_experts(moe.num_experts), moe.expert_intermediate_size // layout.moe_tp


def moe_layer_bytes(model: ModelSpec, layout: Layout) -> int:
    moe = model.moe
    if moe is None:
        return 0
    local_experts, shard = expert_slice(model, layout)
    experts = local_experts * dense_mlp_bytes(model, shard, 1)
    shared = (
        dense_mlp_bytes(model, moe.shared_expert_intermediate_size, layout.tp)
        if moe.shared_expert_intermediate_size
        else 0
    )
    return experts + shared


def router_bytes(model: ModelSpec) -> int:
    """Router weights (and the routing-bias vector) are never quantized and are replicated on every rank."""
    moe = model.moe
    if moe is None:
        return 0
    rows = model.hidden_size + (1 if moe.router_bias else 0)
    return moe.num_experts * rows * moe.router_dtype_bytes


def _stage_mlp_layers(model: ModelSpec, pp: int, stage: int) -> tuple[int, int]:
    """(MoE layers, dense-MLP layers) in this stage, spreading each kind in proportion."""
    split = pp_layer_split(model.num_layers, pp)
    layers = split[stage]
    if not model.moe:
        return 0, round(model.dense_layers * layers / model.num_layers)
    moe = round(model.moe.moe_layers * layers / model.num_layers)
    return moe, round(model.dense_layers * layers / model.num_layers)

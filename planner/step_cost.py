"""What one engine step costs on one GPU: a roofline over the bytes it must read and the FLOPs it must do.

A step (vLLM's scheduler runs one per forward pass) decodes one token for each running request and
prefills chunks of waiting prompts, up to max_num_batched_tokens tokens in all. Per rank:

  bytes = always-read weights (attention, dense MLPs, shared experts, routers, norms, LM head)
          + MoE layers x touched experts x one expert's slice (TP: a slice of each; EP: whole experts, as
            many as the busiest rank holds of those touched - planner/expert_load.py)
          + KV each decoding request reads (its context x KV bytes per token on this rank)
  touched experts (T tokens, top-k of E) = E (1 - (1 - k / E)^T), the expected distinct experts when each
          token draws k of E equally likely ones; k for every T where the router is fixed (`fixed_routing`)
  FLOPs = 2 x active linear parameters per token x tokens   (GEMMs, at the weights' dtype peak; a MoE
          layer's routed experts run every DP engine's tokens)
          + attention: 4 x query heads x head dim per (token, earlier token) pair per layer (bf16 peak)
  time = max(bytes / (bandwidth x e_bw), dense GEMM FLOPs / (peak x e_gemm) + experts' FLOPs / (peak x e_moe)
             + attention FLOPs / (peak x e_attn), launch)
         + layers x per-layer overhead + requests in the step x per-request overhead
         + TP all-reduce / a MoE model's DP gather (all-gather + reduce-scatter a MoE layer): bytes / link
           bandwidth + collectives x collective latency; with DP a MoE layer runs every engine's tokens
           (planner/coupled_step.py: the engines step together)
  piecewise floor: under cudagraph_mode PIECEWISE (the MiniMax guide's fix for an illegal memory access) a
           captured step replays a graph per piece and the host launches each layer's attention between them,
           so a step takes at least layers x the host's time a layer, whatever the GPU's: max(time, floor).
           A lone decode step took 10.8 ms on one H200 where a full graph's took 7.3; at batch 16 9.8 ms
           against 9.2, at 64 12.4 against 12.1 (one H100: 12.2 against 8.3, 17.0 against 10.5, 14.6 against
           13.6; results/perf_model/piecewise-blind-timeline.txt): the host's time, not the card's. Fitted on
           PIECEWISE levels alone, the other factors held (reports/perf_fit.py); 0 where none was measured.
           Under the default FULL_AND_PIECEWISE a step with a prompt replays piecewise too, not priced so.
  launch = layers x eager launch time per layer, for a step with more tokens than vLLM's largest CUDA graph
           (0 for a step a graph replays): the host issues every kernel itself while the GPU runs those
           already issued, so the step takes the longer of the two. vLLM's torch profiler (one H100, one
           H200; results/perf_model/twenty-sixth/profile-vs-price.txt): an 8,192-token prompt step kept the
           GPU busy 297-317 of its 302-325 ms on both cards, a lone 1,024-token prompt's step 42-51 of its
           100-162 ms - the rest the host's, 52-61 ms on the H200's machine and 85-118 on the H100s'.
  e_moe:   the fused MoE kernel's share of peak, measured, not fitted: 193-206 ms of an 8,192-token step on
           either card, under spread or fixed routing (the same profiles), 0.28-0.30 of FP8 peak where the
           step's dense GEMMs ran at 0.67; the expert slices' product shapes are the kernel's, not the
           card's (untuned Triton tiles). Taken for every card; bf16 experts not measured.
  per-request overhead: decode-only steps at ~1.1K context grow by 149 us a request on the H100, 104 on
           the H200 and 83 on two H200s (TP2), ~35-50 us more than their KV bytes at 90% of HBM peak on
           each (the same timeline): sampling and the engine's per-request work, which TP does not split.
  collective latency: two all-reduces a layer under TP (and a dispatch and combine a MoE layer under EP)
           each wait for the other ranks whatever their bytes: a one-request decode step takes 7.3 ms on
           one H200 and 6.7 ms on two, where halving its 2.5 ms of weight reads should save 1.3 ms.

Routing is not fitted: it follows from the weights. Real weights route each token its own way (uniform
above). vLLM's dummy weights (--load-format dummy, every calibration run) are uniform in +-1e-3: a router
with a score-correction bias (MiniMax, DeepSeek-V3) then picks by that bias, whose spread (~1e-3) outweighs
the scores' (~5e-6), so every token gets the same top-k (8 of 256 at 1 token, 11 at 8,192;
results/perf_model/dummy-routing.txt); a router without one picks by its logits' noise: uniform again.

The API server's time before the engine (frontend_request_us, frontend_token_us; planner/replay_clients.py
Frontend) is no part of a step, but its factors are fitted with these: a host's, like the launch time.

The e's, the overheads, the launch time, the collective latency and the API server's times are the
calibrated factors (planner/calibrations/), fitted per GPU, vLLM version and model class from measured
levels and their engine steps as rebuilt from the tokens' timestamps (reports/perf_fit.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from planner.expert_load import busiest_rank_experts
from planner.gpus import GpuSpec
from planner.kv_cache import kv_bytes_per_token_per_gpu, state_bytes_per_layer
from planner.layout import Layout
from planner.model_spec import ModelSpec
from planner.weights import WeightBreakdown, dense_mlp_bytes, expert_slice, weights_per_rank

ACTIVATION_BYTES = 2  # hidden states travel between ranks in 16-bit


class PerfFactors(BaseModel):
    """How far a deployment gets from the roofline: fitted, never assumed (defaults are placeholders)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # streaming weights: not fitted (a fit on one card cannot split a decode step into bytes and fixed cost;
    # with it fitted on the H100 the H200's decode came out 6-10% fast): large sequential reads reach ~90% of
    # HBM peak on Hopper
    bandwidth_efficiency: float = Field(0.9, gt=0, le=1.5)
    kv_bandwidth_efficiency: float = Field(0.8, gt=0, le=1.5)  # decode attention reading the KV cache (fitted)
    gemm_efficiency: float = Field(0.5, gt=0, le=1.5)
    moe_gemm_efficiency: float = Field(0.28, gt=0, le=1.5)  # routed experts' GEMMs: measured, not fitted (e_moe)
    attention_efficiency: float = Field(0.5, gt=0, le=1.5)
    layer_overhead_us: float = Field(50.0, ge=0)  # per layer and step: launches, scheduling, sampling share
    eager_layer_us: float = Field(0.0, ge=0)  # host time issuing one layer's kernels in a step no CUDA graph covers
    sequence_overhead_us: float = Field(0.0, ge=0)  # per request in a step: sampling, scheduling, output
    piecewise_layer_us: float = Field(0.0, ge=0)  # host time a layer of a PIECEWISE-replayed step: its floor
    collective_us: float = Field(0.0, ge=0)  # latency of one cross-rank collective (TP all-reduce, DP gather)
    frontend_request_us: float = Field(0.0, ge=0)  # the API server's delay of each request (each on its own)
    frontend_token_us: float = Field(0.0, ge=0)  # ... and its time a prompt token (one prompt at a time)

    @model_validator(mode="before")
    @classmethod
    def _drop_routing_spread(cls, data: Any) -> Any:
        """Calibrations made before routing followed from the weights fitted a `routing_spread` (a
        dummy-weights artefact): read without it."""
        if isinstance(data, dict) and "routing_spread" in data:
            return {k: v for k, v in data.items() if k != "routing_spread"}
        return data


class StepShape(BaseModel):
    """What a step holds: one context length per decoding request, (new tokens, earlier tokens) per prefill."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decode_contexts: tuple[int, ...] = ()
    prefills: tuple[tuple[int, int], ...] = ()

    @property
    def tokens(self) -> int:
        """Tokens the step runs: one per decoding request plus every prefill chunk's new tokens."""
        return len(self.decode_contexts) + sum(n for n, _ in self.prefills)

    def uncaptured(self, graph_tokens: int) -> bool:
        """Larger than the largest CUDA graph (`graph_tokens`; 0: none): the host launches every kernel."""
        return self.tokens > graph_tokens


class StepModel(BaseModel):
    """A deployment's per-step constants, computed once (pure arithmetic from planner/weights.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    always_bytes: int
    expert_bytes: int  # one expert's slice on one rank, one layer
    moe_layers: int
    local_experts: int
    experts: int
    top_k: int
    fixed_routing: bool  # every token gets the same top_k experts (dummy weights, a biased router)
    gemm_params: float  # linear parameters a token passes through on one rank (experts: its top-k; no LM head)
    expert_gemm_params: float  # ... of which in routed experts: a MoE layer runs them for every engine's tokens
    lm_head_params: float  # the LM head's share on one rank: one row of logits per request in the step
    attention_flops_per_pair: float  # per (token, earlier token) pair, all layers, one rank
    kv_bytes_per_token: int
    state_bytes_per_request: int
    layers: int
    hidden: int
    tp: int
    ep_size: int
    moe_engines: int = 1  # DP engines whose MoE layers gather each other's tokens (a MoE model's DP size)
    fp8_weights: bool
    graph_tokens: int  # the largest step a CUDA graph replays (vLLM's largest capture size); 0: eager
    piecewise: bool = False  # cudagraph_mode PIECEWISE: every captured step replays piecewise graphs (its floor)


def step_model(model: ModelSpec, layout: Layout, *, kv_cache_dtype: str = "auto", graph_tokens: int = 0,
               dummy_weights: bool = False, piecewise: bool = False) -> StepModel:  # fmt: skip
    """Per-rank constants of the fullest rank, every pipeline stage's share summed (a token passes them in turn);
    `dummy_weights`: served with --load-format dummy (routing: the module docstring); `piecewise`: under
    cudagraph_mode PIECEWISE."""
    unpacked_model = model.model_copy(update={"quant": None})
    stages = range(layout.pp)
    held = sum(_read_every_step(weights_per_rank(model, layout, s)) for s in stages)
    held_params = sum(_read_every_step(weights_per_rank(unpacked_model, layout, s)) for s in stages) // 2
    moe = model.moe
    local, shard = expert_slice(model, layout)
    expert = dense_mlp_bytes(model, shard, 1) if moe else 0
    expert_params = dense_mlp_bytes(unpacked_model, shard, 1) // 2 if moe else 0
    moe_layers = moe.moe_layers if moe else 0
    heads = model.num_heads // layout.tp
    per_pair = 4 * heads * model.head_dim
    if model.attention.mla is not None:
        per_pair = 2 * heads * (2 * model.attention.mla.kv_lora_rank + model.attention.mla.qk_rope_head_dim)
    # a token's experts on the busiest rank: spread over the EP ranks, or (one top-k for every token) as many
    # as the busiest rank holds of them (planner/expert_load.py)
    routed = moe.top_k / layout.ep_size if moe else 0
    fixed = fixed_routing(model, dummy_weights=dummy_weights)
    if moe and fixed and layout.ep_size > 1:
        routed = busiest_rank_experts(moe.top_k, experts=moe.num_experts, ranks=layout.ep_size)
    lm_head = weights_per_rank(unpacked_model, layout, layout.pp - 1).lm_head // 2
    routed_params = float(moe_layers * routed * expert_params)
    return StepModel(
        always_bytes=held - moe_layers * local * expert, expert_bytes=expert, moe_layers=moe_layers,
        local_experts=local, experts=moe.num_experts if moe else 0, top_k=moe.top_k if moe else 0,
        fixed_routing=fixed,
        gemm_params=float(held_params - moe_layers * (local - routed) * expert_params - lm_head),
        expert_gemm_params=routed_params, lm_head_params=float(lm_head),
        attention_flops_per_pair=float(per_pair * model.attention.token_layers(model.num_layers)),
        kv_bytes_per_token=kv_bytes_per_token_per_gpu(model, layout.tp, range(model.num_layers), kv_cache_dtype),
        state_bytes_per_request=model.attention.state_layers * state_bytes_per_layer(model, layout.tp, ssm_bytes=None),
        layers=model.num_layers, hidden=model.hidden_size, tp=layout.tp, ep_size=layout.ep_size,
        moe_engines=layout.coupled_engines(moe),
        fp8_weights=bool(model.quant and model.quant.method == "fp8"), graph_tokens=graph_tokens, piecewise=piecewise,
    )  # fmt: skip


def fixed_routing(model: ModelSpec, *, dummy_weights: bool) -> bool:
    """Whether every token of a step goes to the same top-k experts: a router with a score-correction bias on
    vLLM's dummy weights (the module docstring); real weights, or a router without one, spread them (uniform)."""
    return bool(dummy_weights and model.moe and model.moe.router_bias)


# What "fixed" means, said once for the plan's assumptions and bench run's warning
FIXED_ROUTING_NOTE = (
    "MoE routing fixed: on dummy weights this router's score-correction bias sends every token to the same top-k "
    "experts, so its steps read fewer expert bytes than real weights', which spread them"
)


def moe_routing(model: ModelSpec, *, dummy_weights: bool) -> Literal["fixed", "spread"] | None:
    """A MoE model's routing as served: "fixed" (fixed_routing) or "spread"; None for a dense model."""
    if model.moe is None:
        return None
    return "fixed" if fixed_routing(model, dummy_weights=dummy_weights) else "spread"


def _read_every_step(weights: WeightBreakdown) -> int:
    """A stage's weights less what a step does not read whole: the embedding table (a row per token) and
    the vision tower (text requests)."""
    return weights.total - weights.embedding - weights.vision


def touched_experts(tokens: int, *, experts: int, top_k: int, fixed: bool = False) -> float:
    """Expected distinct experts `tokens` tokens route to, each picking top_k of the experts uniformly;
    top_k whatever the tokens where the router is `fixed`."""
    if fixed or experts <= 0:
        return float(top_k)
    return experts * (1.0 - (1.0 - top_k / experts) ** tokens)


def step_seconds(sm: StepModel, gpu: GpuSpec, step: StepShape, factors: PerfFactors) -> float:
    return step_pricer(sm, gpu, factors)(step)


def step_pricer(sm: StepModel, gpu: GpuSpec, factors: PerfFactors) -> Callable[[StepShape], float]:
    """step_seconds with the deployment's and the GPU's constants worked out once: the batching replay
    prices every step of an hour-long trace with it. One engine alone: its MoE layers run its own tokens."""
    price = engine_pricer(sm, gpu, factors)
    return lambda step: price(step, step.tokens, step.uncaptured(sm.graph_tokens))


def launch_seconds(sm: StepModel, factors: PerfFactors) -> float:
    """The host's time to launch every kernel of a step no CUDA graph covers, one engine alone."""
    return sm.layers * factors.eager_layer_us * 1e-6


def engine_pricer(sm: StepModel, gpu: GpuSpec, factors: PerfFactors) -> Callable[[StepShape, int, bool], float]:
    """price(step, gathered, eager): one engine's step whose MoE layers run `gathered` tokens (its own, or
    every DP engine's), its kernels launched by the host (`eager`) or replayed from a CUDA graph."""
    bandwidth, bf16, fp8, link = gpu.speeds()
    weight_rate, kv_rate = bandwidth * factors.bandwidth_efficiency, bandwidth * factors.kv_bandwidth_efficiency
    gemm_rate = (fp8 if sm.fp8_weights else bf16) * factors.gemm_efficiency
    moe_rate = (fp8 if sm.fp8_weights else bf16) * factors.moe_gemm_efficiency
    attention_rate = bf16 * factors.attention_efficiency
    launch = launch_seconds(sm, factors)
    layers_us = sm.layers * factors.layer_overhead_us
    floor = sm.layers * factors.piecewise_layer_us * 1e-6 if sm.piecewise else 0.0

    def price(step: StepShape, gathered: int, eager: bool) -> float:
        decodes, context, tokens = len(step.decode_contexts), sum(step.decode_contexts), step.tokens
        if tokens == 0:
            return 0.0
        touched = touched_experts(gathered, experts=sm.experts, top_k=sm.top_k, fixed=sm.fixed_routing)
        local_touched = min(
            float(sm.local_experts), busiest_rank_experts(touched, experts=sm.experts, ranks=sm.ep_size)
        )
        kv = context * sm.kv_bytes_per_token + decodes * sm.state_bytes_per_request
        weights = sm.always_bytes + sm.moe_layers * local_touched * sm.expert_bytes
        memory = weights / weight_rate + kv / kv_rate
        pairs = context + sum(n * c + n * (n + 1) / 2 for n, c in step.prefills)
        sampled = decodes + len(step.prefills)
        # a MoE layer runs its routed experts for every engine's tokens (`gathered`: its own, alone)
        dense = sm.gemm_params - sm.expert_gemm_params
        compute = 2 * (dense * tokens + sm.lm_head_params * sampled) / gemm_rate
        compute += 2 * sm.expert_gemm_params * gathered / moe_rate
        compute += sm.attention_flops_per_pair * pairs / attention_rate
        fixed = layers_us + sampled * factors.sequence_overhead_us
        priced = max(memory, compute, launch if eager else 0.0) + fixed * 1e-6
        priced += _comm(sm, tokens, gathered, link=link, collective_us=factors.collective_us)
        return priced if eager else max(priced, floor)

    return price


def _comm(sm: StepModel, tokens: int, gathered: int, *, link: float | None, collective_us: float) -> float:
    """TP: two all-reduces of the hidden state per layer (ring: 2 (tp - 1) / tp of it each way). DP engines
    of a MoE model (EP or not): each MoE layer all-gathers every engine's tokens and reduce-scatters the
    outputs back over the DP group (vLLM's default allgather_reducescatter backend; a ring moves (dp - 1) /
    dp of the gathered hidden states each way). EP within one engine adds nothing - its MoE output is
    all-reduced over the TP group as TP's is (vLLM runs all-to-all kernels only with DP > 1). Each
    collective also waits its latency; a GPU without a catalogued link speed pays the latency alone. Left
    out: the router logits gathered beside the hidden states (experts x 4 bytes a token), and under EP with
    TP > 1 the gather's spread over every TP x DP rank (vLLM's sequence-parallel MoE)."""
    collectives = 2 * sm.layers if sm.tp > 1 else 0
    moved = 2 * sm.layers * 2 * (sm.tp - 1) / sm.tp * sm.hidden * ACTIVATION_BYTES * tokens
    if sm.moe_engines > 1:
        moved += 2 * sm.moe_layers * (sm.moe_engines - 1) / sm.moe_engines * gathered * sm.hidden * ACTIVATION_BYTES
        collectives += 2 * sm.moe_layers
    return (moved / link if link else 0.0) + collectives * collective_us * 1e-6

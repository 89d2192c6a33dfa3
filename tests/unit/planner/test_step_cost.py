"""The step roofline's behaviour: which resource a step waits on, and how routing spreads over experts."""

from __future__ import annotations

import pytest

from planner import Layout, load_model, resolve_gpu
from planner.coupled_step import COUPLED_LAUNCHES, coupled_pricer
from planner.step_cost import PerfFactors, StepShape, step_model, step_pricer, step_seconds, touched_experts

FACTORS = PerfFactors(
    bandwidth_efficiency=1.0,
    kv_bandwidth_efficiency=1.0,
    gemm_efficiency=1.0,
    attention_efficiency=1.0,
    layer_overhead_us=0.0,
)


@pytest.fixture(scope="module")
def minimax_tp4():
    return step_model(load_model("minimax-m2"), Layout(tp=4))


def test_one_token_touches_top_k_experts_and_many_tokens_all():
    assert touched_experts(1, experts=256, top_k=8) == pytest.approx(8)
    assert touched_experts(10_000, experts=256, top_k=8) == pytest.approx(256)
    # a fixed router (dummy weights, biased routing) keeps to its top-k however many tokens come
    assert touched_experts(10_000, experts=256, top_k=8, fixed=True) == 8


def test_dummy_weights_fix_the_routing_only_of_a_biased_router(minimax_tp4):
    minimax = load_model("minimax-m2")  # use_routing_bias: true
    assert minimax.moe and minimax.moe.router_bias
    assert step_model(minimax, Layout(tp=4), dummy_weights=True).fixed_routing
    assert not minimax_tp4.fixed_routing  # real weights
    gpu, batch = resolve_gpu("h200"), StepShape(decode_contexts=(1024,) * 64)
    dummy = step_model(minimax, Layout(tp=4), dummy_weights=True)
    # 64 tokens reach ~222 of 256 experts with real weights, 8 with dummy ones: far fewer bytes to read
    assert step_seconds(dummy, gpu, batch, FACTORS) < step_seconds(minimax_tp4, gpu, batch, FACTORS)


def test_small_decode_is_memory_bound_and_scales_with_bandwidth(minimax_tp4):
    step = StepShape(decode_contexts=(1024,))
    h100, h200 = (step_seconds(minimax_tp4, resolve_gpu(g), step, FACTORS) for g in ("h100", "h200"))
    assert h100 / h200 == pytest.approx(4800 / 3350, rel=0.05)  # not quite: the TP all-reduce is NVLink-bound


def test_long_prefill_is_compute_bound_and_quadratic_in_attention(minimax_tp4):
    gpu = resolve_gpu("h100")
    short, long = (step_seconds(minimax_tp4, gpu, StepShape(prefills=((n, 0),)), FACTORS) for n in (8192, 16384))
    assert 2.0 < long / short < 4.0  # linear layers double, attention quadruples


def test_the_kv_of_each_decoding_request_is_read(minimax_tp4):
    gpu = resolve_gpu("h100")
    base = step_seconds(minimax_tp4, gpu, StepShape(decode_contexts=(1,)), FACTORS)
    long = step_seconds(minimax_tp4, gpu, StepShape(decode_contexts=(100_001,)), FACTORS)
    assert long - base == pytest.approx(100_000 * minimax_tp4.kv_bytes_per_token / 3350e9, rel=0.01)


def test_a_gpu_without_catalogued_speeds_is_refused(minimax_tp4):
    with pytest.raises(Exception, match="no bandwidth / FLOPs"):
        step_seconds(minimax_tp4, resolve_gpu("mi300x"), StepShape(decode_contexts=(1,)), FACTORS)


def test_a_step_no_cuda_graph_covers_takes_the_longer_of_its_launches_and_its_kernels():
    model = step_model(load_model("minimax-m2"), Layout(), graph_tokens=512)  # one GPU: no all-reduce
    gpu, eager = resolve_gpu("h100"), FACTORS.model_copy(update={"eager_layer_us": 2000.0})
    launches = model.layers * 2000e-6
    # the host issues kernels while the GPU runs those already issued: a short prompt waits on the host alone,
    # whatever its length, and a long one's kernels hide the launches
    short, shorter = StepShape(prefills=((1024, 0),)), StepShape(prefills=((600, 0),))
    assert step_seconds(model, gpu, short, FACTORS) < launches
    assert step_seconds(model, gpu, short, eager) == step_seconds(model, gpu, shorter, eager) == pytest.approx(launches)
    long = StepShape(prefills=((65_536, 0),))
    assert step_seconds(model, gpu, long, FACTORS) > launches
    assert step_seconds(model, gpu, long, eager) == step_seconds(model, gpu, long, FACTORS)
    # a decode batch a graph replays pays no launches
    graphed = StepShape(decode_contexts=(1024,) * 8)
    assert step_seconds(model, gpu, graphed, eager) == step_seconds(model, gpu, graphed, FACTORS)


def test_routed_experts_run_at_the_moe_kernels_own_efficiency():
    model, gpu = step_model(load_model("minimax-m2"), Layout()), resolve_gpu("h100")
    prompt = StepShape(prefills=((65_536, 0),))  # compute-bound: its FLOPs set its time
    slow_experts = FACTORS.model_copy(update={"moe_gemm_efficiency": 0.25})
    fast_experts = FACTORS.model_copy(update={"moe_gemm_efficiency": 0.5})
    slow_dense = FACTORS.model_copy(update={"moe_gemm_efficiency": 0.5, "gemm_efficiency": 0.5})
    # halving the experts' efficiency adds their time at the faster one again; the dense GEMMs' is apart
    experts = step_seconds(model, gpu, prompt, slow_experts) - step_seconds(model, gpu, prompt, fast_experts)
    dense = step_seconds(model, gpu, prompt, slow_dense) - step_seconds(model, gpu, prompt, fast_experts)
    assert experts > 0 and dense > 0
    assert experts + dense < step_seconds(model, gpu, prompt, slow_dense)  # attention's time is in neither


def test_under_piecewise_graphs_a_captured_step_takes_at_least_the_hosts_time():
    minimax, gpu = load_model("minimax-m2"), resolve_gpu("h200")
    default = step_model(minimax, Layout(), graph_tokens=512)
    piecewise = step_model(minimax, Layout(), graph_tokens=512, piecewise=True)
    host = FACTORS.model_copy(update={"piecewise_layer_us": 500.0})  # 31 ms over 62 layers: longer than a small step
    lone, prompt = StepShape(decode_contexts=(1024,)), StepShape(prefills=((65_536, 0),))
    assert step_seconds(default, gpu, lone, host) == step_seconds(default, gpu, lone, FACTORS)  # FULL_AND_PIECEWISE
    assert step_seconds(piecewise, gpu, lone, FACTORS) == step_seconds(default, gpu, lone, FACTORS)  # not fitted: 0
    assert step_seconds(piecewise, gpu, lone, host) == pytest.approx(piecewise.layers * 500e-6)
    # a floor, not an addition: a step the GPU takes longer over, or that no graph covers, keeps its price
    for step in (StepShape(decode_contexts=(1024,) * 512), prompt):
        assert step_seconds(default, gpu, step, FACTORS) > piecewise.layers * 500e-6
        assert step_seconds(piecewise, gpu, step, host) == step_seconds(default, gpu, step, FACTORS)


def test_each_request_in_a_step_costs_its_overhead():
    model, gpu = step_model(load_model("minimax-m2"), Layout()), resolve_gpu("h100")
    per_request = FACTORS.model_copy(update={"sequence_overhead_us": 50.0})
    for batch in (1, 64):
        step = StepShape(decode_contexts=(10,) * batch)
        extra = step_seconds(model, gpu, step, per_request) - step_seconds(model, gpu, step, FACTORS)
        assert extra == pytest.approx(batch * 50e-6)


def test_collective_latency_counts_two_all_reduces_a_layer_under_tp_only(minimax_tp4):
    gpu, waiting = resolve_gpu("h100"), FACTORS.model_copy(update={"collective_us": 10.0})
    step = StepShape(decode_contexts=(1024,))
    extra = step_seconds(minimax_tp4, gpu, step, waiting) - step_seconds(minimax_tp4, gpu, step, FACTORS)
    assert extra == pytest.approx(2 * minimax_tp4.layers * 10e-6)
    one_gpu = step_model(load_model("minimax-m2"), Layout())
    assert step_seconds(one_gpu, gpu, step, waiting) == step_seconds(one_gpu, gpu, step, FACTORS)


def test_expert_parallel_within_one_engine_adds_no_collective_and_across_engines_does():
    # vLLM all-reduces an EP layer's MoE output over the TP group as under TP; all-to-all kernels need DP > 1
    gpu, waiting = resolve_gpu("h100"), FACTORS.model_copy(update={"collective_us": 10.0})
    minimax, step = load_model("minimax-m2"), StepShape(decode_contexts=(1024,))
    for layout, extra_collectives in ((Layout(tp=8, ep=True), 2 * 62), (Layout(tp=4, dp=2, ep=True), 4 * 62)):
        sm = step_model(minimax, layout)
        extra = step_seconds(sm, gpu, step, waiting) - step_seconds(sm, gpu, step, FACTORS)
        assert extra == pytest.approx(extra_collectives * 10e-6)


def test_under_expert_parallel_the_busiest_rank_sets_a_fixed_router_s_layer():
    # dummy weights route every token of a layer to one top-k: under TP8 each rank reads an eighth of the 8
    # experts, under EP8 the rank holding most of them reads them whole (2.56 of 8 on average, not 1)
    minimax, gpu = load_model("minimax-m2"), resolve_gpu("h200")
    tp, ep = (step_model(minimax, Layout(tp=8, ep=e), dummy_weights=True) for e in (False, True))
    assert tp.always_bytes == ep.always_bytes and ep.expert_bytes == pytest.approx(8 * tp.expert_bytes, rel=1e-3)
    step = StepShape(decode_contexts=(1024,))  # memory-bound: the rest of the step is the same
    slower = step_seconds(ep, gpu, step, FACTORS) - step_seconds(tp, gpu, step, FACTORS)
    assert slower * 4.8e12 == pytest.approx(62 * (2.5637 * ep.expert_bytes - 8 * tp.expert_bytes), rel=1e-4)


def test_dp_engines_of_a_moe_model_step_together_over_every_engine_s_tokens():
    minimax, gpu = load_model("minimax-m2"), resolve_gpu("h200")
    sm = step_model(minimax, Layout(tp=4, dp=2), graph_tokens=512)
    alone, together = step_pricer(sm, gpu, FACTORS), coupled_pricer(sm, gpu, FACTORS)
    decode, idle = StepShape(decode_contexts=(4096,) * 64), StepShape()
    # one engine is the single-engine price
    assert together([decode]) == alone(decode)
    # beside an idle engine (its one-token dummy batch padded to 64 under graphs) the experts run 128 tokens
    assert together([decode, idle]) > alone(decode)
    assert together([decode, idle]) == together([idle, decode])
    # one engine's uncaptured prompt step makes every engine's eager: the decoding one pays the host's launches
    prompt = StepShape(prefills=((2048, 0),))
    launching = FACTORS.model_copy(update={"eager_layer_us": 1000.0})
    coupled = coupled_pricer(sm, gpu, launching)
    assert coupled([decode, prompt]) >= step_pricer(sm, gpu, launching)(prompt)
    assert coupled([decode, StepShape(decode_contexts=(1,))]) < minimax.num_layers * 1000e-6  # captured: no launch


def test_only_a_moe_model_s_dp_engines_are_coupled():
    dense = step_model(load_model("qwen3-32b"), Layout(dp=2))
    assert dense.moe_engines == 1
    assert step_model(load_model("minimax-m2"), Layout(tp=2, dp=4, ep=True)).moe_engines == 4


def test_an_eager_step_of_coupled_dp_engines_pays_the_host_s_launch_twice():
    # measured: DP2's eager steps over twice TP2's floor on the same two H200s (nineteenth check)
    minimax, gpu = load_model("minimax-m2"), resolve_gpu("h200")
    sm = step_model(minimax, Layout(tp=4, dp=2), graph_tokens=512)
    slow, slower = (FACTORS.model_copy(update={"eager_layer_us": us}) for us in (1000.0, 2000.0))
    prompt, idle = StepShape(prefills=((2048, 0),)), StepShape()
    # its kernels shorter than their launches either way: a slower host adds its time a layer to every launch
    alone = step_pricer(sm, gpu, slower)(prompt) - step_pricer(sm, gpu, slow)(prompt)
    coupled = coupled_pricer(sm, gpu, slower)([prompt, idle]) - coupled_pricer(sm, gpu, slow)([prompt, idle])
    assert alone == pytest.approx(minimax.num_layers * 1e-3)
    assert coupled == pytest.approx(COUPLED_LAUNCHES * alone)

"""Layout validity (what vLLM refuses), PP/DP/EP accounting, and the inverse search."""

from __future__ import annotations

import pytest

from planner import (
    InputError,
    Layout,
    LayoutRejected,
    PlanSettings,
    Target,
    layout_from_flags,
    load_model,
    plan_capacity,
    resolve_gpu,
    search_layouts,
)
from planner.layout import pp_layer_split
from planner.weights import weights_per_rank


@pytest.fixture(scope="module")
def h200():
    return resolve_gpu("h200")


@pytest.mark.parametrize(("layers", "pp", "split"), [(62, 4, [15, 16, 16, 15]), (80, 3, [27, 27, 26]), (8, 2, [4, 4])])
def test_pp_split_puts_extra_layers_before_the_last_stage(layers, pp, split):
    assert pp_layer_split(layers, pp) == split


def test_tp_must_divide_attention_heads(minimax, h200):
    with pytest.raises(LayoutRejected) as info:
        plan_capacity(minimax, h200, Layout(tp=5))
    assert info.value.field == "--tp" and "48 attention heads" in info.value.problem
    assert "[1, 2, 3, 4, 6, 8, 12, 16, 24, 48]" in info.value.fix


def test_kv_heads_must_split_or_replicate_evenly(minimax, h200):
    qwen_moe = load_model("qwen3-30b-a3b")  # 32 heads, 4 KV heads: tp=8 replicates one head per GPU
    assert plan_capacity(qwen_moe, h200, Layout(tp=8)).kv_bytes_per_token_per_gpu == 2 * 48 * 1 * 128 * 2
    with pytest.raises(LayoutRejected, match="8 KV heads"):
        plan_capacity(minimax, h200, Layout(tp=6))  # 48 heads split, but 8 KV heads can't be


def test_expert_parallel_splits_experts_whole(minimax, h200):
    tp8_ep = plan_capacity(minimax, h200, Layout(tp=8, ep=True))
    tp4 = plan_capacity(minimax, h200, Layout(tp=4))
    assert tp8_ep.ep_size == 8
    assert tp8_ep.weights_bytes_per_gpu < tp4.weights_bytes_per_gpu / 1.9


def test_uneven_experts_count_the_fullest_rank(minimax):
    # 256 experts over 2 x 3 = 6 ranks: the fullest holds ceil(256 / 6) = 43; over 8 ranks each holds 32.
    even = weights_per_rank(minimax, Layout(tp=2, dp=4, ep=True)).mlp
    uneven = weights_per_rank(minimax, Layout(tp=2, dp=3, ep=True)).mlp
    assert uneven * 32 == even * 43


def test_dp_engines_each_hold_a_kv_cache(minimax, h200):
    plan = plan_capacity(minimax, h200, Layout(tp=4, dp=2, ep=True), PlanSettings(max_model_len=131072))
    assert plan.total_kv_capacity_tokens == 2 * plan.kv_capacity_tokens
    assert any("dp=2" in note for note in plan.assumptions)


def test_weights_that_do_not_fit_are_rejected_with_a_fix(minimax):
    with pytest.raises(LayoutRejected) as info:
        plan_capacity(minimax, resolve_gpu("h100"), Layout(tp=2))
    assert "exceed" in info.value.problem and "--target-context" in info.value.fix


def test_max_model_len_larger_than_capacity_is_rejected(minimax):
    with pytest.raises(LayoutRejected) as info:
        plan_capacity(minimax, resolve_gpu("h100"), Layout(tp=4), PlanSettings(gpu_memory_utilization=0.8))
    assert info.value.field == "--max-model-len" and "--max-model-len <=" in info.value.fix
    assert "estimated maximum model length is" in info.value.problem  # vLLM's own words for the refusal


def test_max_model_len_beyond_the_model_is_rejected(minimax, h200):
    with pytest.raises(LayoutRejected, match="max_position_embeddings"):
        plan_capacity(minimax, h200, Layout(tp=4), PlanSettings(max_model_len=1_000_000))


@pytest.mark.parametrize(
    ("gpus", "tp", "pp", "dp", "expected"), [(8, None, 1, 1, 8), (8, None, 2, 2, 2), (None, 4, 1, 1, 4)]
)
def test_gpus_fill_in_tp(gpus, tp, pp, dp, expected):
    assert layout_from_flags(gpus, tp, pp, dp, ep=False).tp == expected


@pytest.mark.parametrize(("gpus", "tp", "pp", "dp"), [(6, 4, 1, 1), (6, None, 4, 1), (0, None, 1, 1)])
def test_inconsistent_gpu_counts_are_input_errors(gpus, tp, pp, dp):
    with pytest.raises(InputError):
        layout_from_flags(gpus, tp, pp, dp, ep=False)


def test_inverse_lists_fewest_gpus_first_and_meets_target(minimax, h200):
    plans, rejections = search_layouts(minimax, h200, Target(total_context=3_000_000), limit=10)
    assert plans and all(p.total_kv_capacity_tokens >= 3_000_000 for p in plans)
    assert [p.gpus for p in plans] == sorted(p.gpus for p in plans)
    assert plans[0].gpus == 8  # four H200s fall short of 3M tokens at full context
    assert any(r.layout == Layout(tp=8) for r in rejections)  # TP8 without EP: FP8 block


def test_inverse_by_concurrency(h200):
    llama = load_model("llama-3.1-70b")
    plans, _ = search_layouts(llama, h200, Target(concurrency=64), PlanSettings(max_model_len=32768))
    assert all(p.max_concurrency * p.dp >= 64 for p in plans)


def test_inverse_needs_a_target(minimax, h200):
    with pytest.raises(InputError):
        search_layouts(minimax, h200, Target())

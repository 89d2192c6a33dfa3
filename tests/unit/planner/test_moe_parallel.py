"""How MoE layers are split, checked against vLLM's own rule (FusedMoEParallelConfig.make, called with
this process as rank 0 of every group), not against the planner's formula."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from planner import Layout, LayoutRejected, PlanSettings, load_model, plan_capacity, resolve_gpu
from planner.units import GIB
from planner.weights import moe_layer_bytes


@pytest.fixture(scope="module")
def vllm_moe_split(request):
    """(tp, dp, ep) -> (MoE tp size, EP size) as vLLM decides them."""
    from vllm.model_executor.layers.fused_moe import config

    patch = pytest.MonkeyPatch()
    rank0 = SimpleNamespace(rank_in_group=0)
    patch.setattr(config, "get_dp_group", lambda: rank0)
    patch.setattr(config, "get_pcp_group", lambda: rank0)
    patch.setattr(config, "get_tensor_model_parallel_rank", lambda: 0)
    request.addfinalizer(patch.undo)

    def split(tp: int, dp: int, ep: bool) -> tuple[int, int]:
        parallel = SimpleNamespace(enable_expert_parallel=ep, all2all_backend="naive", enable_eplb=False)
        moe = config.FusedMoEParallelConfig.make(tp, 1, dp, 1, parallel)
        return moe.tp_size, moe.ep_size

    return split


@pytest.mark.parametrize("tp", [1, 2, 4, 8])
@pytest.mark.parametrize("dp", [1, 2, 4])
@pytest.mark.parametrize("ep", [False, True])
def test_moe_split_is_vllms(vllm_moe_split, tp, dp, ep):
    layout = Layout(tp=tp, dp=dp, ep=ep)
    assert (layout.moe_tp, layout.ep_size) == vllm_moe_split(tp, dp, ep)


def test_qwen3_moe_at_dp4_holds_a_quarter_of_each_expert():
    """The issue's case: Qwen3-30B-A3B at DP4 without EP was planned with every expert whole per GPU."""
    model = load_model("qwen3-30b-a3b")
    dp1, dp4 = moe_layer_bytes(model, Layout()), moe_layer_bytes(model, Layout(dp=4))
    assert dp4 == dp1 // 4
    plan = plan_capacity(model, resolve_gpu("h100"), Layout(dp=4), PlanSettings(max_model_len=32768))
    assert plan.weights_bytes_per_gpu / GIB < 17  # not ~57
    assert any("tp x dp = 4" in note for note in plan.assumptions)


def test_minimax_tp4_dp2_without_ep_is_refused_like_vllm():
    """Experts split over 4 x 2 ranks: 1536 / 8 = 192 is not a multiple of the 128 FP8 block."""
    with pytest.raises(LayoutRejected, match=r"tp x dp = 4 x 2: experts gate/up output per shard = 192"):
        plan_capacity(load_model("minimax-m2"), resolve_gpu("h200"), Layout(tp=4, dp=2))
    plan_capacity(load_model("minimax-m2"), resolve_gpu("h200"), Layout(tp=4, dp=2, ep=True))


def test_experts_per_rank_follow_vllms_linear_placement():
    """vLLM's linear expert map: ranks get 3, 3, 2, 2 of 10 experts over EP4 (the first ranks take the
    remainder), 1 of 8 at EP8, 4 of 8 at EP2; without EP every rank holds a slice of all of them."""
    assert Layout(tp=4, ep=True).local_experts(10) == 3
    assert Layout(tp=8, ep=True).local_experts(8) == 1
    assert Layout(tp=2, ep=True).local_experts(8) == 4
    assert Layout(tp=2, dp=2, ep=True).local_experts(8) == 2  # EP spans TP x DP
    assert Layout(tp=4).local_experts(8) == 8


def test_a_moe_models_dp_engines_book_workspaces_for_every_engines_tokens():
    """Each MoE layer of a DP engine runs every engine's gathered tokens, and vLLM sizes the fused-MoE
    workspaces for all of them (modular_kernel: M_chunk = M_full) while every engine's profile run fills its
    token budget at once: more DP engines, more activation memory, for a MoE model only. Two
    H200s measured 4.36 GiB at TP1 DP2 (with and without EP) against 3.61 at TP1 and TP2
    (results/gpu_dp_blind, results/gpu_ep)."""
    h200, settings = resolve_gpu("h200"), PlanSettings(max_model_len=32768)
    minimax = load_model("minimax-m2")
    ep8, ep16 = (plan_capacity(minimax, h200, Layout(tp=8, dp=dp, ep=True), settings) for dp in (1, 2))
    assert ep16.activation_bytes_per_gpu > ep8.activation_bytes_per_gpu
    dense = load_model("qwen3-32b")
    one, two = (plan_capacity(dense, h200, Layout(tp=2, dp=dp), settings) for dp in (1, 2))
    assert one.activation_bytes_per_gpu == two.activation_bytes_per_gpu

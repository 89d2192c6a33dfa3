"""The seed's facts (MiniMax's vLLM guide and the real logs in shared/reference/minimax-m2.md)."""

from __future__ import annotations

import pytest

from planner import Layout, LayoutRejected, PlanSettings, plan_capacity, resolve_gpu, resolve_overhead
from planner.kv_cache import kv_bytes_per_token, kv_bytes_per_token_per_gpu
from planner.units import GIB
from planner.weights import weights_per_rank, weights_total

SEED_UTILIZATION = 0.9  # the seed's figures were produced with vLLM's older default


def test_weights_total_matches_checkpoint_size(minimax):
    assert 214e9 <= weights_total(minimax) <= 231e9


def test_kv_bytes_per_token_whole_model(minimax):
    assert kv_bytes_per_token(minimax) == 253_952
    assert kv_bytes_per_token(minimax) * 1_000_000 / GIB == pytest.approx(236.5, abs=0.05)


@pytest.mark.parametrize(
    ("tp", "bf16", "fp8"), [(1, 253_952, 126_976), (4, 63_488, 31_744), (8, 31_744, 15_872), (16, 31_744, 15_872)]
)
def test_kv_bytes_per_token_per_gpu_table(minimax, tp, bf16, fp8):
    assert kv_bytes_per_token_per_gpu(minimax, tp, minimax.num_layers) == bf16
    assert kv_bytes_per_token_per_gpu(minimax, tp, minimax.num_layers, "fp8") == fp8


def test_tp4_weights_per_gpu_match_real_log(minimax):
    # "Model loading took 53.75 GiB" on each of 4 GPUs in a real TP4 log.
    assert weights_per_rank(minimax, Layout(tp=4)).total / GIB == pytest.approx(53.75, rel=0.01)


def test_four_96gb_gpus_tp4_hold_400k_tokens(minimax):
    plan = plan_capacity(
        minimax,
        resolve_gpu("rtx-pro-6000"),
        Layout(tp=4),
        PlanSettings(gpu_memory_utilization=SEED_UTILIZATION, max_model_len=131_072),
    )
    assert plan.kv_capacity_tokens == pytest.approx(400_000, rel=0.05)
    assert plan.kv_capacity_tokens == pytest.approx(399_424, rel=0.005)  # the real log's figure


def test_eight_h200_tp8_ep_hold_3m_tokens(minimax):
    plan = plan_capacity(
        minimax, resolve_gpu("h200"), Layout(tp=8, ep=True), PlanSettings(gpu_memory_utilization=SEED_UTILIZATION)
    )
    assert plan.kv_capacity_tokens == pytest.approx(3_000_000, rel=0.05)
    assert plan.weights_bytes_per_gpu / GIB == pytest.approx(27.0, rel=0.01)


def test_h100_measured_point_reproduced_with_its_overheads(minimax):
    """vLLM 0.26.0 on an H100, 32 experts: 31.08 GiB weights, 4.92 GiB overhead -> 149,056 tokens."""
    small = minimax.model_copy(update={"moe": minimax.moe.model_copy(update={"num_experts": 32})})
    plan = plan_capacity(
        small,
        resolve_gpu("h100"),
        Layout(),
        PlanSettings(gpu_memory_utilization=0.9, max_model_len=131_072, overhead=resolve_overhead("h100-vllm-0.26.0")),
    )
    assert plan.weights_bytes_per_gpu / GIB == pytest.approx(31.08, rel=0.01)
    assert plan.kv_capacity_tokens == pytest.approx(149_056, rel=0.01)
    assert plan.max_concurrency == pytest.approx(1.14, abs=0.01)


def test_tp8_without_ep_is_rejected_for_the_fp8_block(minimax):
    with pytest.raises(LayoutRejected) as info:
        plan_capacity(minimax, resolve_gpu("h200"), Layout(tp=8))
    assert info.value.field == "--tp"
    assert "192" in info.value.problem and "128" in info.value.problem
    assert "--ep" in info.value.fix

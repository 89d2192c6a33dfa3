"""Multi-node layouts: TP inside a node, PP/DP across nodes, EP over all ranks, node boundary in the plan."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import Layout, LayoutRejected, PlanSettings, Target, load_model, plan_capacity, resolve_gpu, search_layouts
from planner.placement import place


@pytest.fixture(scope="module")
def h100():
    return resolve_gpu("h100")


def test_pp_across_two_nodes_puts_one_stage_on_each(minimax, h100):
    plan = plan_capacity(minimax, h100, Layout(tp=8, pp=2, ep=True))
    assert plan.nodes == 2
    node0, node1 = plan.placement.nodes
    assert [(r.dp_rank, r.stage, r.gpus) for r in node0.roles] == [(0, 0, (0, 7))]
    assert [(r.dp_rank, r.stage, r.gpus) for r in node1.roles] == [(0, 1, (0, 7))]
    assert node0.launch_flags == "--nnodes 2 --node-rank 0 --master-addr NODE0_IP"
    assert node1.launch_flags.endswith("--node-rank 1 --master-addr NODE0_IP --headless")
    assert plan.placement.crossings == ["PP hand-offs between nodes 0->1"]


def test_expert_parallel_over_dp_engines_on_two_nodes_crosses_the_boundary(minimax, h100):
    plan = plan_capacity(minimax, h100, Layout(tp=8, dp=2, ep=True))
    assert plan.ep_size == 16
    assert [a.roles[0].dp_rank for a in plan.placement.nodes] == [0, 1]
    assert any(c.startswith("EP16 all-to-all spans nodes [0, 1]") for c in plan.placement.crossings)
    assert not any(c.startswith("PP") for c in plan.placement.crossings)


def test_stages_pack_into_nodes_without_splitting_a_tp_group():
    placement = place(Layout(tp=4, pp=3), gpus_per_node=8)
    assert [[(r.stage, r.gpus) for r in a.roles] for a in placement.nodes] == [
        [(0, (0, 3)), (1, (4, 7))],
        [(2, (0, 3))],
    ]
    assert placement.nodes[1].gpus_used == 4
    assert placement.crossings == ["PP hand-offs between nodes 0->1"]


def test_one_node_has_no_crossings_and_no_multi_node_flags(minimax, h100):
    plan = plan_capacity(minimax, h100, Layout(tp=4, pp=2))
    assert len(plan.placement.nodes) == 1 and plan.placement.crossings == []
    assert plan.placement.nodes[0].launch_flags == ""


def test_tp_group_across_nodes_is_rejected_unless_nodes_are_larger(h100):
    llama = load_model("llama-3.1-70b")  # 64 heads, 8 KV heads: TP16 is valid for vLLM itself
    with pytest.raises(LayoutRejected) as info:
        plan_capacity(llama, h100, Layout(tp=16))
    assert info.value.field == "--tp" and "span nodes of 8 GPUs" in info.value.problem
    wide = plan_capacity(llama, h100, Layout(tp=16), PlanSettings(gpus_per_node=16))
    assert wide.nodes == 1 and wide.placement.nodes[0].gpus_used == 16
    with pytest.raises(LayoutRejected, match="span nodes of 6 GPUs"):
        plan_capacity(llama, h100, Layout(tp=4, pp=2), PlanSettings(gpus_per_node=6))


def test_inverse_search_beyond_one_node_keeps_tp_inside_nodes(h100):
    llama = load_model("llama-3.1-70b")
    plans, rejections = search_layouts(
        llama, h100, Target(total_context=4_000_000), PlanSettings(max_model_len=8192), max_gpus=64, limit=20
    )
    assert plans and all(p.tp <= 8 for p in plans)
    assert min(p.nodes for p in plans) >= 2  # 4M tokens of Llama-70B KV do not fit 8 H100s
    assert any("TP16 group would span nodes" in r.reason for r in rejections)
    for p in plans:
        assert sum(a.gpus_used for a in p.placement.nodes) == p.gpus


@settings(max_examples=200, deadline=None)
@given(
    tp=st.sampled_from([1, 2, 4, 8]),
    pp=st.integers(1, 5),
    dp=st.integers(1, 5),
    per_node=st.sampled_from([4, 8, 16]),
    ep=st.booleans(),
)
def test_every_engine_stage_lands_once_on_disjoint_gpus(tp, pp, dp, per_node, ep):
    if tp > per_node:
        return
    placement = place(Layout(tp=tp, pp=pp, dp=dp, ep=ep), per_node)
    pieces = [(r.dp_rank, r.stage) for a in placement.nodes for r in a.roles]
    assert sorted(pieces) == [(d, s) for d in range(dp) for s in range(pp)]
    for node in placement.nodes:
        used = sorted(g for r in node.roles for g in range(r.gpus[0], r.gpus[1] + 1))
        assert used == sorted(set(used)) and used[-1] < per_node  # no GPU twice, none past the node's end
    assert sum(a.gpus_used for a in placement.nodes) == tp * pp * dp
    assert all(a.gpus_used == per_node for a in placement.nodes[:-1])  # only the last node may be partial

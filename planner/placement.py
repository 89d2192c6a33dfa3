"""Where a layout's ranks land on nodes, and which of its collectives cross a node boundary.

vLLM numbers a DP engine's GPUs stage-major: global GPU g = dp_rank x (pp x tp) + stage x tp + tp_rank,
and fills node n with GPUs [n x gpus_per_node, (n + 1) x gpus_per_node). TP all-reduces run every
layer, so a TP group is kept inside one node; PP hand-offs (one activation per micro-batch) and DP
engines may cross nodes; EP's all-to-all spans every TP x DP rank of a stage, wherever they are.
"""

from __future__ import annotations

from math import ceil

from pydantic import BaseModel, ConfigDict

from planner.errors import LayoutRejected
from planner.layout import Layout


class NodeRole(BaseModel):
    """One (DP engine, PP stage) piece on a node: its TP ranks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dp_rank: int
    stage: int
    tp_ranks: tuple[int, int]  # first and last, inclusive
    gpus: tuple[int, int]  # GPU indices on the node, first and last, inclusive


class NodeAssignment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    node: int
    gpus_used: int
    roles: list[NodeRole]
    launch_flags: str  # what this node adds to the layout's flags under vLLM's multi-node mp launcher

    def describe(self) -> str:
        return "; ".join(
            f"DP{r.dp_rank} stage {r.stage} TP {r.tp_ranks[0]}-{r.tp_ranks[1]} on GPU {r.gpus[0]}-{r.gpus[1]}"
            for r in self.roles
        )


class Placement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    gpus_per_node: int
    nodes: list[NodeAssignment]
    crossings: list[str]  # collectives that travel between nodes


def check_tp_within_node(layout: Layout, gpus_per_node: int) -> None:
    """A TP group may not straddle nodes: every layer all-reduces across it."""
    if layout.tp > gpus_per_node or gpus_per_node % layout.tp:
        raise LayoutRejected(
            "--tp",
            f"a TP{layout.tp} group would span nodes of {gpus_per_node} GPUs (all-reduce "
            "every layer over the inter-node network)",
            f"keep --tp a divisor of {gpus_per_node} and put PP or DP across nodes, or raise "
            "--gpus-per-node if your nodes share one NVLink domain",
        )


def place(layout: Layout, gpus_per_node: int) -> Placement:
    check_tp_within_node(layout, gpus_per_node)
    per_engine = layout.tp * layout.pp
    count = ceil(layout.gpus / gpus_per_node)
    roles: list[list[NodeRole]] = [[] for _ in range(count)]
    for dp_rank in range(layout.dp):
        for stage in range(layout.pp):
            first = dp_rank * per_engine + stage * layout.tp  # TP groups never straddle: checked above
            node, local = divmod(first, gpus_per_node)
            roles[node].append(
                NodeRole(dp_rank=dp_rank, stage=stage, tp_ranks=(0, layout.tp - 1), gpus=(local, local + layout.tp - 1))
            )
    nodes = [
        NodeAssignment(
            node=n, gpus_used=sum(r.gpus[1] - r.gpus[0] + 1 for r in rs), roles=rs, launch_flags=_launch_flags(n, count)
        )
        for n, rs in enumerate(roles)
    ]
    return Placement(gpus_per_node=gpus_per_node, nodes=nodes, crossings=_crossings(layout, nodes))


def _launch_flags(node: int, count: int) -> str:
    """vLLM's own multi-node launcher (mp backend): one `vllm serve` per node, node 0 serves HTTP."""
    if count == 1:
        return ""
    flags = f"--nnodes {count} --node-rank {node} --master-addr NODE0_IP"
    return flags + (" --headless" if node else "")


def _node_of(nodes: list[NodeAssignment]) -> dict[tuple[int, int], int]:
    return {(r.dp_rank, r.stage): a.node for a in nodes for r in a.roles}


def _crossings(layout: Layout, nodes: list[NodeAssignment]) -> list[str]:
    if len(nodes) == 1:
        return []
    where = _node_of(nodes)
    found = []
    pp_hops = sorted(
        {
            (where[d, s], where[d, s + 1])
            for d in range(layout.dp)
            for s in range(layout.pp - 1)
            if where[d, s] != where[d, s + 1]
        }
    )
    if pp_hops:
        found.append("PP hand-offs between nodes " + ", ".join(f"{a}->{b}" for a, b in pp_hops))
    if layout.dp > 1:
        found.append(f"{layout.dp} DP engines over {len(nodes)} nodes (requests are routed, no per-layer traffic)")
    if layout.ep:
        spans = {s: {where[d, s] for d in range(layout.dp)} for s in range(layout.pp)}
        wide = [s for s, ns in spans.items() if len(ns) > 1]
        if wide:
            found.append(
                f"EP{layout.ep_size} all-to-all spans nodes {sorted(set().union(*spans.values()))} "
                f"(stages {wide}): every MoE layer crosses the inter-node network"
            )
    return found

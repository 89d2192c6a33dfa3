"""Rich tables for `bench plan`: the arithmetic, step by step, and the inverse search's answer."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from planner import Layout, Plan, Target
from planner.server_settings import ResolvedSettings
from planner.units import GIB


def _gib(n: int) -> str:
    return f"{n / GIB:,.2f} GiB"


def plan_console() -> Console:
    console = Console()
    if not console.is_terminal:  # piped output: don't squeeze tables into 80 columns
        console.width = 140
    return console


def print_forward(plan: Plan, console: Console | None = None) -> None:
    console = console or plan_console()
    binding = min(plan.stages, key=lambda s: s.num_blocks)
    table = Table(
        title=f"{plan.model} on {plan.gpus} x {plan.gpu} ({plan.gpu_memory_gib} GiB) - {plan.vllm_flags}",
        show_header=True,
        title_justify="left",
    )
    table.add_column("step")
    table.add_column("per GPU", justify="right")
    table.add_column("note")
    table.add_row("GPU memory (runtime total)", f"{plan.gpu_memory_gib:.2f} GiB", plan.gpu)
    table.add_row(f"x gpu_memory_utilization {plan.gpu_memory_utilization}", _gib(plan.requested_bytes_per_gpu), "")
    experts = f"; {plan.experts_per_gpu} experts per GPU (EP)" if plan.ep and plan.experts_per_gpu else ""
    table.add_row("- weights", _gib(binding.weights_bytes), f"whole model {_gib(plan.weights_bytes_total)}{experts}")
    batch, graphs = _overhead_notes(plan.server)
    table.add_row("- activation peak", _gib(binding.activation_bytes), batch)
    table.add_row("- non-torch", _gib(binding.non_torch_bytes), "NCCL, cuBLAS (measured at TP1)")
    table.add_row("- CUDA graphs", _gib(binding.cudagraph_bytes), graphs)
    table.add_row("= KV budget", _gib(binding.kv_budget_bytes), f"stage {binding.stage} binds" if plan.pp > 1 else "")
    table.add_row(
        f"/ KV per token ({plan.kv_cache_dtype})",
        f"{binding.kv_bytes_per_token:,} B",
        f"whole model {plan.kv_bytes_per_token:,} B/token",
    )
    table.add_row(f"= blocks of {plan.block_size}", f"{plan.num_blocks:,}", "floored to whole blocks")
    table.add_row(
        "KV capacity per engine",
        f"{plan.kv_capacity_tokens:,} tokens",
        f"x {plan.dp} engines = {plan.total_kv_capacity_tokens:,}" if plan.dp > 1 else "",
    )
    table.add_row(f"max concurrency @ {plan.max_model_len:,}", f"{plan.max_concurrency:.2f}x", "requests per engine")
    console.print(table)
    if plan.pp > 1:
        _print_stages(plan, console)
    if len(plan.placement.nodes) > 1:
        print_nodes(plan, console)
    for note in plan.assumptions:
        console.print(f"  - {note}", highlight=False)


def _overhead_notes(server: ResolvedSettings) -> tuple[str, str]:
    """The activation row's note (the sizes, the runner) and the CUDA-graph row's."""
    batch = f"max_num_batched_tokens {server.max_num_batched_tokens}, max_num_seqs {server.max_num_seqs}"
    graphs = f"{server.cudagraph_mode}, {len(server.capture_sizes)} capture sizes" if server.capture_sizes else "eager"
    if server.capture_sizes and not server.cudagraph_in_budget:
        graphs += ", not booked by vLLM"
    return f"{batch}; model runner {server.model_runner.upper()}", graphs


def _print_stages(plan: Plan, console: Console) -> None:
    table = Table(title="pipeline stages", title_justify="left")
    for column in ("stage", "layers", "weights", "KV budget", "KV B/token", "blocks"):
        table.add_column(column, justify="right")
    for s in plan.stages:
        table.add_row(
            str(s.stage),
            str(s.layers),
            _gib(s.weights_bytes),
            _gib(s.kv_budget_bytes),
            f"{s.kv_bytes_per_token:,}",
            f"{s.num_blocks:,}",
        )
    console.print(table)


def print_nodes(plan: Plan, console: Console) -> None:
    """The node boundary: what each node holds, what it adds to the launch, what crosses between nodes."""
    table = Table(title=f"nodes of {plan.placement.gpus_per_node} GPUs", title_justify="left")
    for column in ("node", "GPUs", "holds", "launch adds"):
        table.add_column(column)
    for node in plan.placement.nodes:
        table.add_row(str(node.node), str(node.gpus_used), node.describe(), node.launch_flags)
    console.print(table)
    for crossing in plan.placement.crossings:
        console.print(f"  - crosses nodes: {crossing}", highlight=False)


def print_inverse(plans: list[Plan], target: Target, console: Console | None = None) -> None:
    console = console or plan_console()
    wanted = [
        f"{target.total_context:,} tokens" if target.total_context else "",
        f"{target.concurrency} concurrent requests" if target.concurrency else "",
    ]
    first = plans[0]
    table = Table(
        title=f"{first.model} on {first.gpu}: smallest layouts for {' and '.join(w for w in wanted if w)} "
        f"(max_model_len {first.max_model_len:,})",
        title_justify="left",
    )
    for column in ("GPUs", "nodes", "layout", "weights/GPU", "KV tok/engine", "total KV tok", "concurrency"):
        table.add_column(column, justify="right")
    for p in plans:
        layout = Layout(tp=p.tp, pp=p.pp, dp=p.dp, ep=p.ep)
        table.add_row(
            str(p.gpus),
            str(p.nodes),
            layout.label(),
            _gib(p.weights_bytes_per_gpu),
            f"{p.kv_capacity_tokens:,}",
            f"{p.total_kv_capacity_tokens:,}",
            f"{p.max_concurrency * p.dp:.2f}x",
        )
    console.print(table)
    for note in first.assumptions[:2]:
        console.print(f"  - {note}", highlight=False)

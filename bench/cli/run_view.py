"""Terminal output for `bench run`: a progress bar per level while running, a summary table after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.scenario.schema import Level
from planner.step_cost import FIXED_ROUTING_NOTE
from runfolder.requests import RequestRecord
from runfolder.schema import CapacityComparison, DeploymentRecord, LevelSummary, RunRecord


class RunProgress:
    """ScenarioRun's events (bench/run/events.py) on the terminal: one bar per level, advanced by each
    measured request."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def deployment_started(self, name: str) -> None:
        self.progress.console.print(f"[bold]deployment {escape(name)}[/bold]: starting vLLM")

    def waiting(self, message: str) -> None:
        self.progress.console.print(escape(message), highlight=False)

    def level_started(self, deployment: str, level: Level, planned: int | None) -> None:
        self.task = self.progress.add_task(f"{deployment} / {level.label()}", total=planned, failed=0)

    def request_done(self, record: RequestRecord) -> None:
        if self.task is not None and not record.warmup:
            failed = self.progress.tasks[-1].fields["failed"] + (0 if record.ok else 1)
            self.progress.update(self.task, advance=1, failed=failed)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _n(value: float | None, spec: str = ",") -> str:
    """An optional figure: '-' when absent, never a formatting error."""
    return "-" if value is None else format(value, spec)


COLUMNS = (
    "deployment",
    "level",
    "ok/failed",
    "req/s",
    "out tok/s",
    "TTFT p50",
    "TPOT p50",
    "ITL p99",
    "E2EL p99",
    "goodput",
    "client",
)


def print_run(record: RunRecord, folder: str, console: Console | None = None) -> None:
    console = console or Console()
    if not console.is_terminal:  # piped: keep the table readable
        console.width = 160
    console.print(_levels_table(record))
    for d in record.deployments:
        for line in _notes(d):
            console.print(line, highlight=False)
    console.print(f"run folder: {folder}")


def _levels_table(record: RunRecord) -> Table:
    table = Table(title=f"{record.run_id}", title_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="right")
    for d in record.deployments:
        if d.status == "failed":
            table.add_row(d.name, "-", "server failed", *["-"] * (len(COLUMNS) - 3))
            continue
        for level in d.levels:
            m = level.metrics
            table.add_row(
                d.name,
                level.name + (" (partial)" if level.interrupted else ""),
                f"{_n(m.get('completed'))}/{_n(m.get('failed'))}",
                _n(m.get("request_throughput"), ".2f"),
                _n(m.get("output_throughput"), ",.0f"),
                _ms(m.get("median_ttft_ms")),
                _ms(m.get("median_tpot_ms")),
                _ms(m.get("p99_itl_ms")),
                _ms(m.get("p99_e2el_ms")),
                _n(m.get("request_goodput"), ".2f"),
                "LIMITED" if level.client.client_limited else "ok",
            )
    return table


def _notes(d: DeploymentRecord) -> list[str]:
    """Capacity check, cores, error and client warnings of one deployment, as rich markup (values escaped:
    errors quote commands such as pip install 'pkg[ray]', and rich would eat the [ray])."""
    notes = []
    if (c := d.capacity) is not None:
        notes.append(
            escape(
                f"{d.name}: KV capacity predicted {_n(c.predicted_tokens)} vs reported {_n(c.reported_tokens)} "
                f"tokens ({c.reported_source}), vLLM {d.vllm_version or '?'}"
            )
            + (f" - no prediction: {escape(c.prediction_error)}" if c.prediction_error else "")
        )
        ranks = (d.predicted or {}).get("gpus", 1)
        if ranks > 1:
            notes.append(escape(f"{d.name}: per rank of {ranks}: {_per_rank(c)}"))
        if c.predicted_model_runner and c.reported_model_runner and c.predicted_model_runner != c.reported_model_runner:
            notes.append(f"[yellow]{escape(_runner_mismatch(d.name, c))}[/yellow]")
    if (d.predicted or {}).get("moe_routing") == "fixed":
        notes.append(f"[yellow]{escape(FIXED_ROUTING.format(name=d.name))}[/yellow]")
    if untuned := d.startup.get("untuned_moe_config"):
        notes.append(escape(UNTUNED_MOE.format(name=d.name, shape=untuned)))
    if d.cpu_cores:
        ranks = f" (per rank: {' | '.join(map(str, d.cpu_cores.ranks))})" if len(d.cpu_cores.ranks) > 1 else ""
        notes.append(f"{escape(d.name)}: server on cores {d.cpu_cores.server}{ranks}, client on {d.cpu_cores.client}")
    if d.error:
        hint = f"\n  hint: {escape(d.hint)}" if d.hint else ""
        notes.append(f"[red]{escape(f'{d.name}: {d.error}')}[/red]{hint}")
    notes += [
        f"[yellow]{escape(f'{d.name}/{level.name}: {warning}')}[/yellow]"
        for level in d.levels
        for warning in level.self_checks()
    ]
    notes += [escape(f"{d.name}/{level.name}: {trace_rows(level.trace)}") for level in d.levels if level.trace]
    notes += [escape(f"{d.name}/{level.name}: {profiled(level)}") for level in d.levels if level.profile]
    return notes


def profiled(level: LevelSummary) -> str:
    """Where a profiled level's traces are, and that its timings carry the profiler's cost."""
    folder = str(Path(level.profile[0]).parent)
    return (f"profiled - {len(level.profile)} files from vLLM's torch profiler in {folder} (its timings carry the "
            "profiler's cost; bench report tables its engine steps)")  # fmt: skip


def trace_rows(trace: dict[str, Any]) -> str:
    """A trace level's rows: how many were sent, and each reason the rest were not."""
    skipped = "; ".join(f"{n} {reason}" for reason, n in trace["skipped"].items())
    return f"trace {trace['path']}: {trace['served']} of {trace['rows']} rows sent" + (
        f" (not sent: {skipped})" if skipped else ""
    )


# A MoE model on dummy weights whose router has a score-correction bias (planner.step_cost.fixed_routing)
FIXED_ROUTING = (
    "{name}: " + FIXED_ROUTING_NOTE + ": these speeds are not real weights' (the seed's TP4 on four H200s at c64: "
    "TPOT 13.3 ms so, results/gpu_perf_tp4; 23.6 ms with tokens spread, results/gpu_seed_uniform); fix: serve it "
    "without the bias, as scenarios/gpu_seed_uniform.yaml does (model config: use_routing_bias: false)"
)


# vLLM's fused-MoE kernel without a tuned tile file for the served shape (runfolder.server_log untuned_moe_config)
UNTUNED_MOE = (
    "{name}: vLLM has no tuned fused-MoE tiles for {shape} and ran its defaults; a file tuned for it (vLLM's "
    "benchmarks/kernels/benchmark_moe.py --tune, found through VLLM_TUNED_CONFIG_FOLDER) may run MoE steps faster"
)


def _runner_mismatch(name: str, c: CapacityComparison) -> str:
    """vLLM served with another model runner than the plan's rule for its release and model picked
    (planner/model_runner.py): the KV prediction holds the other runner's activation and CUDA-graph terms."""
    logged, planned = (str(r).upper() for r in (c.reported_model_runner, c.predicted_model_runner))
    return (
        f"{name}: vLLM logged its {logged} model runner where the plan assumed {planned}, so the KV prediction "
        f"holds {planned}'s activation and CUDA-graph terms; fix: pin it with VLLM_USE_V2_MODEL_RUNNER="
        f"{int(logged == 'V2')} in the deployment's env (the planner reads it)"
    )


def _per_rank(c: CapacityComparison) -> str:
    parts = [f"KV {_n(c.predicted_kv_bytes_per_token)} vs {_n(c.reported_kv_bytes_per_token)} bytes/token"]
    if c.predicted_experts is not None or c.reported_experts is not None:
        parts.append(f"experts {_n(c.predicted_experts)} vs {_n(c.reported_experts)}")
    return "; ".join(parts) + " (predicted vs reported)"

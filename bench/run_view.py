"""Terminal output for `bench run`: a progress bar per level while running, a summary table after."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.load_generator import RequestRecord
from reports.run_schema import RunRecord


class RunProgress:
    """Receives ScenarioRun events; one bar per level, advanced by each measured request."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), console=console)
        self.task = None

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def __call__(self, kind: str, payload: object) -> None:
        if kind == "deployment":
            self.progress.console.print(f"[bold]deployment {payload}[/bold]: starting vLLM")
        elif kind == "level":
            name, level, planned = payload
            self.task = self.progress.add_task(f"{name} / {level.label()}", total=planned, failed=0)
        elif kind == "record" and self.task is not None and isinstance(payload, RequestRecord) and not payload.warmup:
            failed = self.progress.tasks[-1].fields["failed"] + (0 if payload.ok else 1)
            self.progress.update(self.task, advance=1, failed=failed)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def print_run(record: RunRecord, folder: str, console: Console | None = None) -> None:
    console = console or Console()
    if not console.is_terminal:  # piped: keep the table readable
        console.width = 160
    table = Table(title=f"{record.run_id}", title_justify="left")
    for column in ("deployment", "level", "ok/failed", "req/s", "out tok/s", "TTFT p50", "TPOT p50", "ITL p99",
                   "E2EL p99", "goodput", "client"):
        table.add_column(column, justify="right")
    for d in record.deployments:
        if d.status == "failed":
            table.add_row(d.name, "-", "server failed", *["-"] * 8)
            continue
        for level in d.levels:
            m = level.metrics
            table.add_row(d.name, level.name + (" (partial)" if level.interrupted else ""),
                          f"{m['completed']}/{m['failed']}", f"{m['request_throughput']:.2f}",
                          f"{m['output_throughput']:,.0f}", _ms(m["median_ttft_ms"]), _ms(m["median_tpot_ms"]),
                          _ms(m["p99_itl_ms"]), _ms(m["p99_e2el_ms"]),
                          f"{m['request_goodput']:.2f}" if "request_goodput" in m else "-",
                          "LIMITED" if level.client.client_limited else "ok")
    console.print(table)
    for d in record.deployments:
        c = d.capacity
        if c is not None:
            console.print(f"{d.name}: KV capacity predicted {c.predicted_tokens or '-':,} vs reported "
                          f"{c.reported_tokens or '-':,} tokens ({c.reported_source}), vLLM {d.vllm_version}")
        if d.error:
            # errors quote commands such as pip install 'pkg[ray]': escaped, or rich eats the [ray]
            hint = f"\n  hint: {escape(d.hint)}" if d.hint else ""
            console.print(f"[red]{escape(f'{d.name}: {d.error}')}[/red]{hint}")
        for level in d.levels:
            for warning in level.client.warnings:
                console.print(f"[yellow]{escape(f'{d.name}/{level.name}: {warning}')}[/yellow]")
    console.print(f"run folder: {folder}")

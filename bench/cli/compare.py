"""`bench compare RUN_A RUN_B`: each metric's change with a 95% bootstrap interval (read only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bench.cli.errors import usage_error
from runfolder.versioned import RunFolderError

SERVED_DIFFERENTLY = "served differently - each change above is partly this setup's, not only a regression:"


def compare(
    run_a: Annotated[Path, typer.Argument(help="Baseline run folder.")],
    run_b: Annotated[Path, typer.Argument(help="Run folder to compare with it.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Changes from RUN_A to RUN_B per deployment, level and metric, with 95% bootstrap intervals."""
    from reports.compare import compare_runs
    from reports.run_data import open_runs
    from reports.served_setup import setup_changes

    try:
        a, b = open_runs([run_a, run_b])
    except RunFolderError as exc:
        raise usage_error(exc) from None
    deltas, changes = compare_runs(a, b), setup_changes(a, b)
    said = [SERVED_DIFFERENTLY, *(f"  {change}" for change in changes)] if changes else []
    if as_json:
        typer.echo(json.dumps([d.model_dump() for d in deltas], indent=2))
        typer.echo("\n".join(said), err=True, nl=bool(said))  # the JSON on stdout stays the list scripts read
        return
    table = Table(title=f"{a.record.run_id} -> {b.record.run_id}", title_justify="left")
    for column in ("deployment", "level", "metric", "A", "B", "change", "95% interval"):
        table.add_column(column, justify="right")
    for d in deltas:
        interval = f"[{d.ci_low:+.1%}, {d.ci_high:+.1%}]" if d.ci_low is not None else "-"
        table.add_row(
            d.deployment,
            d.level,
            d.metric,
            _num(d.a),
            _num(d.b),
            f"{d.change:+.1%}" if d.change is not None else "-",
            interval,
        )
    console = Console(width=160)
    console.print(table)
    for line in said:
        console.print(line, style="yellow", markup=False, highlight=False)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"

"""`bench report RUN_DIR...`: report.md and a self-contained report.html from run folders (read only).

reports' plotting and statistics stack (matplotlib, pandas, scipy) is imported inside each reading
command, so `bench run` starts without it (the GPU machine has no registry to install it from).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.errors import usage_error
from runfolder.atomic import write_atomic
from runfolder.versioned import RunFolderError


def report(
    run_dirs: Annotated[list[Path], typer.Argument(help="One or more run folders.")],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Output folder (default: the first run's).")] = None,
    attainment: Annotated[float, typer.Option(help="Share of requests within the SLO for a level to pass.")] = 0.99,
    target_rps: Annotated[float | None, typer.Option(help="Also answer: GPUs needed for this many req/s.")] = None,
) -> None:
    """Write report.md and a self-contained report.html for one or more run folders."""
    from reports.capacity_report import build_report
    from reports.run_data import open_runs

    try:
        runs = open_runs(run_dirs)
    except RunFolderError as exc:
        raise usage_error(exc) from None
    out = out or run_dirs[0]
    document = build_report(runs, attainment, target_rps)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "report.md", document.markdown(out / "report_files"))
    write_atomic(out / "report.html", document.html())
    typer.echo(f"{out / 'report.md'}\n{out / 'report.html'}")

"""`bench baseline save RUN_DIR... -o FILE`: a baseline for `bench gate` (read only, one file written)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bench.cli.errors import usage_error
from runfolder.atomic import write_atomic
from runfolder.versioned import RunFolderError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Baselines for `bench gate`.")


@app.command("save")
def baseline_save(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folder(s); several = repeated baseline runs.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Baseline file to write.")],
) -> None:
    """Store the runs' figures (and per-request latency samples) as a baseline for `bench gate`."""
    from reports.baseline import make_baseline
    from reports.run_data import open_runs

    try:
        base = make_baseline(open_runs(run_dirs))
    except RunFolderError as exc:
        raise usage_error(exc) from None
    write_atomic(out, json.dumps(base.model_dump(), indent=1) + "\n")
    typer.echo(f"{out}: scenario {base.scenario}, {len(base.runs)} run(s)")

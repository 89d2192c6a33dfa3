"""`bench baseline save RUN_DIR... -o FILE`: a baseline for `bench gate` (read only, one file written)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bench.cli.errors import usage_error
from runfolder.atomic import write_atomic
from runfolder.versioned import RunFolderError

SPREAD_METRICS = ("median_ttft_ms", "p99_ttft_ms", "median_tpot_ms", "p99_tpot_ms", "output_throughput")
app = typer.Typer(add_completion=False, no_args_is_help=True, help="Baselines for `bench gate`.")


@app.command("save")
def baseline_save(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folder(s); several = repeated baseline runs.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Baseline file to write.")],
) -> None:
    """Store the runs' figures (and per-request latency samples) as a baseline for `bench gate`."""
    from reports.baseline import make_baseline, run_to_run_spread
    from reports.run_data import open_runs

    try:
        base = make_baseline(open_runs(run_dirs))
    except RunFolderError as exc:
        raise usage_error(exc) from None
    write_atomic(out, json.dumps(base.model_dump(), indent=1) + "\n")
    typer.echo(f"{out}: scenario {base.scenario}, {len(base.runs)} run(s)")
    spread = run_to_run_spread(base, SPREAD_METRICS)
    if spread:  # what a rule's `N sigma` limit will multiply
        typer.echo(
            "run-to-run spread (sd / mean, worst level): " + ", ".join(f"{k} {v:.1%}" for k, v in spread.items())
        )
    else:
        typer.echo("one run: no run-to-run spread, so rules in sigmas cannot decide (bench run --repeat 3)")

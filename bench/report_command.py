"""`bench report`, `bench compare`, `bench gate`, `bench baseline save`: read run folders, never run anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from bench.run_folder import write_atomic
from reports.run_schema import RunFolderError

# reports' plotting and statistics stack (matplotlib, pandas, scipy) is imported inside each
# command, so `bench run` starts without it (the GPU machine has no registry to install it from).

baseline_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Baselines for `bench gate`.")


def _fail(message: object) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def report(
    run_dirs: Annotated[list[Path], typer.Argument(help="One or more run folders.")],
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Output folder (default: the first run's).")] = None,
    attainment: Annotated[float, typer.Option(help="Share of requests within the SLO for a level to pass.")] = 0.99,
    target_rps: Annotated[Optional[float], typer.Option(help="Also answer: GPUs needed for this many req/s.")] = None,
) -> None:
    """Write report.md and a self-contained report.html for one or more run folders."""
    from reports.capacity_report import build_report
    from reports.run_data import open_runs

    try:
        runs = open_runs(run_dirs)
    except RunFolderError as exc:
        raise _fail(exc) from None
    out = out or run_dirs[0]
    document = build_report(runs, attainment, target_rps)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "report.md", document.markdown(out / "report_files"))
    write_atomic(out / "report.html", document.html())
    typer.echo(f"{out / 'report.md'}\n{out / 'report.html'}")


def compare(
    run_a: Annotated[Path, typer.Argument(help="Baseline run folder.")],
    run_b: Annotated[Path, typer.Argument(help="Run folder to compare with it.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Changes from RUN_A to RUN_B per deployment, level and metric, with 95% bootstrap intervals."""
    from reports.compare import compare_runs
    from reports.run_data import open_runs

    try:
        a, b = open_runs([run_a, run_b])
    except RunFolderError as exc:
        raise _fail(exc) from None
    deltas = compare_runs(a, b)
    if as_json:
        typer.echo(json.dumps([d.model_dump() for d in deltas], indent=2))
        return
    table = Table(title=f"{a.record.run_id} -> {b.record.run_id}", title_justify="left")
    for column in ("deployment", "level", "metric", "A", "B", "change", "95% interval"):
        table.add_column(column, justify="right")
    for d in deltas:
        interval = f"[{d.ci_low:+.1%}, {d.ci_high:+.1%}]" if d.ci_low is not None else "-"
        table.add_row(d.deployment, d.level, d.metric, _num(d.a), _num(d.b),
                      f"{d.change:+.1%}" if d.change is not None else "-", interval)
    Console(width=160).print(table)


def gate(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folder(s) of the candidate; several = repeated runs.")],
    baseline: Annotated[Path, typer.Option(help="Baseline file (bench baseline save) or a run folder.")],
    rules: Annotated[Optional[Path], typer.Option(help="Rules YAML; default: p99 TTFT +10%, median TPOT +10%, "
                                                        "output throughput -5%, KV capacity unchanged.")] = None,
    junit: Annotated[Optional[Path], typer.Option(help="Also write JUnit XML here.")] = None,
) -> None:
    """Exit 0 pass (inconclusive included), 1 regression, 2 usage error; Markdown summary on stdout."""
    from reports.baseline import load_baseline, make_baseline
    from reports.gate import evaluate, exit_code
    from reports.gate_output import junit_xml, markdown_summary
    from reports.run_data import open_runs

    try:
        rule_set = _rules(rules)
        base = load_baseline(baseline)
        current = make_baseline(open_runs(run_dirs))
    except (RunFolderError, ValueError) as exc:
        raise _fail(exc) from None
    if current.scenario != base.scenario:
        raise _fail(f"baseline is for scenario '{base.scenario}', the run for '{current.scenario}'; "
                    "fix: gate against a baseline of the same scenario")
    findings = evaluate(rule_set, base, current)
    typer.echo(markdown_summary(findings, base, current))
    if junit:
        write_atomic(junit, junit_xml(findings))
    raise typer.Exit(exit_code(findings))


@baseline_app.command("save")
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
        raise _fail(exc) from None
    write_atomic(out, json.dumps(base.model_dump(), indent=1) + "\n")
    typer.echo(f"{out}: scenario {base.scenario}, {len(base.runs)} run(s)")


def _rules(path: Path | None):
    from reports.gate import DEFAULT_RULES, Rules

    if path is None:
        return DEFAULT_RULES
    try:
        return Rules.model_validate(yaml.safe_load(path.read_text()))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read rules ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not YAML ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ValueError(f"{path}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"

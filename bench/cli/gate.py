"""`bench gate RUN_DIR... --baseline B`: rules applied to a candidate against a baseline, for CI (read only)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from pydantic import ValidationError

from bench.cli.errors import usage_error
from runfolder.atomic import write_atomic
from runfolder.versioned import RunFolderError

if TYPE_CHECKING:
    from reports.gate import Rules


def gate(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folder(s) of the candidate; several = repeated runs.")],
    baseline: Annotated[Path, typer.Option(help="Baseline file (bench baseline save) or a run folder.")],
    rules: Annotated[
        Path | None,
        typer.Option(
            help="Rules YAML; default: p99 TTFT +10%, median TPOT +10%, output throughput -5%, KV capacity "
            "unchanged, planner within 2% of the server."
        ),
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Also write JUnit XML here.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail when the data cannot decide a rule.")] = False,
) -> None:
    """Exit 0 pass (inconclusive included unless --strict), 1 regression, 2 usage error; Markdown on stdout."""
    from reports.baseline import load_baseline, make_baseline
    from reports.gate import evaluate, exit_code
    from reports.gate_output import junit_xml, markdown_summary
    from reports.run_data import open_runs

    try:
        rule_set = _rules(rules)
        base = load_baseline(baseline)
        current = make_baseline(open_runs(run_dirs))
    except (RunFolderError, ValueError) as exc:
        raise usage_error(exc) from None
    if current.scenario != base.scenario:
        raise usage_error(
            f"baseline is for scenario '{base.scenario}', the run for '{current.scenario}'; "
            "fix: gate against a baseline of the same scenario"
        )
    findings = evaluate(rule_set, base, current)
    typer.echo(markdown_summary(findings, base, current, strict=strict))
    if junit:
        write_atomic(junit, junit_xml(findings, strict=strict))
    raise typer.Exit(exit_code(findings, strict))


def _rules(path: Path | None) -> Rules:
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

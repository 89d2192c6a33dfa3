"""`bench plan`: forward (layout -> capacity) and inverse (target -> layouts) planning."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from bench.cli.errors import usage_error
from bench.cli.plan_performance import performance as predict_performance
from bench.cli.plan_performance import print_performance
from bench.cli.plan_trace import plan_for_trace
from bench.cli.plan_view import plan_console, print_forward, print_inverse
from bench.server.cpu_host import cpu_kv_refusal, host_kv_defaults, this_host
from planner import (
    GpuSpec,
    InputError,
    ModelSpec,
    Plan,
    PlanError,
    PlanSettings,
    Target,
    catalog_names,
    layout_from_flags,
    load_calibration,
    load_model,
    plan_capacity,
    resolve_gpu,
    search_layouts,
)
from planner.server_flags import parse_server_flags
from planner.server_settings import ServerSettings
from planner.trace_plan import TraceSlo
from planner.units import GIB
from traces import TraceError


class ModelRunnerChoice(StrEnum):
    """vLLM's two GPU model runners (planner/model_runner.py), as --model-runner takes them."""

    v1 = "v1"
    v2 = "v2"


def plan(
    model: Annotated[
        str, typer.Argument(help=f"Catalog name ({', '.join(catalog_names())}) or a model directory / config.json.")
    ],
    gpu: Annotated[str, typer.Option(help="GPU name (h100, h200, ...) or a size such as 80GiB.")] = "h100",
    gpus: Annotated[int | None, typer.Option(help="Total GPUs; must equal tp x pp x dp.")] = None,
    tp: Annotated[int | None, typer.Option(help="Tensor-parallel size (default: gpus / (pp x dp)).")] = None,
    ep: Annotated[
        bool, typer.Option("--ep", help="Enable expert parallel (experts split whole over tp x dp).")
    ] = False,
    dp: Annotated[int, typer.Option(help="Data-parallel size.")] = 1,
    pp: Annotated[int, typer.Option(help="Pipeline-parallel size.")] = 1,
    kv_cache_dtype: Annotated[str, typer.Option(help="auto (model dtype) or fp8.")] = "auto",
    gpu_memory_utilization: Annotated[
        float | None, typer.Option(help="vLLM's fraction of each GPU (default: the release's, 0.92).")
    ] = None,
    max_model_len: Annotated[int | None, typer.Option(help="Default: the model's max_position_embeddings.")] = None,
    block_size: Annotated[int | None, typer.Option(help="KV block size (default 16 on GPU, 128 on CPU).")] = None,
    cpu_kvcache_space: Annotated[int | None, typer.Option(help="--gpu cpu: VLLM_CPU_KVCACHE_SPACE in GiB.")] = None,
    kv_cache_memory_bytes: Annotated[
        int | None, typer.Option(help="Fixed KV budget per rank (skips profiling).")
    ] = None,
    vllm_version: Annotated[str | None, typer.Option(help="The server's vLLM: its defaults and calibration.")] = None,
    enforce_eager: Annotated[bool, typer.Option("--enforce-eager", help="No CUDA graphs (vLLM's flag).")] = False,
    max_num_batched_tokens: Annotated[int | None, typer.Option(help="vLLM's flag (default: by GPU).")] = None,
    max_num_seqs: Annotated[int | None, typer.Option(help="vLLM's flag (default: by GPU).")] = None,
    cudagraph_mode: Annotated[str | None, typer.Option(help="FULL_AND_PIECEWISE (default), PIECEWISE, ...")] = None,
    compilation_config: Annotated[str | None, typer.Option(help="vLLM's --compilation-config JSON.")] = None,
    model_runner: Annotated[
        ModelRunnerChoice | None,
        typer.Option(help="VLLM_USE_V2_MODEL_RUNNER as v1 (0) or v2 (1); default: the release's choice for the model."),
    ] = None,
    calibration: Annotated[Path | None, typer.Option(help="A calibration file (bench calibrate).")] = None,
    overhead_gib: Annotated[float | None, typer.Option(help="Explicit overhead per GPU in GiB.")] = None,
    target_context: Annotated[int | None, typer.Option(help="Inverse: total KV tokens wanted.")] = None,
    target_concurrency: Annotated[int | None, typer.Option(help="Inverse: requests of max-model-len at once.")] = None,
    gpus_per_node: Annotated[int, typer.Option(help="GPUs per node: TP stays inside one, PP/DP/EP may cross.")] = 8,
    max_gpus: Annotated[int, typer.Option(help="Inverse: largest deployment to consider.")] = 64,
    limit: Annotated[int, typer.Option(help="Inverse: layouts to list.")] = 5,
    performance: Annotated[
        bool, typer.Option("--performance", help="Also predict TTFT, TPOT and throughput (calibrated).")
    ] = False,
    concurrency: Annotated[
        str | None, typer.Option(help="--performance: concurrencies, comma-separated (default 1,2,4,...,256).")
    ] = None,
    input_tokens: Annotated[int, typer.Option(help="--performance: prompt tokens per request.")] = 1024,
    output_tokens: Annotated[int, typer.Option(help="--performance: output tokens per request.")] = 256,
    request_rate: Annotated[float | None, typer.Option(help="--performance: also an open-loop level (req/s).")] = None,
    slo_ttft_ms: Annotated[float | None, typer.Option(help="--performance: SLO on median TTFT.")] = None,
    slo_tpot_ms: Annotated[float | None, typer.Option(help="--performance: SLO on mean TPOT.")] = None,
    load_format: Annotated[
        str, typer.Option(help="vLLM's --load-format (--performance, --trace): dummy weights route differently.")
    ] = "auto",
    trace: Annotated[Path | None, typer.Option(help="Plan for a traffic trace (mooncake, azure or jsonl).")] = None,
    trace_format: Annotated[str, typer.Option(help="--trace: mooncake | azure | jsonl.")] = "jsonl",
    speedup: Annotated[float, typer.Option(help="--trace: arrival gaps and think times divided by this.")] = 1.0,
    headroom: Annotated[float, typer.Option(help="--trace: the pool holds p99 live KV x (1 + this).")] = 0.2,
    assume_ttft_ms: Annotated[
        float | None, typer.Option(help="--trace: lifetimes from this TTFT, not predicted.")
    ] = None,
    assume_tpot_ms: Annotated[
        float | None, typer.Option(help="--trace: lifetimes from this TPOT, not predicted.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Predict vLLM's KV capacity for a layout, or find the smallest layouts for a target."""
    try:
        spec, gpu_spec = load_model(model), resolve_gpu(gpu)
        if cpu_kvcache_space is not None:
            kv_cache_memory_bytes = cpu_kvcache_space * GIB
        server = _server_flags(enforce_eager, max_num_batched_tokens, max_num_seqs, cudagraph_mode, compilation_config)
        server = server.model_copy(update={"vllm_version": vllm_version, "load_format": load_format,
                                           "model_runner": model_runner.value if model_runner else None})  # fmt: skip
        settings = _settings(spec, gpu_spec, server, flags={
            "kv_cache_dtype": kv_cache_dtype, "gpu_memory_utilization": gpu_memory_utilization,
            "max_model_len": max_model_len, "block_size": block_size, "kv_cache_memory_bytes": kv_cache_memory_bytes,
            "calibration": calibration, "overhead_gib": overhead_gib, "gpus_per_node": gpus_per_node})  # fmt: skip
        if trace is not None:
            slo = TraceSlo(ttft_ms=slo_ttft_ms, tpot_ms=slo_tpot_ms, headroom=headroom)
            options = {"trace": trace, "trace_format": trace_format, "speedup": speedup, "slo": slo,
                       "max_gpus": max_gpus, "assume_ttft_ms": assume_ttft_ms, "assume_tpot_ms": assume_tpot_ms,
                       "limit": limit, "as_json": as_json,
                       "layout": layout_from_flags(gpus, tp, pp, dp, ep=ep) if gpus or tp else None}  # fmt: skip
            plan_for_trace(spec, gpu_spec, settings, options=options)
            return
        if target_context is not None or target_concurrency is not None:
            _inverse(
                spec,
                gpu_spec,
                Target(total_context=target_context, concurrency=target_concurrency),
                settings,
                max_gpus=max_gpus,
                limit=limit,
                as_json=as_json,
            )
            return
        result = plan_capacity(spec, gpu_spec, layout := layout_from_flags(gpus, tp, pp, dp, ep=ep), settings)
        shape = {"concurrency": _int_list(concurrency), "input_tokens": input_tokens, "output_tokens": output_tokens,
                 "request_rate": request_rate, "slo_ttft_ms": slo_ttft_ms, "slo_tpot_ms": slo_tpot_ms}  # fmt: skip
        speed = predict_performance(spec, gpu_spec, layout, result, settings, shape=shape) if performance else None
    except (PlanError, TraceError) as exc:
        raise usage_error(exc) from None
    _emit(result, speed, as_json=as_json)


def _settings(spec: ModelSpec, gpu_spec: GpuSpec, server: ServerSettings, *, flags: dict[str, Any]) -> PlanSettings:
    """The plan's settings from the CLI's flags (`calibration` a path or None; `block_size` None: the host's)."""
    on_cpu = gpu_spec.name == "cpu"
    refusal = cpu_kv_refusal(flags["kv_cache_dtype"], spec.head_dim, this_host()) if on_cpu else None
    if refusal:
        raise InputError("--kv-cache-dtype", refusal, "--kv-cache-dtype auto")
    host_block, ssm_bytes = host_kv_defaults(spec, on_cpu=on_cpu)
    calibration = load_calibration(flags["calibration"]) if flags["calibration"] else None
    return PlanSettings(**(flags | {"block_size": flags["block_size"] or host_block, "calibration": calibration}),
                        server=server, ssm_state_bytes=ssm_bytes)  # fmt: skip


def _emit(result: Plan, speed: dict[str, Any] | None, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json") | ({"performance": speed} if speed else {}), indent=2))
        return
    print_forward(result)
    if speed:
        print_performance(speed, result, plan_console())


def _int_list(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(
            "--concurrency", f"'{text}' is not a comma-separated list of integers", "e.g. 1,8,64"
        ) from None
    if not values or min(values) < 1:
        raise InputError("--concurrency", f"'{text}': each concurrency must be >= 1", "e.g. 1,8,64")
    return values


def _inverse(
    spec: ModelSpec,
    gpu_spec: GpuSpec,
    target: Target,
    settings: PlanSettings,
    *,
    max_gpus: int,
    limit: int,
    as_json: bool,
) -> None:
    plans, rejections = search_layouts(spec, gpu_spec, target, settings, max_gpus=max_gpus, limit=limit)
    if not plans:
        reasons = sorted({r.reason for r in rejections})[:3]
        raise InputError(
            "--target-context" if target.total_context else "--target-concurrency",
            f"no layout of up to {max_gpus} {gpu_spec.name} GPUs reaches the target"
            + (f" (e.g. {'; '.join(reasons)})" if reasons else ""),
            "raise --max-gpus, use --kv-cache-dtype fp8, or lower the target",
        )
    if as_json:
        typer.echo(json.dumps([p.model_dump(mode="json") for p in plans], indent=2))
    else:
        print_inverse(plans, target)
    sys.stdout.flush()


def _server_flags(  # noqa: PLR0917 - the CLI's own flags, passed on as given
    enforce_eager: bool,
    max_num_batched_tokens: int | None,
    max_num_seqs: int | None,
    cudagraph_mode: str | None,
    compilation_config: str | None,
) -> ServerSettings:
    """The flags as vLLM's command line would carry them, read by the one parser of such lines."""
    if cudagraph_mode and (enforce_eager or compilation_config):
        raise InputError(
            "--cudagraph-mode", "given with --enforce-eager or --compilation-config", "give the CUDA-graph choice once"
        )
    args = ["--enforce-eager"] if enforce_eager else []
    args += ["--max-num-batched-tokens", str(max_num_batched_tokens)] if max_num_batched_tokens else []
    args += ["--max-num-seqs", str(max_num_seqs)] if max_num_seqs else []
    if cudagraph_mode:
        compilation_config = json.dumps({"cudagraph_mode": cudagraph_mode})
    args += ["--compilation-config", compilation_config] if compilation_config else []
    return parse_server_flags(args, field="--compilation-config" if compilation_config else "flags")

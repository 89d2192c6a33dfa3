"""The planner's prediction for a deployment, and its comparison with what the server reported."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from bench.observe.metrics import CacheConfigInfo
from bench.observe.nvml import Nvml
from bench.observe.server_report import ServerReport
from bench.run.environment import installed_vllm
from bench.scenario.deployment import DeploymentSpec
from bench.server.cpu_host import host_kv_defaults
from planner import (
    GpuSpec,
    Plan,
    PlanError,
    PlanSettings,
    load_calibration,
    load_model,
    plan_capacity,
    resolve_gpu,
)
from planner.gpus import match_gpu_name
from planner.units import GIB
from runfolder.schema import CapacityComparison
from runfolder.server_log import StartupFacts


def predict(spec: DeploymentSpec, model_dir: Path, vllm_version: str | None = None) -> Plan:
    """Raises PlanError when no prediction can be made (e.g. GPU type unknown). `vllm_version`
    (default: the installed release) picks the release's defaults and calibration."""
    model = load_model(str(model_dir))
    budget: int | None
    if spec.device == "cpu":
        gpu, budget = resolve_gpu("cpu"), spec.cpu_kvcache_space_gib * GIB
    else:
        gpu, budget = _gpu_type(spec), spec.kv_cache_memory_bytes
    version = vllm_version or (installed_vllm() or (None, None))[1]
    block, ssm_bytes = host_kv_defaults(model, on_cpu=spec.device == "cpu")
    settings = PlanSettings(
        kv_cache_dtype=spec.kv_cache_dtype,
        max_model_len=spec.max_model_len,
        block_size=spec.block_size or block,
        kv_cache_memory_bytes=budget,
        gpu_memory_utilization=spec.gpu_memory_utilization,
        server=spec.server_settings(version),
        calibration=load_calibration(Path(spec.calibration)) if spec.calibration else None,
        overhead_gib=spec.overhead_gib,
        ssm_state_bytes=ssm_bytes,
    )
    return plan_capacity(model, gpu, spec.layout, settings)


def predict_running(spec: DeploymentSpec, model_dir: Path, report: ServerReport) -> Plan:
    """A running server's prediction from what it reports of itself (utilization, KV dtype, block size and
    CPU KV budget from vllm:cache_config_info, max_model_len from /v1/models, its version); settings it
    does not report (batch sizes, CUDA graphs) are the release's defaults, and the plan says so."""
    cache, known = report.cache, {}
    if cache is not None:
        known = {
            "gpu_memory_utilization": cache.gpu_memory_utilization if spec.device == "gpu" else None,
            "kv_cache_dtype": cache.cache_dtype,
            "block_size": cache.block_size,
        }
        if spec.device == "cpu" and cache.kv_cache_memory_bytes:
            known["cpu_kvcache_space_gib"] = cache.kv_cache_memory_bytes // GIB
    known["max_model_len"] = report.max_model_len()
    known = {k: v for k, v in known.items() if v is not None}
    plan = predict(spec.model_copy(update=known), model_dir, report.version)
    note = (
        f"a running server: {', '.join(f'{k} {v}' for k, v in known.items()) or 'nothing'} read from it; "
        "max_num_batched_tokens, max_num_seqs and CUDA graphs are not reported: its release's defaults assumed"
    )
    return plan.model_copy(update={"assumptions": [note, *plan.assumptions]})


def _gpu_type(spec: DeploymentSpec) -> GpuSpec:
    """The deployment's GPU type, or the catalog entry matching the first GPU NVML sees."""
    if spec.gpu:
        return resolve_gpu(spec.gpu)
    devices = Nvml().devices()
    match = match_gpu_name(devices[0]["name"]) if devices else None
    if match is None:
        seen = devices[0]["name"] if devices else "no GPU"
        raise PlanError("deployment.gpu", f"GPU type unknown ({seen})", "name it (h100, h200, ...) in the deployment")
    return match


def compare(
    plan: Plan | None, prediction_error: str | None, cache: CacheConfigInfo | None, facts: StartupFacts
) -> CapacityComparison:
    """Reported capacity from /metrics when published there, else from the start-up log."""
    reported: int | None = None
    blocks: int | None = None
    block_size: int | None = None
    source: Literal["metrics", "log", "none"] = "none"
    if cache is not None and cache.kv_capacity_tokens is not None:
        reported, source, blocks, block_size = (
            cache.kv_capacity_tokens,
            "metrics",
            cache.num_gpu_blocks,
            cache.block_size,
        )
    elif facts.kv_cache_tokens is not None:
        reported, source = facts.kv_cache_tokens, "log"
    predicted = plan.kv_capacity_tokens if plan else None
    difference = reported - predicted if predicted is not None and reported is not None else None
    budget = cache.kv_cache_memory_bytes if cache is not None else None
    return CapacityComparison(
        predicted_kv_bytes_per_token=plan.kv_bytes_per_token_per_gpu if plan else None,
        reported_kv_bytes_per_token=budget // reported if budget and reported else None,
        predicted_experts=plan.experts_per_gpu if plan and plan.ep else None,
        reported_experts=facts.local_experts,
        predicted_model_runner=plan.server.model_runner if plan and facts.model_runner else None,
        reported_model_runner=facts.model_runner,
        predicted_tokens=predicted,
        reported_tokens=reported,
        predicted_blocks=plan.num_blocks if plan else None,
        reported_blocks=blocks,
        block_size=block_size or (plan.block_size if plan else None),
        reported_source=source,
        difference_tokens=difference,
        relative_error=difference / reported if difference is not None and reported else None,
        prediction_error=prediction_error,
    )

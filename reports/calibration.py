"""Calibrating the memory model on run folders, and judging it leave-one-out.

A point is one GPU deployment whose server.log holds vLLM's account of its budget. Its model is the
run folder's own copy (models/NAME/config.json); its layout and settings are the recorded spec. The
calibration is fitted on every point (planner/calibration.py); each point is also predicted by a
calibration fitted on all the others, so every figure in the report is out of sample.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner import (
    Calibration,
    GpuSpec,
    Layout,
    LayoutRejected,
    ModelSpec,
    PlanSettings,
    load_model,
    parse_server_flags,
    plan_capacity,
)
from planner.calibration import MeasuredPoint, fit
from planner.capacity import resolved_server
from planner.errors import InputError
from planner.gpus import match_gpu_name
from planner.model_runner import runner_from_env
from planner.overhead import cudagraph_units, logits_bytes, token_bytes
from planner.server_flags import flag_value
from planner.weights import weights_per_rank
from reports.run_data import RunData, layout_of
from runfolder.packed import stored_text
from runfolder.schema import DeploymentRecord
from runfolder.server_log import parse_startup


class Case(BaseModel):
    """A point with what is needed to plan it again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    point: MeasuredPoint
    model: ModelSpec
    gpu: GpuSpec
    layout: Layout
    settings: PlanSettings
    weights_gib: float | None


class Residual(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run: str
    deployment: str
    gpu: str
    changed: str  # the settings that make the point, in words
    reported: int  # vLLM's KV tokens, or its estimated maximum model length for a refusal
    predicted: int  # leave-one-out
    error: float  # (predicted - reported) / reported
    weights_error: float | None  # planner weights vs "Model loading took"
    refused_as_vllm: bool | None  # refusals only: the planner refuses too


def cases(runs: list[RunData]) -> list[Case]:
    found = [case for run in runs for d in run.record.deployments if (case := _case(run, d)) is not None]
    if not found:
        raise InputError(
            "run folders",
            "none holds a GPU deployment with vLLM's memory log lines",
            "give run folders of GPU runs (results/gpu_memory, results/gpu_single)",
        )
    return found


def _case(run: RunData, d: DeploymentRecord) -> Case | None:
    log = run.folder / d.log_file if d.log_file else None
    config = run.folder / "models" / d.name
    text = stored_text(log) if log else None
    if d.spec.get("device") != "gpu" or text is None or not (config / "config.json").exists():
        return None
    facts = parse_startup(text)
    gpus = run.record.environment.gpus
    gpu = match_gpu_name(gpus[0]["name"]) if gpus else None
    if gpu is None or (facts.kv_cache_tokens is None and facts.estimated_max_model_len is None):
        return None
    model, layout = load_model(str(config)), layout_of(d)
    settings = plan_settings(d)
    server = resolved_server(model, gpu, layout, settings)
    layers = weights_per_rank(model, layout).layers
    point = MeasuredPoint(
        run=run.record.run_id,
        deployment=d.name,
        gpu=gpu.name,
        vllm_version=d.vllm_version or facts.vllm_version,
        settings=server.model_dump(exclude={"defaulted", "capture_sizes"})
        | {"largest_capture": server.largest_capture},
        moe=model.moe is not None,
        model_runner=server.model_runner,
        token_bytes=token_bytes(model, layout),
        logits_bytes=logits_bytes(model),
        max_num_batched_tokens=server.max_num_batched_tokens,
        max_num_seqs=server.max_num_seqs,
        cudagraph_units=cudagraph_units(layers, server),
        activation_gib=facts.activation_peak_gib,
        non_torch_gib=facts.non_torch_gib,
        cudagraph_estimate_gib=facts.cudagraph_estimate_gib if server.capture_sizes else None,
        kv_tokens=facts.kv_cache_tokens,
        estimated_max_model_len=facts.estimated_max_model_len,
    )
    return Case(point=point, model=model, gpu=gpu, layout=layout, settings=settings, weights_gib=facts.weights_gib)


def plan_settings(d: DeploymentRecord) -> PlanSettings:
    spec = d.spec
    server = parse_server_flags(list(spec.get("extra_args") or []))
    return PlanSettings(
        kv_cache_dtype=spec.get("kv_cache_dtype") or "auto",
        gpu_memory_utilization=spec.get("gpu_memory_utilization"),
        max_model_len=spec.get("max_model_len"),
        block_size=spec.get("block_size") or 16,
        server=server.model_copy(
            update={
                "vllm_version": d.vllm_version,
                "load_format": _launched_load_format(d),
                "model_runner": runner_from_env(spec.get("env") or {}),
            }
        ),  # fmt: skip
    )


def _launched_load_format(d: DeploymentRecord) -> str | None:
    """--load-format as the server was launched (its argv), else as the spec gave it."""
    return flag_value(d.argv or [], "--load-format") or d.spec.get("load_format")


def calibrate(found: list[Case], name: str) -> Calibration:
    points = [c.point for c in found]
    coefficients, notes = fit(points)
    versions = sorted({p.vllm_version or "?" for p in points})
    if len(versions) > 1:
        raise InputError(
            "run folders", f"points of several vLLM releases ({', '.join(versions)})", "calibrate one release at a time"
        )
    return Calibration(name=name, vllm_version=versions[0], coefficients=coefficients, points=points, notes=notes)


def leave_one_out(found: list[Case], name: str) -> list[Residual]:
    residuals = []
    for index, case in enumerate(found):
        others = found[:index] + found[index + 1 :]
        residuals.append(_residual(case, calibrate(others, f"{name} without {case.point.deployment}")))
    return residuals


def _residual(case: Case, calibration: Calibration) -> Residual:
    point = case.point
    settings = case.settings.model_copy(update={"calibration": calibration})
    refused: bool | None = None
    if point.kv_tokens is not None:
        plan = plan_capacity(case.model, case.gpu, case.layout, settings)
        predicted, reported = plan.kv_capacity_tokens, point.kv_tokens
    else:  # vLLM refused: the planner's capacity in tokens is its estimate of the maximum model length
        try:
            plan_capacity(case.model, case.gpu, case.layout, settings)
            refused = False
        except LayoutRejected:
            refused = True
        plan = plan_capacity(case.model, case.gpu, case.layout, settings.model_copy(update={"max_model_len": 1}))
        predicted, reported = plan.max_request_tokens, point.estimated_max_model_len or 0
    weights = plan.weights_bytes_per_gpu / (1 << 30)
    return Residual(
        run=point.run,
        deployment=point.deployment,
        gpu=point.gpu,
        changed=_changed(point),
        reported=reported,
        predicted=predicted,
        error=(predicted - reported) / reported,
        weights_error=(weights - case.weights_gib) / case.weights_gib if case.weights_gib else None,
        refused_as_vllm=refused,
    )


def _changed(point: MeasuredPoint) -> str:
    s = point.settings
    graphs = "eager" if s.get("cudagraph_mode") == "NONE" else str(s.get("cudagraph_mode"))
    return f"u{s.get('gpu_memory_utilization')} mnbt {point.max_num_batched_tokens} mns {point.max_num_seqs} {graphs}"

"""Inverse planning: the smallest layouts that reach a target context or concurrency."""

from __future__ import annotations

from itertools import product

from pydantic import BaseModel, ConfigDict

from planner.capacity import Plan, PlanSettings, plan_capacity
from planner.errors import InputError, LayoutRejected
from planner.gpus import GpuSpec
from planner.layout import Layout
from planner.model_spec import ModelSpec

TP_CHOICES = (1, 2, 4, 8, 16)
PP_CHOICES = (1, 2, 4)
DP_CHOICES = (1, 2, 4, 8)


class Target(BaseModel):
    """total_context: tokens summed over DP engines; concurrency: requests of max_model_len at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    total_context: int | None = None
    concurrency: int | None = None


class Rejection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    layout: Layout
    field: str
    reason: str


def candidate_layouts(model: ModelSpec, max_gpus: int) -> list[Layout]:
    """Every TP x PP x DP (x EP for MoE models) combination within max_gpus."""
    eps = (False, True) if model.moe else (False,)
    layouts = [
        Layout(tp=tp, pp=pp, dp=dp, ep=ep) for tp, pp, dp, ep in product(TP_CHOICES, PP_CHOICES, DP_CHOICES, eps)
    ]
    return [layout for layout in layouts if layout.gpus <= max_gpus]


def meets(plan: Plan, target: Target) -> bool:
    if target.total_context is not None and plan.total_kv_capacity_tokens < target.total_context:
        return False
    return target.concurrency is None or plan.max_concurrency * plan.dp >= target.concurrency


def search_layouts(
    model: ModelSpec,
    gpu: GpuSpec,
    target: Target,
    settings: PlanSettings | None = None,
    *,
    max_gpus: int = 64,
    limit: int = 5,
) -> tuple[list[Plan], list[Rejection]]:
    """Valid plans meeting the target, fewest GPUs first, then most capacity; and why others failed."""
    if target.total_context is None and target.concurrency is None:
        raise InputError(
            "--target-context", "no target given", "give --target-context TOKENS or --target-concurrency N"
        )
    for name, value in (("--target-context", target.total_context), ("--target-concurrency", target.concurrency)):
        if value is not None and value < 1:
            raise InputError(name, f"{value} is not positive", f"give {name} as a positive integer")
    plans, rejections = [], []
    for layout in candidate_layouts(model, max_gpus):
        try:
            plan = plan_capacity(model, gpu, layout, settings)
        except LayoutRejected as exc:
            rejections.append(Rejection(layout=layout, field=exc.field, reason=exc.problem))
            continue
        if meets(plan, target):
            plans.append(plan)
    plans.sort(key=lambda p: (p.gpus, -p.total_kv_capacity_tokens, p.pp, p.dp, p.ep))
    return plans[:limit], rejections

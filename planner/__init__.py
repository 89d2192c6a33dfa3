"""Memory model for vLLM deployments: pure arithmetic, no I/O beyond reading a config file."""

from planner.capacity import Plan, PlanSettings, plan_capacity
from planner.errors import InputError, LayoutRejected, PlanError
from planner.gpus import GPU_CATALOG, GpuSpec, resolve_gpu
from planner.layout import Layout, check_layout, layout_from_flags
from planner.model_spec import ModelSpec, catalog_names, load_model, model_from_config
from planner.overhead import PROFILES, OverheadProfile, resolve_overhead
from planner.search import Target, search_layouts

__all__ = [
    "GPU_CATALOG",
    "PROFILES",
    "GpuSpec",
    "InputError",
    "Layout",
    "LayoutRejected",
    "ModelSpec",
    "OverheadProfile",
    "Plan",
    "PlanError",
    "PlanSettings",
    "Target",
    "catalog_names",
    "check_layout",
    "layout_from_flags",
    "load_model",
    "model_from_config",
    "plan_capacity",
    "resolve_gpu",
    "resolve_overhead",
    "search_layouts",
]

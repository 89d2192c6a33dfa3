"""Memory model for vLLM deployments: pure arithmetic, no I/O beyond reading a config file."""

from planner.calibration import Calibration, load_calibration, shipped_calibration
from planner.capacity import Plan, PlanSettings, plan_capacity
from planner.errors import InputError, LayoutRejected, PlanError
from planner.gpus import GPU_CATALOG, GpuSpec, resolve_gpu
from planner.layout import Layout, check_layout, layout_from_flags
from planner.model_spec import ModelSpec, catalog_names, load_model, model_from_config
from planner.search import Target, search_layouts
from planner.server_flags import parse_server_flags
from planner.server_settings import ServerSettings, default_block_size

__all__ = [
    "GPU_CATALOG",
    "GpuSpec",
    "InputError",
    "Layout",
    "LayoutRejected",
    "ModelSpec",
    "Calibration",
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
    "ServerSettings",
    "default_block_size",
    "load_calibration",
    "parse_server_flags",
    "shipped_calibration",
    "search_layouts",
]

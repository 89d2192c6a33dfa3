"""`bench run --dry-run`: what a scenario would start, and what the planner expects of it; nothing launched."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from bench.run.capacity_check import predict
from bench.run.deployment import profile_folder
from bench.run.model_source import materialize_model
from bench.scenario.deployment import DeploymentSpec
from bench.scenario.schema import Scenario
from bench.server.argv import env_overrides, retarget_argv, server_argv
from planner import PlanError


class DryRunDeployment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    command: str  # shell-quoted; MODEL_DIR and PORT stand for what the run fills in
    where: str  # this machine, an endpoint, or the Ray cluster (and vLLM executor) that will run it
    env: dict[str, str]
    predicted: dict[str, Any] | None
    prediction_error: str | None
    levels: list[str]


def dry_run(scenario: Scenario) -> list[DryRunDeployment]:
    out = []
    profile = bool(scenario.profiled_levels())
    with tempfile.TemporaryDirectory() as tmp:
        for spec in scenario.deployments:
            model_dir = materialize_model(spec, Path(tmp))
            profile_dir = profile_folder(Path("RUN_DIR"), spec.name) if profile else None
            argv = server_argv(spec, Path("MODEL_DIR"), 0, profile_dir)
            # as launched: a Ray deployment listens on all interfaces of the node Ray picks
            fill = {"port": "PORT" if spec.port is None else spec.port} | ({"host": "0.0.0.0"} if spec.ray else {})
            argv = retarget_argv(argv, argv[0], **fill)
            try:
                plan, error = predict(spec, model_dir).model_dump(mode="json"), None
            except PlanError as exc:
                plan, error = None, str(exc)
            out.append(
                DryRunDeployment(
                    name=spec.name,
                    command=shlex.join(argv),
                    where=_where(spec),
                    env=env_overrides(spec),
                    predicted=plan,
                    prediction_error=error,
                    levels=[level.label() for level in scenario.load.all_levels()],
                )
            )
    return out


def _where(spec: DeploymentSpec) -> str:
    if spec.endpoint:
        return f"running server at {spec.endpoint}"
    if spec.ray:
        placed = f", on a node with {spec.ray.resources}" if spec.ray.resources else ""
        return f"Ray cluster {spec.ray.address}{placed}; vLLM executor {spec.ray_executor}"
    return "this machine"

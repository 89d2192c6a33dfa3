"""One deployment's lifecycle in a run: prepared (model on disk, server object, the planner's
prediction, the record so far), started (the server's own report beside the prediction) or failed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.observe.server_report import ServerReport, read_server_report
from bench.run.capacity_check import compare, predict, predict_running
from bench.run.model_source import materialize_model
from bench.scenario.deployment import DeploymentSpec, SynthModel
from bench.server.argv import core_split, env_overrides, server_argv, server_env
from bench.server.launch.local import LocalLauncher
from bench.server.launch.protocol import ServerStartError
from bench.server.launch.ray_cluster import RayLauncher
from bench.server.secrets import redacted
from bench.server.vllm_server import VllmServer, free_port, port_in_use
from planner import InputError, Plan, PlanError
from runfolder.schema import PROFILE_FOLDER, DeploymentRecord
from runfolder.server_log import parse_startup

NO_MODEL = "external endpoint: pass the served model's folder (model) to predict"


@dataclass
class Deployment:
    """A deployment between preparation and teardown. `record` is what the run folder holds of it so
    far; `plan` the planner's prediction, or `plan_error` saying why there is none."""

    spec: DeploymentSpec
    server: VllmServer
    record: DeploymentRecord
    plan: Plan | None
    plan_error: str | None
    profile_dir: Path | None = None  # where vLLM's profiler writes, if it was started with one

    @classmethod
    def prepare(cls, spec: DeploymentSpec, run_dir: Path, workers: int = 1, *, profile: bool = False) -> Deployment:
        """Nothing is started: a bad model folder or a taken port fails here. `profile`: a level will be
        profiled, so the server starts with vLLM's profiler configured (bench/server/profiler.py)."""
        model_dir = None if spec.model_unknown else materialize_model(spec, run_dir)
        profile_dir = profile_folder(run_dir.resolve(), spec.name) if profile else None
        server = build_server(spec, model_dir, run_dir, workers, profile_dir=profile_dir)
        plan, plan_error = None, NO_MODEL if model_dir is None else None
        try:
            plan = predict(spec, model_dir) if model_dir else None
        except PlanError as exc:
            plan_error = str(exc)
        record = DeploymentRecord(
            name=spec.name,
            status="failed",
            spec=recorded_spec(spec),
            model_dir=str(model_dir) if model_dir else None,
            argv=server.argv,
            env_set=env_overrides(spec, server.cores) if not server.external else {},
            base_url=server.base_url,
            cpu_cores=server.cores.as_record() if server.cores else None,
            predicted=plan.model_dump(mode="json") if plan else None,
            log_file=str(server.log_path.relative_to(run_dir)) if server.log_path else None,
        )
        return cls(spec, server, record, plan, plan_error, profile_dir)

    def started(self, report: ServerReport) -> DeploymentRecord:
        """The server is ready: what it reported of itself, beside the prediction (for a running server,
        made now from the settings it reports)."""
        facts = parse_startup(self.server.log_text())
        cache, version = report.cache, report.version
        if self.server.external and self.record.model_dir:
            self._predict_running(report)
        self.record = self.record.model_copy(
            update={
                "status": "ok",
                **self._where_it_ran(),
                "vllm_version": version or facts.vllm_version,
                "ready_after_s": self.server.ready_after_s,
                "ready_via": self.server.ready_via,
                "startup": facts.model_dump(),
                "cache_config": cache.model_dump() if cache else None,
                "capacity": compare(self.plan, self.plan_error, cache, facts),
            }
        )
        return self.record

    def _predict_running(self, report: ServerReport) -> None:
        try:
            self.plan, self.plan_error = predict_running(self.spec, Path(str(self.record.model_dir)), report), None
        except PlanError as exc:
            self.plan, self.plan_error = None, str(exc)
        self.record = self.record.model_copy(
            update={"predicted": self.plan.model_dump(mode="json") if self.plan else None}
        )

    def failed(self, exc: ServerStartError) -> DeploymentRecord:
        """What the server printed before it failed still counts (e.g. its expert placement)."""
        facts = parse_startup(self.server.log_text())
        self.record = self.record.model_copy(
            update={
                "error": exc.reason,
                "hint": exc.hint,
                **self._where_it_ran(),
                "startup": facts.model_dump(),
                "vllm_version": facts.vllm_version,
                "capacity": compare(self.plan, self.plan_error, None, facts),
            }
        )
        return self.record

    def _where_it_ran(self) -> dict[str, Any]:
        """A launcher may pick the node, port and paths only at launch (Ray): record what it picked."""
        return {"argv": self.server.argv, "base_url": self.server.base_url, "ray_node": self.server.launcher.node}


async def probe_deployment(spec: DeploymentSpec, run_dir: Path) -> DeploymentRecord:
    """Start, read the server's own report, compare with the planner, tear down."""
    deployment = Deployment.prepare(spec, run_dir)
    try:
        async with deployment.server:
            report = await read_server_report(deployment.server.base_url)
    except ServerStartError as exc:
        return deployment.failed(exc)
    return deployment.started(report)


def build_server(
    spec: DeploymentSpec, model_dir: Path | None, run_dir: Path, workers: int = 1, *, profile_dir: Path | None = None
) -> VllmServer:
    """Checks that need nothing launched come first: a taken port fails here, before vLLM starts.
    A CPU server launched here gets cores of its own, apart from the client's `workers` processes."""
    if spec.endpoint:
        return VllmServer(spec.endpoint, startup_timeout_s=spec.startup_timeout_s)
    if model_dir is None:  # only a running server (endpoint) may come without its model folder
        raise InputError(f"deployments[{spec.name}].model", "a launched server needs its model", "give model")
    log_path = run_dir / "deployments" / spec.name / "server.log"
    if spec.ray:  # the node Ray picks chooses the port; host and model path are rewritten for it at launch
        launcher = RayLauncher(spec, spec.ray, model_dir, ship_model=isinstance(spec.model, SynthModel))
        return VllmServer(
            f"ray://{spec.ray.address}",
            argv=server_argv(spec, model_dir, spec.port or 0),
            env=server_env(spec, {}),
            log_path=log_path,
            startup_timeout_s=spec.startup_timeout_s,
            launcher=launcher,
        )
    port = spec.port or free_port(spec.host)
    if port_in_use(spec.host, port):
        raise InputError(
            f"deployments[{spec.name}].port",
            f"{spec.host}:{port} is already in use",
            "choose another port, leave port unset for a free one, or stop the other server",
        )
    cores = core_split(spec, workers)
    return VllmServer(
        f"http://{spec.host}:{port}",
        argv=server_argv(spec, model_dir, port, profile_dir),
        env=server_env(spec, cores=cores),
        log_path=log_path,
        startup_timeout_s=spec.startup_timeout_s,
        launcher=LocalLauncher(cores.server if cores else None),
        cores=cores,
    )


def profile_folder(run_dir: Path, deployment: str) -> Path:
    """Where vLLM's profiler writes for a deployment (vLLM wants it absolute: so is `run_dir` when launching)."""
    return run_dir / "deployments" / deployment / PROFILE_FOLDER


def recorded_spec(spec: DeploymentSpec) -> dict[str, Any]:
    """The deployment as the run folder keeps it: its env values masked where they look secret."""
    data = spec.model_dump(mode="json")
    return data | {"env": redacted(data["env"])}

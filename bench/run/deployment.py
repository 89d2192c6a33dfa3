"""Start a deployment, read the server's own capacity report, compare with the planner, tear down."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bench.run.capacity_check import compare, predict
from bench.scenario.deployment import DeploymentSpec, SynthModel
from bench.server.launch.ray_cluster import RayLauncher
from bench.server.secrets import auth_headers, redacted
from bench.server.argv import core_split, env_overrides, server_argv, server_env
from bench.server.startup_log import parse_startup
from bench.observe.metrics import fetch_text, parse_cache_config
from bench.server.cpu_host import cpu_kv_refusal, this_host
from bench.server.synth_model import synth_config, write_synthetic_model
from bench.server.launch.protocol import ServerStartError
from bench.server.launch.local import LocalLauncher
from bench.server.vllm_server import VllmServer, free_port, port_in_use
from planner import InputError, Plan, PlanError, load_model, model_from_config
from runfolder.schema import DeploymentRecord


def materialize_model(spec: DeploymentSpec, run_dir: Path) -> Path:
    """A synthetic model is written into the run folder; a path must hold a config.json."""
    if isinstance(spec.model, SynthModel):
        return write_synthetic_model(run_dir / "models" / spec.name, spec.model.like, spec.model.sizes,
                                     spec.model.full, spec.model.config)
    folder = Path(spec.model).expanduser()
    if not (folder / "config.json").is_file():
        raise InputError(f"deployments[{spec.name}].model", f"model folder {folder} has no config.json",
                         "point at a local model directory, or use a synthetic model ({like: minimax-m2})")
    return folder.resolve()


def host_refusal(spec: DeploymentSpec) -> tuple[str, str, str] | None:
    """(field, problem, value that fixes it) when this host's vLLM CPU build would refuse the deployment
    at start-up; checked before anything starts (reads a config at most: nothing written or launched)."""
    if spec.device != "cpu" or spec.endpoint or spec.ray:  # another machine's CPU decides
        return None
    if isinstance(spec.model, SynthModel):
        config = synth_config(spec.model.like, spec.model.sizes, spec.model.full, spec.model.config)
        model = model_from_config(config, name=spec.model.like, source="synthetic")
    elif (Path(spec.model).expanduser() / "config.json").is_file():
        model = load_model(str(Path(spec.model).expanduser()))
    else:
        return None  # materialize_model reports the missing folder
    refusal = cpu_kv_refusal(spec.kv_cache_dtype, model.head_dim, this_host())
    return ("kv_cache_dtype", refusal, "auto") if refusal else None


def build_server(spec: DeploymentSpec, model_dir: Path | None, run_dir: Path, workers: int = 1) -> VllmServer:
    """Checks that need nothing launched come first: a taken port fails here, before vLLM starts.
    A CPU server launched here gets cores of its own, apart from the client's `workers` processes."""
    if spec.endpoint:
        return VllmServer(None, None, None, spec.endpoint, spec.startup_timeout_s)
    log_path = run_dir / "deployments" / spec.name / "server.log"
    if spec.ray:  # the node Ray picks chooses the port; host and model path are rewritten for it at launch
        launcher = RayLauncher(spec, model_dir, ship_model=isinstance(spec.model, SynthModel))
        return VllmServer(server_argv(spec, model_dir, spec.port or 0), server_env(spec, {}), log_path,
                          f"ray://{spec.ray.address}", spec.startup_timeout_s, launcher)
    port = spec.port or free_port(spec.host)
    if port_in_use(spec.host, port):
        raise InputError(f"deployments[{spec.name}].port", f"{spec.host}:{port} is already in use",
                         "choose another port, leave port unset for a free one, or stop the other server")
    cores = core_split(spec, workers)
    server = VllmServer(server_argv(spec, model_dir, port), server_env(spec, cores=cores), log_path,
                        f"http://{spec.host}:{port}", spec.startup_timeout_s,
                        LocalLauncher(cores.server if cores else None))
    server.cores = cores
    return server


def prepare(spec: DeploymentSpec, run_dir: Path,
            workers: int = 1) -> tuple[VllmServer, DeploymentRecord, Plan | None, str | None]:
    """Model on disk, server object (not started), the planner's prediction, and the record so far."""
    external_unknown = spec.endpoint and isinstance(spec.model, SynthModel)
    model_dir = None if external_unknown else materialize_model(spec, run_dir)
    server = build_server(spec, model_dir, run_dir, workers)
    plan, plan_error = None, "external endpoint: pass the served model's folder (model) to predict" if external_unknown else None
    try:
        plan = predict(spec, model_dir) if model_dir else None
    except PlanError as exc:
        plan_error = str(exc)
    record = DeploymentRecord(
        name=spec.name, status="failed", spec=recorded_spec(spec), model_dir=str(model_dir) if model_dir else None,
        argv=server.argv, env_set=env_overrides(spec, server.cores) if not server.external else {},
        base_url=server.base_url, cpu_cores=server.cores.as_record() if server.cores else None,
        predicted=plan.model_dump(mode="json") if plan else None,
        log_file=str(server.log_path.relative_to(run_dir)) if server.log_path else None)
    return server, record, plan, plan_error


def recorded_spec(spec: DeploymentSpec) -> dict:
    """The deployment as the run folder keeps it: its env values masked where they look secret."""
    data = spec.model_dump(mode="json")
    return data | {"env": redacted(data["env"])}


def started_record(record: DeploymentRecord, server: VllmServer, cache, version, plan, plan_error) -> DeploymentRecord:
    facts = parse_startup(server.log_text())
    return record.model_copy(update={
        "status": "ok", **where_it_ran(server), "vllm_version": version or facts.vllm_version,
        "ready_after_s": server.ready_after_s, "ready_via": server.ready_via,
        "startup": facts.model_dump(), "cache_config": cache.model_dump() if cache else None,
        "capacity": compare(plan, plan_error, cache, facts)})


def where_it_ran(server: VllmServer) -> dict:
    """A launcher may pick the node, port and paths only at launch (Ray): record what it picked."""
    return {"argv": server.argv, "base_url": server.base_url, "ray_node": server.launcher.node}


def failed_record(record: DeploymentRecord, server: VllmServer, exc: ServerStartError) -> DeploymentRecord:
    return record.model_copy(update={"error": exc.reason, "hint": exc.hint, **where_it_ran(server),
                                     "startup": parse_startup(server.log_text()).model_dump()})


async def probe_deployment(spec: DeploymentSpec, run_dir: Path) -> DeploymentRecord:
    server, record, plan, plan_error = prepare(spec, run_dir)
    try:
        async with server:
            cache, version = await read_server_report(server.base_url)
    except ServerStartError as exc:
        return failed_record(record, server, exc)
    return started_record(record, server, cache, version, plan, plan_error)


async def read_server_report(base_url: str):
    """(cache_config_info from /metrics, version from /version); either may be None on older servers."""
    async with aiohttp.ClientSession() as session:
        cache = parse_cache_config(await fetch_text(session, f"{base_url}/metrics"))
        try:
            version = (await _json(session, f"{base_url}/version")).get("version")
        except (aiohttp.ClientError, ValueError):
            version = None
    return cache, version


async def served_model_ids(base_url: str) -> list[str]:
    """Model names a running server answers to (/v1/models), for endpoints whose name wasn't given."""
    async with aiohttp.ClientSession() as session:
        try:
            listing = await _json(session, f"{base_url}/v1/models", auth_headers())
        except (aiohttp.ClientError, ValueError):
            return []
    return [m["id"] for m in listing.get("data", []) if isinstance(m, dict) and "id" in m]


async def _json(session: aiohttp.ClientSession, url: str, headers: dict | None = None) -> dict:
    async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as response:
        response.raise_for_status()
        return await response.json()

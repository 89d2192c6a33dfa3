"""Deployments on an existing Ray cluster: a head and a worker node started with `ray start` on this
machine, real CPU vLLM placed by Ray on the worker node (mp executor: vLLM's CPU platform refuses Ray
workers), torn down with nothing left on the node."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bench.run.deployment import build_server
from bench.run.model_source import materialize_model
from bench.scenario.deployment import DeploymentSpec, RayTarget, SynthModel
from runfolder.schema import load_run
from tests.live.fast_start import EAGER
from tests.live.process_sessions import session_members

pytest.importorskip("ray")
pytestmark = pytest.mark.server
RAY = str(Path(sys.executable).with_name("ray"))


def _ray(*args: str) -> None:
    subprocess.run([RAY, *args], check=True, capture_output=True, timeout=120)


def _cluster_query(address: str, code: str):
    """Ask the cluster from a separate driver, as an operator would (keeps this process off Ray)."""
    script = f"import json, ray\nray.init(address={address!r}, logging_level='ERROR')\nprint(json.dumps({code}))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def ray_cluster():
    port = 6391
    _ray("stop", "--force")
    _ray(
        "start",
        "--head",
        f"--port={port}",
        "--num-cpus=1",
        '--resources={"head": 1}',
        "--disable-usage-stats",
        "--include-dashboard=false",
    )
    address = f"127.0.0.1:{port}"
    try:
        _ray("start", f"--address={address}", "--num-cpus=1", '--resources={"vllm_node": 1}')
        nodes = _cluster_query(address, "[(n['NodeID'], n['Resources']) for n in ray.nodes() if n['Alive']]")
        worker = next(node_id for node_id, resources in nodes if "vllm_node" in resources)
        yield address, worker
    finally:
        _ray("stop", "--force")


def _vllm_processes(marker: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "vllm.entrypoints" in text and marker in text:
            found.append(int(cmdline.parent.name))
    return found


def _scenario(tmp_path: Path, address: str, resources: dict) -> Path:
    path = tmp_path / "ray.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "ray",
                "seed": 1,
                "deployments": [
                    {
                        "name": "on-ray",
                        "model": {"like": "minimax-m2"},
                        "max_model_len": 2048,
                        "startup_timeout_s": 300,
                        "extra_args": EAGER,
                        "ray": {"address": address, "resources": resources},
                    }
                ],
                "workload": {"kind": "random", "api": "completions", "input_tokens": 64, "output_tokens": 8},
                "load": {"warmup_requests": 0, "requests": 6, "levels": [{"concurrency": 2}]},
            }
        )
    )
    return path


def _bench_run(scenario: Path, out: Path, exit_code: int = 0) -> tuple[Path, object]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", str(scenario), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == exit_code, done.stdout + done.stderr
    folder = next(out.glob("*/run.json")).parent
    return folder, load_run(folder)


def test_scenario_runs_on_the_ray_worker_node_and_leaves_nothing(ray_cluster, tmp_path):
    address, worker = ray_cluster
    folder, run = _bench_run(_scenario(tmp_path, address, {"vllm_node": 1}), tmp_path / "runs")
    deployment = run.deployments[0]
    assert deployment.status == "ok", deployment.error
    assert deployment.ray_node["node_id"] == worker  # Ray placed it, on the node holding the resource
    assert deployment.base_url.endswith(f":{deployment.argv[deployment.argv.index('--port') + 1]}")
    assert deployment.argv[deployment.argv.index("--model") + 1].startswith(deployment.ray_node["workdir"])
    assert "--distributed-executor-backend" not in deployment.argv  # CPU: vLLM's mp executor on that node
    levels = [(level.requests_sent, level.metrics["completed"], level.errors) for level in deployment.levels]
    assert levels == [(6, 6, {})]
    # the node's log came home: the server's own KV report, equal to the planner's
    assert deployment.startup["kv_cache_tokens"] == deployment.capacity.predicted_tokens == 524_288
    assert "Starting vLLM server on http://0.0.0.0" in (folder / deployment.log_file).read_text()
    assert not Path(deployment.ray_node["workdir"]).exists()
    assert _vllm_processes(deployment.ray_node["workdir"]) == []
    assert (
        _cluster_query(
            address,
            f"[a['name'] for a in __import__('ray').util.list_named_actors(True) "
            f"if a['name'] == {deployment.ray_node['actor']!r}]",
        )
        == []
    )


def test_server_dies_with_its_actor(ray_cluster, tmp_path):
    """If the harness's actor is killed (driver crash, node drain), its vLLM goes with it."""
    address, _ = ray_cluster
    spec = DeploymentSpec(
        name="orphan-check",
        model=SynthModel(like="minimax-m2"),
        max_model_len=2048,
        startup_timeout_s=300,
        extra_args=EAGER,
        ray=RayTarget(address=address, resources={"vllm_node": 1}),
    )
    server = build_server(spec, materialize_model(spec, tmp_path), tmp_path)

    async def scenario() -> tuple[int, list[int]]:
        await server.start()
        sid = server.process.pid  # same machine here, so the node's processes are visible
        assert session_members(sid)
        import ray

        ray.kill(server.launcher.actor)
        code = await asyncio.wait_for(server.process.wait(), 30)
        deadline = time.monotonic() + 30
        while session_members(sid) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        survivors = session_members(sid)
        await server.stop()
        return code, survivors

    code, survivors = asyncio.run(scenario())
    assert code == -1 and survivors == []
    assert "Ray actor lost" in server.log_text()


def test_cluster_without_the_resources_fails_before_placing_anything(ray_cluster, tmp_path):
    address, _ = ray_cluster
    folder, run = _bench_run(_scenario(tmp_path, address, {"gpu_node": 2}), tmp_path / "runs", exit_code=1)
    deployment = run.deployments[0]
    assert deployment.status == "failed"
    assert deployment.error == f"Ray cluster at {address} is too small (gpu_node: needs 2, cluster has 0)"
    assert deployment.hint.startswith("add nodes")
    assert deployment.ray_node is None and not (folder / deployment.log_file).exists()


def test_unreachable_cluster_fails_in_seconds_with_the_address(tmp_path):
    from bench.server.vllm_server import free_port

    address = f"127.0.0.1:{free_port()}"  # nobody listens: ray.init alone would wait minutes
    started = time.monotonic()
    folder, run = _bench_run(_scenario(tmp_path, address, {}), tmp_path / "runs", exit_code=1)
    deployment = run.deployments[0]
    assert deployment.error.startswith(f"cannot reach the Ray cluster at {address}: ")
    assert "ray start --head" in deployment.hint
    assert time.monotonic() - started < 60

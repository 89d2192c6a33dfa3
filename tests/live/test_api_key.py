"""An API key reaches the real vLLM server (which then enforces it) and the client, and is written
nowhere: not in run.json, requests, telemetry, nor the server's log."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest
import yaml

from bench.run.deployment import Deployment, build_server
from bench.run.model_source import materialize_model
from bench.run.scenario_run import ScenarioRun
from bench.scenario.deployment import DeploymentSpec, SynthModel
from bench.scenario.loader import load_scenario
from runfolder.schema import load_run
from tests.live.fast_start import EAGER

pytestmark = pytest.mark.server


async def status(url: str, key: str | None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status


def test_api_key_is_used_and_never_written(tmp_path, monkeypatch):
    key = f"sk-bench-{uuid.uuid4().hex}"
    monkeypatch.setenv("BENCH_API_KEY", key)
    spec = DeploymentSpec(
        name="locked",
        model=SynthModel(),
        max_model_len=4096,
        env={"OTHER_TOKEN": key},
        extra_args=EAGER,
        startup_timeout_s=300,
    )
    server_dir, run_dir = tmp_path / "server", tmp_path / "run"
    run_dir.mkdir()
    model_dir = materialize_model(spec, server_dir)
    server = build_server(spec, model_dir, server_dir)
    assert key not in " ".join(server.argv)  # the key travels in the environment, not on the command line

    async def scenario_against(base_url: str):
        async with server:
            assert await status(f"{base_url}/v1/models", None) == 401  # the server enforces the key
            assert await status(f"{base_url}/v1/models", key) == 200
            path = tmp_path / "s.yaml"
            path.write_text(
                yaml.safe_dump(
                    {
                        "name": "locked",
                        "deployments": [{"name": "locked", "model": str(model_dir), "endpoint": base_url}],
                        "workload": {"input_tokens": 32, "output_tokens": 8},
                        "load": {"warmup_requests": 1, "requests": 6, "levels": [{"concurrency": 2}]},
                    }
                )
            )
            return await ScenarioRun(load_scenario(path), run_dir).run()

    record = asyncio.run(scenario_against(server.base_url))
    assert record.deployments[0].levels[0].metrics["completed"] == 6  # the client sent the key
    launched = Deployment.prepare(spec, tmp_path / "recorded").record  # what a launched deployment would record
    assert launched.env_set["VLLM_API_KEY"] == "***" and launched.spec["env"]["OTHER_TOKEN"] == "***"
    written = [p for p in list(run_dir.rglob("*")) + list(server_dir.rglob("*")) if p.is_file()]
    assert any(p.name == "server.log" for p in written) and any(p.name == "requests.jsonl" for p in written)
    assert [p for p in written if key.encode() in p.read_bytes()] == []
    assert load_run(run_dir).deployments[0].status == "ok"

"""`bench run` as a person reads it (no --json), with a launched CPU server, a server that fails to
start, and an OpenAI-compatible endpoint without /health or any prediction, in one run (real CPU vLLM;
the endpoint is the FAKE server, which has no vLLM routes, as such servers have)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from bench.cli import app
from bench.server.synth_model import write_synthetic_model
from runfolder.schema import SCHEMA_VERSION, load_run
from tests.live.fast_start import EAGER
from tests.paths import REPO
from tools.fake_openai import FakeOpenAI

pytestmark = pytest.mark.server


def test_every_deployment_kind_prints_a_summary_and_the_cpu_server_has_its_own_cores(tmp_path):
    model = write_synthetic_model(tmp_path / "served", "minimax-m2")
    with FakeOpenAI(health=False) as fake:
        path = tmp_path / "kinds.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "name": "kinds",
                    "deployments": [
                        {
                            "name": "launched",
                            "model": {"like": "minimax-m2"},
                            "max_model_len": 4096,
                            "startup_timeout_s": 300,
                            "extra_args": EAGER,
                        },
                        {
                            "name": "dies",
                            "model": {"like": "minimax-m2"},
                            "max_model_len": 99_999,
                            "startup_timeout_s": 300,
                        },
                        {
                            "name": "openai",
                            "model": str(model),
                            "device": "gpu",
                            "endpoint": fake.base_url,
                            "served_model_name": "ok",
                            "startup_timeout_s": 20,
                        },
                    ],
                    "workload": {"input_tokens": 32, "output_tokens": 8},
                    "load": {"warmup_requests": 1, "requests": 4, "levels": [{"concurrency": 2}]},
                },
                sort_keys=False,
            )
        )
        done = subprocess.run(
            [sys.executable, "-m", "bench.cli", "run", str(path), "--out", str(tmp_path / "runs")],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "COLUMNS": "200"},
        )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out  # one deployment failed, the others ran
    assert "Traceback" not in out and "run folder:" in out
    assert "server failed" in out and "max_position_embeddings" in out  # the failed start and its hint
    assert "openai: KV capacity predicted - vs reported - tokens (none)" in out
    assert "no prediction: deployment.gpu: GPU type unknown" in out
    run = load_run(next((tmp_path / "runs").iterdir()))
    launched, dies, openai = run.deployments
    assert [d.status for d in run.deployments] == ["ok", "failed", "ok"]
    assert openai.ready_via == "/v1/models" and openai.levels[0].metrics["completed"] == 4
    assert launched.levels[0].metrics["completed"] == 4 and launched.ready_via == "/health"
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) >= 2:  # the server's cores and the client's are disjoint, and vLLM binds to the server's
        assert launched.cpu_cores is not None
        assert (launched.cpu_cores.server, launched.cpu_cores.client) == (allowed[:-1], allowed[-1:])
        assert launched.env_set["VLLM_CPU_OMP_THREADS_BIND"] == ",".join(map(str, allowed[:-1]))
        assert f"launched: server on cores {allowed[:-1]}, client on {allowed[-1:]}" in out
    assert run.environment.cpu_isa in {"AMX", "AVX-512", "AVX2"} and run.environment.cpu_flags
    speed = run.environment.host_speed  # measured before the servers started
    assert speed is not None and 0 < speed.best_ns <= speed.median_ns
    written = json.loads((next((tmp_path / "runs").iterdir()) / "run.json").read_text())
    assert written["schema_version"] == SCHEMA_VERSION


def test_probe_of_a_running_server(cpu_server, tmp_path):
    out = _ok("probe", "--endpoint", cpu_server.base_url, "--model", str(cpu_server.model_dir), "--out", str(tmp_path))
    assert "KV capacity: planner vs vLLM 0.32.0" in out and "524,288" in out and "run folder:" in out
    out = _ok("probe", "--endpoint", cpu_server.base_url, "--out", str(tmp_path))  # no model: no prediction
    assert "no prediction: external endpoint" in out


def _ok(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return result.output

"""`bench run` against the real CPU vLLM server: token-exact prompts, vLLM-named metrics, a run folder."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bench.cli import app
from runfolder.schema import load_run
from tests.live.process_sessions import start_bench_run

pytestmark = pytest.mark.server


def scenario_file(tmp_path: Path, cpu_server, workload: dict, levels: list[dict], requests: int = 6) -> Path:
    scenario = {
        "name": "it",
        "seed": 5,
        "deployments": [
            {"name": "live", "model": str(cpu_server.model_dir), "endpoint": cpu_server.base_url, "max_model_len": 4096}
        ],
        "workload": workload,
        "load": {"requests": requests, "warmup_requests": 2, "levels": levels},
        "slo": {"ttft_ms": 5000, "tpot_ms": 500},
        "telemetry": {"interval_s": 0.2},
    }
    path = tmp_path / "it.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


def requests_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "deployments/live/requests.jsonl").read_text().splitlines()]


def test_bench_run_completions_levels(cpu_server, tmp_path):
    path = scenario_file(
        tmp_path,
        cpu_server,
        {"input_tokens": 128, "output_tokens": 16},
        [{"concurrency": 2}, {"rate": 5, "arrival": "gamma", "burstiness": 0.5}],
    )
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0, result.output
    run_dir = next((tmp_path / "runs").iterdir())
    run = load_run(run_dir)
    deployment = run.deployments[0]
    assert run.complete and deployment.status == "ok" and deployment.argv is None  # external: nothing launched
    assert deployment.capacity.predicted_tokens == deployment.capacity.reported_tokens
    assert [level.name for level in deployment.levels] == ["c2", "r5"]
    for level in deployment.levels:
        assert (level.metrics["completed"], level.metrics["failed"]) == (6, 0)
        for key in (
            "median_ttft_ms",
            "p99_tpot_ms",
            "mean_itl_ms",
            "p99_e2el_ms",
            "output_throughput",
            "request_goodput",
            "total_token_throughput",
        ):
            assert level.metrics[key] > 0, key
        assert level.metrics["total_output_tokens"] == 6 * 16
        # vLLM's own view of the same level: its TTFT histogram saw the 6 measured requests (not the
        # warm-ups), and no token reached the client before the server had made it
        assert level.server["server_ttft_count"] == 6
        assert 0 < level.server["server_mean_ttft_ms"] <= level.metrics["mean_ttft_ms"]
    rows = requests_of(run_dir)
    assert len(rows) == 2 * (6 + 2) and sum(r["warmup"] for r in rows) == 4
    assert all(r["prompt_tokens"] == r["expected_input_tokens"] == 128 for r in rows)  # token-exact
    assert all(r["completion_tokens"] == 16 for r in rows)  # ignore_eos
    assert all(r["scheduled_s"] is not None for r in rows if r["level"] == "r5" and not r["warmup"])
    telemetry = [json.loads(line) for line in (run_dir / "deployments/live/telemetry.jsonl").read_text().splitlines()]
    assert telemetry and "kv_cache_usage" in telemetry[-1] and "running" in telemetry[-1]


def test_chat_prompts_are_token_exact_up_to_the_template(cpu_server, tmp_path):
    path = scenario_file(
        tmp_path, cpu_server, {"api": "chat", "input_tokens": 200, "output_tokens": 8}, [{"concurrency": 3}]
    )
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0, result.output
    rows = requests_of(next((tmp_path / "runs").iterdir()))
    overheads = {r["prompt_tokens"] - r["expected_input_tokens"] for r in rows}
    assert len(overheads) == 1 and 0 < overheads.pop() < 20  # the chat template's fixed tokens


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_mid_level_keeps_what_was_measured(cpu_server, tmp_path, signum):
    path = scenario_file(
        tmp_path, cpu_server, {"input_tokens": 64, "output_tokens": 64}, [{"concurrency": 1}], requests=500
    )
    bench = start_bench_run(path, tmp_path / "runs")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        files = list((tmp_path / "runs").glob("*/deployments/live/requests.jsonl"))
        if files and len(files[0].read_text().splitlines()) >= 5:
            break
        time.sleep(0.2)
    bench.send_signal(signum)
    _, stderr = bench.communicate(timeout=60)
    assert bench.returncode == 130 and "partial results kept" in stderr and "Traceback" not in stderr
    run_dir = next((tmp_path / "runs").iterdir())
    run = load_run(run_dir)
    deployment = run.deployments[0]
    assert not run.complete and deployment.status == "incomplete"
    level = deployment.levels[0]
    assert level.interrupted and level.metrics["completed"] >= 3
    assert len(requests_of(run_dir)) >= level.metrics["completed"]

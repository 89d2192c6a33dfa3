"""Start-up faults: one clear error, the server log kept, no process left behind."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.run.deployment import build_server, probe_deployment
from bench.run.model_source import materialize_model
from bench.scenario.deployment import DeploymentSpec, SynthModel
from bench.server.launch.protocol import ServerStartError
from planner import InputError
from tests.live.process_sessions import children_of, session_members
from tests.paths import REPO


def tiny(**changes) -> DeploymentSpec:
    fields = {"name": "fault", "model": SynthModel(), "max_model_len": 4096, "startup_timeout_s": 300}
    return DeploymentSpec(**(fields | changes))


def start_and_fail(spec: DeploymentSpec, run_dir: Path) -> tuple[ServerStartError, int, Path]:
    server = build_server(spec, materialize_model(spec, run_dir), run_dir)
    with pytest.raises(ServerStartError) as info:
        asyncio.run(server.start())
    return info.value, server.process.pid, server.log_path


def test_port_in_use_fails_before_launch(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(InputError) as info:
            asyncio.run(probe_deployment(tiny(port=port), tmp_path))
    assert "port" in info.value.field and str(port) in info.value.problem
    assert not (tmp_path / "deployments").exists()  # nothing was started


def test_missing_model_folder(tmp_path):
    with pytest.raises(InputError) as info:
        asyncio.run(probe_deployment(tiny(model=str(tmp_path / "absent")), tmp_path))
    assert "model" in info.value.field and "config.json" in info.value.problem


@pytest.mark.server
def test_server_dying_during_startup_is_reported_with_its_log(tmp_path):
    error, leader, log_path = start_and_fail(tiny(max_model_len=99_999), tmp_path)
    assert "exited with code" in error.reason and "max_position_embeddings" in error.hint
    assert "greater than the derived max_model_len" in log_path.read_text()
    assert session_members(leader) == []


@pytest.mark.server
def test_health_timeout_tears_the_server_down(tmp_path):
    error, leader, log_path = start_and_fail(tiny(startup_timeout_s=4), tmp_path)
    assert "not ready after 4 s" in error.reason
    assert log_path.exists()  # kept, even if vLLM had printed nothing yet (it is still importing torch)
    assert session_members(leader) == []


@pytest.mark.server
def test_ctrl_c_during_startup_stops_the_server_and_keeps_the_run(tmp_path):
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "probe", "--out", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    leader = _wait_for_server_child(bench.pid, tmp_path)
    bench.send_signal(signal.SIGINT)
    _, stderr = bench.communicate(timeout=60)
    assert bench.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    run_dir = next(tmp_path.iterdir())
    run = json.loads((run_dir / "run.json").read_text())
    assert run["deployments"][0]["status"] == "incomplete"
    assert (run_dir / "deployments" / "probe" / "server.log").stat().st_size > 0
    assert session_members(leader) == []


def _wait_for_server_child(pid: int, tmp_path: Path) -> int:
    """The vLLM leader: bench's child that leads its own session, once its log has started."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        logs = list(tmp_path.glob("*/deployments/probe/server.log"))
        leaders = [c for c in children_of(pid) if session_members(c)]
        if leaders and logs and logs[0].stat().st_size > 0:
            return leaders[0]
        time.sleep(0.2)
    raise AssertionError("bench probe never started vLLM")

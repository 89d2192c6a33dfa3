"""A server killed mid-run: that deployment stops, marked incomplete with the reason and every record
kept; the next deployment still runs; nothing of the dead server survives (real CPU vLLM)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

from bench.run.scenario_run import ScenarioRun
from bench.scenario.loader import load_scenario
from runfolder.schema import load_run
from tests.live.fast_start import EAGER
from tests.live.process_sessions import session_members

pytestmark = pytest.mark.server


def api_server_pid(marker: str) -> int | None:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "vllm.entrypoints.openai.api_server" in cmdline and marker in cmdline:
            return int(pid)
    return None


def kill_after_records(run_root: Path, count: int, killed: dict) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        files = list(run_root.glob("*/deployments/doomed/requests.jsonl"))
        if files and len(files[0].read_text().splitlines()) >= count:
            pid = api_server_pid(str(run_root))
            if pid:
                killed["pid"] = pid
                os.kill(pid, signal.SIGKILL)
                return
        time.sleep(0.1)


def test_server_killed_mid_level(cpu_server, tmp_path):
    scenario = {
        "name": "killed",
        "deployments": [
            {
                "name": "doomed",
                "model": {"like": "minimax-m2"},
                "max_model_len": 4096,
                "startup_timeout_s": 300,
                "extra_args": EAGER,
            },
            {"name": "survivor", "model": str(cpu_server.model_dir), "endpoint": cpu_server.base_url},
        ],
        "workload": {"input_tokens": 64, "output_tokens": 64},
        "load": {
            "warmup_requests": 0,
            "levels": [{"concurrency": 1, "duration_s": 8}, {"concurrency": 2, "duration_s": 3}],
        },
    }
    path = tmp_path / "killed.yaml"
    path.write_text(yaml.safe_dump(scenario))
    run_root = tmp_path / "runs"
    run_dir = run_root / "run"
    run_dir.mkdir(parents=True)
    killed: dict = {}
    killer = threading.Thread(target=kill_after_records, args=(run_root, 5, killed), daemon=True)
    killer.start()
    record = asyncio.run(ScenarioRun(load_scenario(path), run_dir).run())
    killer.join(5)
    assert "pid" in killed, "the server was never killed"
    doomed, survivor = record.deployments
    assert doomed.status == "incomplete" and "server exited with code -9 during level c1" in doomed.error
    assert len(doomed.levels) == 1 and doomed.levels[0].interrupted
    assert doomed.levels[0].metrics["completed"] >= 5  # what was measured before the kill is kept
    assert survivor.status == "ok" and len(survivor.levels) == 2
    assert all(lv.metrics["completed"] > 0 and lv.metrics["failed"] == 0 for lv in survivor.levels)
    assert load_run(run_dir).complete  # the run went on to the end
    assert session_members(killed["pid"]) == []  # engine core and workers of the dead server are gone

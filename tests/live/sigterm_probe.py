"""The SIGTERM check of a `bench run` that launched its own vLLM: sent mid-level, nothing of ours survives, the
folder is readable and `bench report` calls it partial (real CPU vLLM). One rank in CI
(tests/live/test_interrupt_launched.py), two TP ranks - each its own worker process - in
tests/optional/test_interrupt_launched_tp2.py."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import yaml
from typer.testing import CliRunner

from bench.cli import app
from runfolder.schema import load_run
from tests.live.fast_start import EAGER
from tests.live.process_sessions import children_of, session_members, start_bench_run


def check_sigterm_mid_level(tmp_path: Path, *, tp: int) -> None:
    """SIGTERM to `bench run` while its own server of `tp` ranks serves: nothing survives, the run reads as partial."""
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "term",
                "deployments": [
                    {
                        "name": "own",
                        "model": {"like": "minimax-m2"},
                        "tp": tp,
                        "max_model_len": 4096,
                        "extra_args": EAGER,
                    }
                ],
                "workload": {"input_tokens": 64, "output_tokens": 64},
                "load": {"warmup_requests": 0, "requests": 1000, "levels": [{"concurrency": 1}]},
            }
        )
    )
    bench = start_bench_run(path, tmp_path / "runs", ignore_sigint=True)
    leader = _sigterm_mid_level(bench, tmp_path)
    try:
        _, stderr = bench.communicate(timeout=90)
        assert bench.returncode == 130 and "partial results kept" in stderr
        assert leader is not None and session_members(leader) == []  # API server, engine core, workers: all gone
    finally:  # a failing test leaves nothing running either
        if bench.poll() is None:
            bench.kill()
        if leader is not None and session_members(leader):
            os.killpg(leader, signal.SIGKILL)
    run_dir = next((tmp_path / "runs").iterdir())
    record = load_run(run_dir)
    assert not record.complete and record.deployments[0].status == "incomplete"
    assert record.deployments[0].levels[0].metrics["completed"] >= 3
    result = CliRunner().invoke(app, ["report", str(run_dir), "-o", str(tmp_path / "report")])
    assert result.exit_code == 0 and "PARTIAL" in (tmp_path / "report" / "report.md").read_text()


def _sigterm_mid_level(bench: subprocess.Popen, tmp_path: Path) -> int | None:
    """SIGTERM once the server's session exists and three requests are done; the server's session id."""
    leader, deadline = None, time.monotonic() + 240
    while time.monotonic() < deadline:
        leader = next((c for c in children_of(bench.pid) if session_members(c)), leader)
        files = list((tmp_path / "runs").glob("*/deployments/own/requests.jsonl"))
        if leader and files and len(files[0].read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    bench.send_signal(signal.SIGTERM)
    return leader

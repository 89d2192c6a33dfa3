"""A level shared by several client processes sends exactly what one process would, on one timeline,
as one record stream (real CPU vLLM through the session server)."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

from bench.load.workers import share
from bench.run.scenario_run import ScenarioRun
from bench.scenario.errors import ScenarioError
from bench.scenario.loader import load_scenario

pytestmark = pytest.mark.server


def _run(cpu_server, tmp_path: Path, workers: int, level: dict) -> list[dict]:
    path = tmp_path / f"w{workers}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": f"w{workers}",
                "seed": 11,
                "deployments": [{"name": "d", "model": str(cpu_server.model_dir), "endpoint": cpu_server.base_url}],
                "workload": {
                    "kind": "random",
                    "api": "completions",
                    "input_tokens": {"mean": 48, "dist": "uniform", "spread": 0.5},
                    "output_tokens": 4,
                },
                "load": {"workers": workers, "warmup_requests": 2, "requests": 24, "levels": [level]},
            }
        )
    )
    run_dir = tmp_path / f"run{workers}"
    run_dir.mkdir()
    asyncio.run(ScenarioRun(load_scenario(path), run_dir).run())
    lines = (run_dir / "deployments" / "d" / "requests.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if not r["warmup"]]


def test_open_loop_over_three_processes_sends_one_processes_schedule(cpu_server, tmp_path):
    level = {"rate": 12, "arrival": "poisson"}
    one, three = _run(cpu_server, tmp_path, 1, level), _run(cpu_server, tmp_path, 3, level)
    assert len(one) == len(three) == 24 and all(r["ok"] for r in three)
    # the same send times and the same prompts (lengths vary per job), dealt over the processes
    assert sorted(r["scheduled_s"] for r in three) == sorted(r["scheduled_s"] for r in one)
    assert sorted(r["expected_input_tokens"] for r in three) == sorted(r["expected_input_tokens"] for r in one)
    assert sorted(r["prompt_tokens"] for r in three) == sorted(r["prompt_tokens"] for r in one)
    # one timeline: every send lands on its scheduled time (a per-process clock would be off by seconds)
    lags = [r["sent_s"] - r["scheduled_s"] for r in three]
    assert min(lags) >= 0 and max(lags) < 0.25
    # one stream, numbered in arrival order
    assert [r["index"] for r in three] == [r["index"] for r in one] == list(range(2, 26))  # after 2 warm-ups


def test_closed_loop_splits_concurrency_and_count(cpu_server, tmp_path):
    one, two = _run(cpu_server, tmp_path, 1, {"concurrency": 4}), _run(cpu_server, tmp_path, 2, {"concurrency": 4})
    assert len(two) == 24 and all(r["ok"] for r in two)
    assert sorted(r["expected_input_tokens"] for r in two) == sorted(r["expected_input_tokens"] for r in one)
    sends = sorted(r["sent_s"] for r in two)
    in_flight = max(sum(1 for r in two if r["sent_s"] <= t < r["sent_s"] + r["e2el_s"]) for t in sends)
    assert in_flight <= 4  # two workers of 2, never more than the level's concurrency


def test_share_is_an_exact_split():
    assert [share(10, 4, w) for w in range(4)] == [3, 3, 2, 2]
    assert sum(share(7, 3, w) for w in range(3)) == 7


def test_more_workers_than_slots_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ndeployments: [{name: d}]\nload:\n  workers: 4\n  levels: [{concurrency: 2}]\n")
    with pytest.raises(ScenarioError, match="concurrency 2 < workers 4"):
        load_scenario(path)


def _kill_one_worker_after_first_record(requests: Path, killed: dict) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        children = multiprocessing.active_children()
        if len(children) == 2 and requests.exists() and requests.read_text().strip():
            killed["pid"] = children[0].pid
            os.kill(children[0].pid, signal.SIGKILL)  # as the OOM killer would
            return
        time.sleep(0.05)


def test_a_killed_worker_ends_the_level_with_the_reason_and_no_survivors(cpu_server, tmp_path):
    path = tmp_path / "dead.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "dead",
                "deployments": [{"name": "d", "model": str(cpu_server.model_dir), "endpoint": cpu_server.base_url}],
                "workload": {"kind": "random", "api": "completions", "input_tokens": 16, "output_tokens": 8},
                "load": {"workers": 2, "warmup_requests": 0, "levels": [{"concurrency": 2, "duration_s": 20}]},
            }
        )
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    killed: dict = {}
    killer = threading.Thread(
        target=_kill_one_worker_after_first_record, args=(run_dir / "deployments" / "d" / "requests.jsonl", killed)
    )
    killer.start()
    started = time.monotonic()
    record = asyncio.run(ScenarioRun(load_scenario(path), run_dir).run())
    killer.join()
    deployment = record.deployments[0]
    assert killed and time.monotonic() - started < 15  # ended by the death, not by the 20 s level
    assert deployment.status == "incomplete"
    assert deployment.error == "a load worker process exited with code -9 during level c2"
    assert deployment.levels[0].requests_sent >= 1  # what was measured is kept
    assert not multiprocessing.active_children()

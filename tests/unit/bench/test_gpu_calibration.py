"""The GPU calibration is tied to the committed evidence in results/gpu_single (vLLM 0.26.0, H100)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run.capacity_check import predict
from bench.run.model_source import materialize_model
from bench.scenario.deployment import DeploymentSpec
from bench.server.startup_log import parse_startup
from planner import GPU_CATALOG, PROFILES
from planner.gpus import match_gpu_name
from planner.overhead import select_profile
from runfolder.schema import load_run
from tests.paths import REPO

REPO = REPO / "results"
RUNS = sorted(
    p for folder in ("gpu_single", "gpu_single_h200") for p in (REPO / folder).iterdir() if (p / "run.json").exists()
)


def gpu_of(run: Path) -> str:
    """The catalog GPU type of the card the run was made on, from its NVML name."""
    return match_gpu_name(load_run(run).environment.gpus[0]["name"]).name


def test_the_profile_is_selected_by_vllm_version_and_model_class():
    assert select_profile("MiniMaxM2ForCausalLM", "0.26.0") == "h100-vllm-0.26.0"
    assert select_profile("MiniMaxM2ForCausalLM", "0.32.0") is None  # not measured: the default applies
    assert select_profile("LlamaForCausalLM", "0.26.0") is None


def test_both_gpu_settings_and_both_cards_were_measured():
    measured = {(gpu_of(run), d.name) for run in RUNS for d in load_run(run).deployments}
    assert measured == {("h100", "bf16-u090"), ("h100", "fp8-u080"), ("h200", "bf16-u090")}


@pytest.mark.parametrize("run", RUNS, ids=[p.name for p in RUNS])
def test_overhead_profile_and_gpu_memory_are_what_vllm_measured(run):
    deployment = load_run(run).deployments[0]
    facts = parse_startup((run / deployment.log_file).read_text())
    profile = PROFILES["h100-vllm-0.26.0"]
    assert (facts.activation_peak_gib, facts.non_torch_gib, facts.cudagraph_estimate_gib) == (
        profile.activation_peak_gib,
        profile.non_torch_gib,
        profile.cudagraph_gib,
    )
    assert facts.gpu_total_gib == GPU_CATALOG[gpu_of(run)].memory_gib
    assert deployment.vllm_version == profile.vllm_version


@pytest.mark.parametrize("run", RUNS, ids=[p.name for p in RUNS])
def test_planner_predicts_the_committed_gpu_runs_within_2_percent(run, tmp_path):
    deployment = load_run(run).deployments[0]
    spec = DeploymentSpec.model_validate(deployment.spec | {"gpu": gpu_of(run)})
    # the same synthetic config, rebuilt here; the profile chosen by the vLLM version the run used
    plan = predict(spec, materialize_model(spec, tmp_path), deployment.vllm_version)
    reported = deployment.capacity.reported_tokens
    assert abs(plan.kv_capacity_tokens - reported) / reported < 0.02
    assert abs(plan.kv_capacity_tokens - deployment.capacity.predicted_tokens) <= 0.001 * reported

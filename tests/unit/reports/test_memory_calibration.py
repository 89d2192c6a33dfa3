"""The memory model against every committed GPU run, each judged by a calibration that did not see it.

Points: results/gpu_memory (one setting changed at a time), results/gpu_single (fp8 KV at 0.8) and
results/gpu_single_h200 (the other card) - the MiniMax-M2 shape on vLLM's V1 model runner - and the dense
models' starts (results/gpu_dense_*: Qwen3-32B's shape in FP8 and bf16 on both runners, Llama-3.1-8B's), all
vLLM 0.26.0. The shipped calibration is rebuilt from them and must equal planner/calibrations/vllm-0.26.0.json.
"""

from __future__ import annotations

import json

import pytest

from planner import Layout, load_calibration, plan_capacity, resolve_gpu
from planner.calibration import CALIBRATIONS_DIR
from reports.calibration import calibrate, cases, leave_one_out
from reports.run_data import open_runs
from tests.paths import REPO

# in the order of the shipped file's command (results/gpu_memory/calibration.txt): its points keep it
FOLDERS = ("gpu_memory", "gpu_single", "gpu_single_h200", "gpu_dense_blind", "gpu_dense_memory", "gpu_dense_runner",
           "gpu_dense_runner_memory", "gpu_dense_small")  # fmt: skip
RUNS = [p for folder in FOLDERS for p in sorted((REPO / "results" / folder).iterdir()) if (p / "run.json").exists()]
SHIPPED = CALIBRATIONS_DIR / "vllm-0.26.0.json"


@pytest.fixture(scope="module")
def found():
    return cases(open_runs(RUNS))


@pytest.fixture(scope="module")
def residuals(found):
    return leave_one_out(found, "vllm-0.26.0")


def test_every_committed_gpu_run_is_a_point(found):
    assert len(found) == 21 and {c.gpu.name for c in found} == {"h100", "h200"}
    assert sum(c.model.moe is None for c in found) == 9
    assert {c.point.model_runner for c in found if c.model.moe is None} == {"v1", "v2"}


def test_each_point_predicted_without_itself_within_2_percent(residuals):
    worst = {r.deployment: round(r.error, 4) for r in residuals if abs(r.error) >= 0.02}
    assert worst == {}
    assert all(r.weights_error is not None and abs(r.weights_error) < 0.005 for r in residuals)


def test_the_other_card_from_the_first_cards_points_alone(found):
    """Each H200 point (MiniMax-M2's, the dense model's) predicted by a calibration fitted on H100 points only."""
    h100 = [c for c in found if c.gpu.name == "h100"]
    for h200 in (c for c in found if c.gpu.name == "h200"):
        residual = leave_one_out(h100 + [h200], "h100 only")[-1]
        assert residual.gpu == "h200" and abs(residual.error) < 0.02


def test_refusal_is_vllms_and_the_estimate_within_2_percent(residuals):
    refused = [r for r in residuals if r.refused_as_vllm is not None]
    assert [r.deployment for r in refused] == ["eager-refused-u050"]
    assert refused[0].refused_as_vllm and abs(refused[0].error) < 0.02


def test_the_shipped_calibration_is_the_one_these_runs_make(found):
    rebuilt = calibrate(found, "vllm-0.26.0")
    # the memory part; the performance factors beside it: tests/unit/reports/test_perf_calibration.py
    shipped = load_calibration(SHIPPED).model_copy(update={"performance": []})
    # the least-squares fit agrees to the last bits only on one BLAS path: hosts differ (AVX2 / AVX-512)
    assert shipped.coefficients.model_dump() == pytest.approx(rebuilt.coefficients.model_dump(), rel=1e-9)
    assert shipped.model_copy(update={"coefficients": rebuilt.coefficients}) == rebuilt
    assert json.loads(SHIPPED.read_text())["format_version"] == 2


def test_checks_whose_logs_were_lost(found):
    """Three eager deployments of results/gpu_memory whose run folders did not come back from the device:
    only vLLM's KV figure survives (results/gpu_memory/lost-logs). Predicted with the shipped calibration,
    which never saw them."""
    eager = next(c for c in found if c.point.deployment == "eager")
    reported = {
        line.split(": KV")[0]: int(line.split("reported ")[1].split(" tokens")[0].replace(",", ""))
        for f in (REPO / "results/gpu_memory/lost-logs").glob("*.txt")
        for line in f.read_text().splitlines()
        if "KV capacity predicted" in line
    }
    shipped = eager.settings.model_copy(update={"calibration": load_calibration(SHIPPED)})
    experts64 = eager.model.model_copy(update={"moe": eager.model.moe.model_copy(update={"num_experts": 64})})
    checks = {
        "eager-len32k": (eager.model, {"max_model_len": 32768}),
        "eager-fp8kv-u070": (eager.model, {"kv_cache_dtype": "fp8", "gpu_memory_utilization": 0.7}),
        "eager-experts64": (experts64, {"max_model_len": 16384}),
    }
    assert set(checks) == set(reported)
    for name, (model, changes) in checks.items():
        plan = plan_capacity(model, resolve_gpu("h100"), Layout(), shipped.model_copy(update=changes))
        assert abs(plan.kv_capacity_tokens - reported[name]) / reported[name] < 0.02, name


def test_run_folders_without_gpu_logs_are_refused(tmp_path):
    from typer.testing import CliRunner

    from bench.cli import app

    result = CliRunner().invoke(
        app, ["calibrate", str(REPO / "tests/data/golden/run_a"), "-o", str(tmp_path / "c.json")]
    )
    assert result.exit_code == 2 and "none holds a GPU deployment with vLLM's memory log lines" in result.output
    assert not (tmp_path / "c.json").exists()

"""Every subcommand's human-readable output (no --json), for each kind of input it meets: nothing
may raise while formatting an absent value. `bench run` with live deployments: test_run_output.py
(launched, failed start, endpoint without prediction) and test_run_integration.py (interrupted)."""

from __future__ import annotations

from typer.testing import CliRunner

from bench.cli import app
from tests.paths import DATA

GOLDEN = DATA / "golden"
runner = CliRunner()


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def test_dry_run_of_a_ray_deployment_without_a_gpu_here_says_why_there_is_no_prediction():
    out = ok("run", "scenarios/gpu_ray.yaml", "--dry-run")
    assert "# ray-bf16-u090 (Ray cluster 127.0.0.1:6379, on a node with {'head': 1.0}; vLLM executor ray)" in out
    assert "--distributed-executor-backend ray" in out and "--host 0.0.0.0" in out
    assert "no prediction: deployment.gpu: GPU type unknown" in out and "levels: c1, c8" in out


def test_dry_run_of_the_seed_deployments_prints_their_predictions():
    out = ok("run", "scenarios/long_ctx.yaml", "--dry-run")
    assert out.count("predicted:") == 2 and "x h200" in out and "KV tokens per engine" in out


def test_plan_tables_forward_with_nodes_and_inverse():
    out = ok("plan", "minimax-m2", "--gpu", "h100", "--gpus", "16", "--tp", "8", "--pp", "2", "--ep")
    assert "pipeline stages" in out and "nodes of 8 GPUs" in out and "crosses nodes: PP hand-offs" in out
    out = ok("plan", "minimax-m2", "--gpu", "h200", "--target-context", "1000000")
    assert "smallest layouts for 1,000,000 tokens" in out


def test_compare_report_and_synth_print_for_people(tmp_path):
    out = ok("compare", str(GOLDEN / "run_a"), str(GOLDEN / "run_b"))
    assert "median_ttft_ms" in out and "kv_capacity_tokens" in out and "%" in out
    out = ok("report", str(GOLDEN / "run_a"), "-o", str(tmp_path / "report"))
    assert out.splitlines() == [str(tmp_path / "report" / "report.md"), str(tmp_path / "report" / "report.html")]
    out = ok("model", "synth", "-o", str(tmp_path / "m"), "--layers", "2")
    assert out.strip() == str(tmp_path / "m") and (tmp_path / "m" / "config.json").is_file()


def test_probe_of_a_server_that_never_answers_prints_the_failure(tmp_path):
    result = runner.invoke(
        app, ["probe", "--endpoint", "http://127.0.0.1:9", "--startup-timeout", "1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "probe: http://127.0.0.1:9/health not ready after 1 s" in result.output

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


def test_repeat_makes_independent_runs_and_their_baseline_has_a_spread(tmp_path):
    """--repeat against the FAKE server (the runs' content is not the point, their number and baseline are)."""
    import json

    import yaml

    from bench.server.synth_model import write_synthetic_model
    from tools.fake_openai import FakeOpenAI

    model = write_synthetic_model(tmp_path / "model", "minimax-m2")
    with FakeOpenAI(chunk_delay_s=0.001) as fake:
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump({
            "name": "rep", "deployments": [{"name": "d", "model": str(model), "endpoint": fake.base_url,
                                            "served_model_name": "ok"}],
            "workload": {"input_tokens": 16, "output_tokens": 8},
            "load": {"warmup_requests": 0, "requests": 8, "levels": [{"concurrency": 2}]}}))  # fmt: skip
        result = runner.invoke(app, ["run", str(path), "--repeat", "3", "--json", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(records) == len(folders) == 3 and len({r["run_id"] for r in records}) == 3
    out = ok("baseline", "save", *map(str, folders), "-o", str(tmp_path / "b.json"))
    assert "3 run(s)" in out and "run-to-run spread (sd / mean, worst level): median_ttft_ms" in out

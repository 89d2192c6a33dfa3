"""Scenario files: every shipped one validates; bad ones fail with file, line and field, nothing started."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.scenario.errors import ScenarioError
from bench.scenario.loader import load_scenario
from tests.paths import REPO

SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))
GOOD = """name: t
deployments:
  - name: a
    model: {like: minimax-m2}
load:
  levels: [{concurrency: 2}]
"""


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_shipped_scenario_validates(path):
    scenario = load_scenario(path)
    assert scenario.deployments and scenario.load.all_levels()


def test_required_scenarios_exist():
    assert {"smoke.yaml", "long_ctx.yaml", "agentic.yaml", "sweep.yaml"} <= {p.name for p in SCENARIOS}


def test_long_ctx_runs_the_seed_layouts():
    tp4, tp8 = load_scenario(Path("scenarios/long_ctx.yaml")).deployments
    assert (tp4.tp, tp4.ep, tp8.tp, tp8.ep) == (4, False, 8, True)
    for d in (tp4, tp8):
        assert {"--tool-call-parser", "minimax_m2", "minimax_m2_append_think"} <= set(d.extra_args)
        assert d.env["SAFETENSORS_FAST_GPU"] == "1" and d.trust_remote_code


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (GOOD.replace("    model:", "    colour: red\n    model:"), 4, "deployments.0.colour"),
        (GOOD.replace("{concurrency: 2}", "{concurrency: 2, rate: 3}"), 6, "load.levels.0"),
        (GOOD.replace("{concurrency: 2}", "{concurrency: -1}"), 6, "load.levels.0.concurrency"),
        (GOOD.replace("name: t", "name: t\nworkload: {kind: dataset}"), 2, "workload"),
        (GOOD.replace("  - name: a\n", "  - name: a\n  - name: a\n"), 3, "deployments"),
        (GOOD.replace("load:\n  levels: [{concurrency: 2}]", "load: {requests: 3}"), 5, "load"),
        (GOOD + "slo: {ttft_ms: fast}\n", 7, "slo.ttft_ms"),
        (GOOD.replace("levels: [", "levels: [[["), 7, "yaml"),
    ],
)
def test_bad_scenarios_name_file_line_and_field(tmp_path, text, line, field):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert (info.value.line, info.value.field) == (line, field)
    assert str(info.value).startswith(f"{path}:{line}: {field}: ")


def test_bench_run_on_a_bad_file_starts_nothing(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("tp", "").replace("model:", "modle:"))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "modle" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_missing_scenario_file(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.yaml")


def test_dry_run_prints_the_seed_commands_and_predictions_and_starts_nothing(tmp_path):
    result = CliRunner().invoke(
        app, ["run", "scenarios/long_ctx.yaml", "--dry-run", "--json", "--out", str(tmp_path / "runs")]
    )
    assert result.exit_code == 0, result.output
    tp4, tp8 = json.loads(result.output)
    assert "--tensor-parallel-size 4" in tp4["command"] and "--enable-expert-parallel" not in tp4["command"]
    assert "--tensor-parallel-size 8" in tp8["command"] and "--enable-expert-parallel" in tp8["command"]
    for d in (tp4, tp8):
        assert "--tool-call-parser minimax_m2" in d["command"] and "--load-format dummy" in d["command"]
        assert d["env"]["SAFETENSORS_FAST_GPU"] == "1" and d["predicted"]["gpu"] == "h200"
    assert tp8["predicted"]["kv_capacity_tokens"] > 2.5 * tp4["predicted"]["kv_capacity_tokens"]
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['echo pwned']", "!!python/name:os.system"])
def test_yaml_is_loaded_safely(tmp_path, tag):
    path = tmp_path / "evil.yaml"
    path.write_text(f"name: {tag}\n" + GOOD.split("\n", 1)[1])
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field == "yaml"


def test_dataset_paths_stay_inside_the_scenario_folder(tmp_path):
    outside = tmp_path / "secret.jsonl"
    outside.write_text('{"prompt": "x"}\n')
    folder = tmp_path / "scenario"
    folder.mkdir()
    (folder / "link.jsonl").symlink_to(outside)
    for name in ("../secret.jsonl", "link.jsonl", str(outside)):
        path = folder / "s.yaml"
        path.write_text(
            f"name: s\ndeployments: [{{name: a}}]\nworkload: {{kind: dataset, dataset: '{name}'}}\n"
            "load: {levels: [{concurrency: 1}]}\n"
        )
        with pytest.raises(ScenarioError, match="outside the scenario's folder"):
            load_scenario(path)


def test_extra_args_that_contradict_the_deployment_are_refused_at_their_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ndeployments:\n  - name: a\n    extra_args: [--max-model-len, '8192']\n"
        "load: {levels: [{concurrency: 1}]}\n"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.line == 4 and "--max-model-len is the deployment's own setting" in info.value.problem
    assert "set max_model_len instead" in info.value.problem


def test_a_trace_workload_fails_at_its_trace_rows_line_before_anything_runs(tmp_path):
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"timestamp": 0, "input_length": 10, "output_length": 2}\n{"timestamp": "soon"}\n')
    traced = GOOD.replace("name: t", "name: t\nworkload: {kind: trace, path: t.jsonl, format: mooncake}")
    path = tmp_path / "s.yaml"
    path.write_text(traced.replace("{concurrency: 2}", "{trace: true}"))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2 and f"{trace}:2: workload.path (mooncake): timestamp" in result.output
    assert not (tmp_path / "runs").exists()
    path.write_text(GOOD.replace("{concurrency: 2}", "{trace: true}"))
    with pytest.raises(ScenarioError, match="trace: true needs workload kind: trace"):
        load_scenario(path)


def test_a_profiled_level_needs_a_server_launched_here(tmp_path):
    path = tmp_path / "profiled.yaml"
    path.write_text(
        GOOD.replace("    model: {like: minimax-m2}", "    endpoint: http://10.0.0.9:8000\n    model: /srv/m").replace(
            "{concurrency: 2}", "{concurrency: 2, profile: true}"
        )
    )
    with pytest.raises(ScenarioError, match="profile: true needs a server launched on this machine") as info:
        load_scenario(path)
    assert "a runs elsewhere" in str(info.value)

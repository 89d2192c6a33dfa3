"""What two runs' deployments served differently, named beside their comparison: `bench compare` and
`bench gate` on committed GPU runs - MiniMax-M2 whole at TP4 on four H200s with and without its router bias
(results/gpu_perf_tp4, results/gpu_seed_uniform), and the 48-expert TP1 shape on an H200 and on an H100
(results/gpu_uniform_routing/20261128-*)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from bench.cli import app
from reports.baseline import make_baseline
from reports.gate import DEFAULT_RULES, evaluate
from reports.gate_output import markdown_summary
from reports.run_data import open_runs
from reports.served_setup import served_setup, setup_changes
from tests.paths import REPO

BIASED = REPO / "results" / "gpu_perf_tp4" / "20261126-104550-gpu_perf_tp4"
SPREAD = REPO / "results" / "gpu_seed_uniform" / "20261128-005234-gpu_seed_uniform"
ON_H200 = REPO / "results" / "gpu_uniform_routing" / "20261128-010057-gpu_uniform_routing"
ON_H100 = REPO / "results" / "gpu_uniform_routing" / "20261128-011316-gpu_uniform_routing"
runner = CliRunner()


def test_the_setup_leaves_out_each_runs_paths_and_port():
    (run,) = open_runs([SPREAD])
    setup = served_setup(run, run.record.deployments[0])
    assert setup["server flags"] == "--tensor-parallel-size 4 --gpu-memory-utilization 0.92 --load-format dummy"
    assert setup["machine GPUs"] == "4 x NVIDIA H200"
    assert setup["model config use_routing_bias"] == "false"
    assert setup["host Python"] == "-"  # run before schema 9 recorded the host's Python speed


def test_two_runs_name_what_they_served_differently():
    a, b = open_runs([BIASED, SPREAD])
    changes = setup_changes(a, b)
    assert "tp4: model config use_routing_bias: true -> false" in changes
    assert any(c.startswith("tp4: server flags: ") and "--max-model-len 65536" in c for c in changes)
    assert not any(c.startswith(("tp4: vLLM", "tp4: machine GPUs", "tp4: env")) for c in changes)
    assert setup_changes(a, a) == []


def test_compare_says_it_below_its_table_and_keeps_its_json_a_list():
    result = runner.invoke(app, ["compare", str(BIASED), str(SPREAD)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "served differently" in result.output and "use_routing_bias: true -> false" in result.output
    result = runner.invoke(app, ["compare", str(BIASED), str(SPREAD), "--json"])
    assert result.exit_code == 0
    assert isinstance(json.loads(result.stdout), list)
    assert "use_routing_bias: true -> false" in result.stderr


def test_the_gate_names_another_machine():
    base, current = make_baseline(open_runs([ON_H200])), make_baseline(open_runs([ON_H100]))
    summary = markdown_summary(evaluate(DEFAULT_RULES, base, current), base, current)
    assert "- tp1-e48: machine GPUs: 4 x NVIDIA H200 -> 1 x NVIDIA H100 80GB HBM3" in summary.splitlines()
    older = base.model_copy(update={"runs": [base.runs[0].model_copy(update={"setup": {}})]})  # schema 2
    assert "Served differently" not in markdown_summary(evaluate(DEFAULT_RULES, older, current), older, current)
    assert "Served differently" not in markdown_summary(evaluate(DEFAULT_RULES, base, base), base, base)

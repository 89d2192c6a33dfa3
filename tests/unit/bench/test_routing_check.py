"""bench run's word on a MoE model's routing: on dummy weights a router with a score-correction bias (MiniMax-M2's)
sends every token to the same top-k experts, and the plan says so (planner.step_cost.moe_routing); the committed
four-H200 TP4 runs of MiniMax-M2 whole, with the bias (results/gpu_perf_tp4) and without it
(results/gpu_seed_uniform), are planned, summarised and reported here; and a MoE shape vLLM has no tuned kernel
tiles for, which its log names, is named in the run's summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from bench.cli.run_view import print_run
from bench.run.capacity_check import predict
from bench.scenario.deployment import DeploymentSpec
from reports.capacity_report import build_report
from reports.run_data import RunData
from runfolder.packed import stored_text
from runfolder.schema import RunRecord, load_run
from runfolder.server_log import parse_startup
from tests.markdown_table import table_rows
from tests.paths import REPO

FIXED = REPO / "results" / "gpu_perf_tp4" / "20261126-104550-gpu_perf_tp4"
SPREAD = REPO / "results" / "gpu_seed_uniform" / "20261128-005234-gpu_seed_uniform"
DENSE = REPO / "results" / "gpu_dense_runner" / "20261127-210631-gpu_dense_runner"


def _planned(folder: Path, gpu: str) -> RunRecord:
    """The run with its first deployment's plan made again by today's planner (its record may predate the field)."""
    run = load_run(folder)
    d = run.deployments[0]
    spec = DeploymentSpec.model_validate(d.spec).model_copy(update={"gpu": gpu})
    d.predicted = predict(spec, folder / "models" / d.name, d.vllm_version).model_dump(mode="json")
    return run


@pytest.mark.parametrize(("folder", "gpu", "routing"), [(FIXED, "h200", "fixed"), (SPREAD, "h200", "spread"),
                                                         (DENSE, "h100", None)])  # fmt: skip
def test_the_plan_names_the_routing_the_server_runs(folder, gpu, routing):
    run = _planned(folder, gpu)
    assert run.deployments[0].predicted["moe_routing"] == routing
    said = [a for a in run.deployments[0].predicted["assumptions"] if a.startswith("MoE routing fixed")]
    assert bool(said) == (routing == "fixed")


@pytest.mark.parametrize(("folder", "warned"), [(FIXED, True), (SPREAD, False)])
def test_a_run_on_fixed_routing_is_warned_about(folder, warned):
    console = Console(record=True, width=400)
    print_run(_planned(folder, "h200"), "run", console)
    text = console.export_text()
    assert ("MoE routing fixed" in text) == warned
    assert ("use_routing_bias: false" in text) == warned


def test_the_capacity_report_shows_the_routing(tmp_path):
    runs = [RunData(tmp_path, _planned(folder, "h200")) for folder in (FIXED, SPREAD)]
    markdown = build_report(runs).markdown(tmp_path)
    assert [row["MoE routing"] for row in table_rows(markdown, "MoE routing")] == ["fixed", "spread"]


def test_a_moe_shape_without_tuned_kernel_tiles_is_named():
    # both TP4 logs warn that vLLM 0.26.0 has no tuned file for MiniMax-M2's experts sliced four ways on the H200;
    # the TP2 shape of 128 experts (E=128, N=768) has one
    shapes = {}
    for folder in (SPREAD, REPO / "results" / "gpu_uniform_routing" / "20261127-232021-gpu_uniform_routing"):
        run = load_run(folder)
        d = run.deployments[0]
        assert d.log_file is not None and (log := stored_text(folder / d.log_file)) is not None
        d.startup = parse_startup(log).model_dump()
        console = Console(record=True, width=400)
        print_run(run, "run", console)
        shapes[d.name] = d.startup["untuned_moe_config"], "no tuned fused-MoE tiles" in console.export_text()
    assert shapes == {"tp4": ("E=256,N=384,device_name=NVIDIA_H200,dtype=fp8_w8a8,block_shape=[128,128]", True),
                      "tp2": (None, False)}  # fmt: skip

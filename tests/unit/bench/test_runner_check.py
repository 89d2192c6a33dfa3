"""bench run's check of vLLM's model runner: the one the plan assumed against the one the server's start-up log
names (committed H100 starts of Qwen3-32B's bf16 shape on vLLM 0.26.0: V2, its default for a dense model, and
V1, pinned by VLLM_USE_V2_MODEL_RUNNER=0), the warning the run's summary prints where they differ, and the
capacity report's columns."""

from __future__ import annotations

from rich.console import Console

from bench.cli.run_view import print_run
from bench.run.capacity_check import compare, predict
from bench.scenario.deployment import DeploymentSpec
from reports.capacity_report import build_report
from reports.run_data import RunData
from runfolder.packed import stored_text
from runfolder.schema import CapacityComparison, RunRecord, load_run
from runfolder.server_log import parse_startup
from tests.markdown_table import table_rows
from tests.paths import REPO

RUNS = REPO / "results" / "gpu_dense_runner"


def _check(run_id: str, env: dict[str, str] | None = None) -> tuple[RunRecord, CapacityComparison]:
    """The run and bench's capacity check of its one start, planned with the deployment's env or `env`."""
    (folder,) = [r for r in RUNS.iterdir() if r.name.startswith(run_id)]
    run = load_run(folder)
    (d,) = run.deployments
    spec = DeploymentSpec.model_validate(d.spec).model_copy(update={"gpu": "h100"})
    spec = spec if env is None else spec.model_copy(update={"env": env})
    assert d.log_file is not None and (log := stored_text(folder / d.log_file)) is not None
    return run, compare(predict(spec, folder / "models" / d.name, d.vllm_version), None, None, parse_startup(log))


def test_the_planned_runner_is_checked_against_the_logged_one():
    _, v2 = _check("20261127-210631")
    _, v1 = _check("20261127-211053")
    assert (v2.predicted_model_runner, v2.reported_model_runner) == ("v2", "v2")
    assert (v1.predicted_model_runner, v1.reported_model_runner) == ("v1", "v1")


def test_a_runner_the_plan_did_not_assume_is_warned_about():
    run, check = _check("20261127-211053", env={})  # the V1 start planned without its VLLM_USE_V2_MODEL_RUNNER=0
    assert (check.predicted_model_runner, check.reported_model_runner) == ("v2", "v1")
    console = Console(record=True, width=300)
    print_run(run, "run", console)
    assert "model runner where the plan assumed" not in console.export_text()  # its record predates the check
    run.deployments[0].capacity = check
    print_run(run, "run", console)
    text = console.export_text()
    assert "vLLM logged its V1 model runner where the plan assumed V2" in text
    assert "VLLM_USE_V2_MODEL_RUNNER=0 in the deployment's env" in text


def test_the_capacity_report_shows_both_runners(tmp_path):
    run, check = _check("20261127-211053", env={})
    run.deployments[0].capacity = check
    markdown = build_report([RunData(tmp_path, run)]).markdown(tmp_path)
    columns = next(row for row in table_rows(markdown, "model runner predicted") if row["deployment"] == "v1")
    assert (columns["model runner predicted"], columns["model runner reported"]) == ("v2", "v1")

"""A run with profiled levels, as the readers take it: the committed H100 profile run
(results/gpu_moe_profile/20261128-033229: `c16` unprofiled, then `c16-prof`, `c1-prof`, `r4-prof` under vLLM's
torch profiler). Profiled levels are labelled (bench run's summary names their traces' folder), and neither
fitted, checked nor used for a capacity answer: their timings carry the profiler's cost."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from bench.cli.run_view import print_run
from reports.capacity_report import build_report
from reports.kernel_profile import profiled_steps, read_trace
from reports.perf_fit import perf_cases
from reports.run_data import open_runs
from reports.served_setup import served_setup
from runfolder.schema import load_run
from tests.paths import REPO

RUN = REPO / "results" / "gpu_moe_profile" / "20261128-033229-gpu_moe_profile"


def test_profiled_levels_are_labelled_and_left_out_of_fits_and_answers(tmp_path):
    (run,) = open_runs([RUN])
    levels = run.levels()
    assert dict(zip(levels["level"], levels["profiled"], strict=True)) == {
        "c16": False, "c16-prof": True, "c1-prof": True, "r4-prof": True
    }  # fmt: skip
    assert [c.point.level for c in perf_cases([run])] == ["c16"]
    report = build_report([run]).markdown(tmp_path)
    assert "| spread | c16-prof (profiled) |" in report and "| spread | c16 |" in report
    # each profiled level's steps on the device: c16-prof's full prompt step, 325 ms of which 206 in MoE kernels
    section = report.split("## Profiled levels: engine steps on the device")[1]
    assert [line for line in section.splitlines() if line.startswith("spread / ")] == [
        f"spread / {name} ({trace})" for name, trace in _first_rank_traces(run)
    ]
    assert "| 8,191 | 1 | 1 | 325.26 | 316.94 | 8.32 | 206.20 |" in section


def _first_rank_traces(run) -> list[tuple[str, str]]:
    levels = [lv for lv in run.record.deployments[0].levels if lv.profile]
    return [(lv.name, next(Path(t).name for t in lv.profile if "rank0" in t and t.endswith(".gz"))) for lv in levels]


def test_the_profiler_flag_is_setup_but_its_folder_is_the_runs_own():
    (run,) = open_runs([RUN])
    flags = served_setup(run, run.record.deployments[0])["server flags"]
    assert "--profiler-config (profiler on)" in flags and str(RUN.name) not in flags and "/tmp/" not in flags


def test_the_committed_traces_hold_the_first_waves_prompt_tokens():
    """c16-prof's 16 measured 1,024-token prompts were prefilled in its traced steps, and its device steps name
    the fused MoE kernel (the H100 run's table: results/perf_model/moe-profile-spread-h100.txt)."""
    (run,) = open_runs([RUN])
    level = next(lv for lv in run.record.deployments[0].levels if lv.name == "c16-prof")
    traces = [t for t in level.profile if "rank0" in t and t.endswith(".json.gz")]
    steps = profiled_steps(read_trace(RUN / traces[0]))
    assert sum(s.prompt_tokens for s in steps) == 16 * 1024
    assert max(s.by_kind.get("moe", 0.0) for s in steps) > 100.0  # ms, the full prompt step's


def test_bench_runs_summary_says_where_each_profiled_levels_traces_are():
    console = Console(width=300, record=True)
    print_run(load_run(RUN), str(RUN), console)
    text = console.export_text()
    for level in ("c16-prof", "c1-prof", "r4-prof"):
        assert (
            f"spread/{level}: profiled - 3 files from vLLM's torch profiler in deployments/spread/profile/{level} "
            in text
        )
    assert "spread/c16:" not in text


def test_a_profilers_failure_is_one_of_the_levels_self_checks():
    record = load_run(RUN)
    d = record.deployments[0]
    failed = d.levels[1].model_copy(update={"profile": [], "profile_error": "vLLM's profiler did not start: 404"})
    record = record.model_copy(update={"deployments": [d.model_copy(update={"levels": [d.levels[0], failed]})]})
    console = Console(width=300, record=True)
    print_run(record, str(RUN), console)
    assert "spread/c16-prof: vLLM's profiler did not start: 404" in console.export_text()
    assert failed.self_checks()[-1] == "vLLM's profiler did not start: 404"

"""The shipped performance factors are what the committed H100 levels make (bench calibrate --perf; PIECEWISE
levels included), and the GPUs without levels of their own take their family's, saying whether collectives were
ever measured; a run's open loop is replayed at the offsets bench sent it at, and one cut by a duration not at all."""

from __future__ import annotations

import json
import shutil

import pytest

from bench.load.level import level_driver, level_tokens
from bench.scenario.loader import load_scenario
from planner import InputError, resolve_gpu
from planner.calibration import CALIBRATIONS_DIR, load_calibration
from planner.performance import open_loop_offsets
from reports.document import Document
from reports.perf_fit import calibrate_performance, perf_cases, replayed_load
from reports.perf_report import predicted_vs_measured
from reports.run_data import open_runs
from runfolder.jsonl import read_rows
from tests.paths import REPO

SHIPPED = CALIBRATIONS_DIR / "vllm-0.26.0.json"
# the classes of the committed GPU runs (planner/calibration.performance_class)
MOE, DENSE, BF16 = "moe fp8", "dense fp8", "dense bf16"
H100_RUNS = [REPO / "results" / folder / run for folder, run in (
    ("gpu_perf_h100", "20261126-034427-gpu_perf"), ("gpu_perf_h100", "20261126-035906-gpu_perf"),
    ("gpu_single", "20261125-034533-gpu_single"), ("gpu_single", "20261125-035238-gpu_single"),
    ("gpu_piecewise_blind", "20261127-063925-gpu_piecewise_blind"))]  # fmt: skip


def test_shipped_h100_factors_are_the_fit_of_the_committed_h100_levels():
    (h100,) = [p for p in load_calibration(SHIPPED).performance if (p.gpu, p.model_class) == ("h100", MOE)]
    (rebuilt,) = calibrate_performance(perf_cases(open_runs(H100_RUNS), steps=True))
    assert rebuilt.points == h100.points and len(h100.points) == 31  # 26 under the default graphs, 5 PIECEWISE
    assert h100.factors.piecewise_layer_us > 0
    assert rebuilt.multi_gpu_levels == h100.multi_gpu_levels == 0
    for name, value in rebuilt.factors.model_dump().items():
        assert getattr(h100.factors, name) == pytest.approx(value, rel=1e-6)


def test_a_gpu_without_levels_takes_its_familys_factors_and_says_so():
    calibration = load_calibration(SHIPPED)
    h20, source = calibration.performance_factors(resolve_gpu("h20"), MOE)
    assert "transferred from h100 (hopper)" in source
    # the H100's levels were all on one GPU: its collective latency is the H200's, whose levels had TP2
    h200, own = calibration.performance_factors(resolve_gpu("h200"), MOE)
    assert "the collective latency of h200's multi-GPU levels" in source
    assert h200.collective_us > 0 and h20.collective_us == h200.collective_us
    assert "fitted on it" in own and "collective latency of" not in own
    alone = calibration.model_copy(update={"performance": [p for p in calibration.performance if p.gpu == "h100"]})
    lone, source = alone.performance_factors(resolve_gpu("h100"), MOE)
    assert "collectives counted by bytes alone" in source and lone.collective_us == 0
    with pytest.raises(InputError, match="no performance calibration for l40s"):
        calibration.performance_factors(resolve_gpu("l40s"), MOE)


def test_a_models_class_is_looked_up_before_its_card():
    calibration = load_calibration(SHIPPED)
    fitted = {(p.gpu, p.model_class): p.factors for p in calibration.performance}
    dense, source = calibration.performance_factors(resolve_gpu("h200"), DENSE)
    # all on one GPU and none PIECEWISE: the collective latency and the PIECEWISE floor of the H200's MoE levels
    moe = fitted["h200", MOE]
    assert dense == fitted["h200", DENSE].model_copy(
        update={"collective_us": moe.collective_us, "piecewise_layer_us": moe.piecewise_layer_us}
    )
    assert fitted["h200", DENSE].piecewise_layer_us == 0 < moe.piecewise_layer_us
    assert "fitted on it, on dense fp8 levels" in source and "the floor of h200's moe fp8 levels" in source
    assert dense.gemm_efficiency != calibration.performance_factors(resolve_gpu("h200"), MOE)[0].gemm_efficiency
    # the H100 without dense levels of its own: the H200's dense factors, not its own MoE ones
    no_dense = calibration.model_copy(
        update={"performance": [p for p in calibration.performance if (p.gpu, p.model_class) != ("h100", DENSE)]}
    )
    borrowed, source = no_dense.performance_factors(resolve_gpu("h100"), DENSE)
    assert borrowed.gemm_efficiency == fitted["h200", DENSE].gemm_efficiency
    assert "transferred from h200 (hopper)" in source
    # a class fitted nowhere: the card's class that is dense (or MoE) as the model is, said so
    assert ("h100", BF16) in fitted
    fp8_only = calibration.model_copy(
        update={"performance": [p for p in calibration.performance if p.model_class != BF16]}
    )
    bf16, source = fp8_only.performance_factors(resolve_gpu("h100"), BF16)
    assert bf16.gemm_efficiency == fitted["h100", DENSE].gemm_efficiency and "for a dense bf16 model" in source


@pytest.mark.parametrize(("folder", "run", "gpu", "model_class", "levels"), [
    ("gpu_dense_blind", "20261127-184649", "h100", DENSE, 9),  # Qwen3-32B's shape in FP8
    ("gpu_dense_small", "20261127-220652", "h200", BF16, 7),  # Llama-3.1-8B's shape in bf16, the H200's one run
])  # fmt: skip
def test_the_shipped_dense_factors_are_their_own_classes_fit(folder, run, gpu, model_class, levels):
    (path,) = [r for r in (REPO / "results" / folder).iterdir() if r.name.startswith(run)]
    (rebuilt,) = calibrate_performance(perf_cases(open_runs([path]), steps=True))
    (shipped,) = [p for p in load_calibration(SHIPPED).performance if (p.gpu, p.model_class) == (gpu, model_class)]
    assert rebuilt.model_class == model_class and rebuilt.points == shipped.points and len(shipped.points) == levels
    for name, value in rebuilt.factors.model_dump().items():
        assert getattr(shipped.factors, name) == pytest.approx(value, rel=1e-6)


def test_a_committed_open_loop_is_replayed_at_the_offsets_bench_sent():
    run = REPO / "results" / "gpu_perf_blind7" / "20261126-141249-gpu_perf_blind7"
    (case,) = [c for c in perf_cases(open_runs([run])) if c.point.level == "r2"]
    rows = read_rows(run / "deployments" / "tp1" / "requests.jsonl")  # packed or not (runfolder/packed.py)
    sent = sorted(r["scheduled_s"] for r in rows if r["level"] == "r2" and not r["warmup"])
    assert len(sent) == case.point.load.requests == 60
    assert open_loop_offsets(case.point.load) == pytest.approx(sent, abs=1e-9)


def test_an_open_loop_cut_by_a_duration_is_not_replayed(tmp_path):
    """bench rescales a counted open loop to N / rate; one bounded by a duration it does not, so the replay
    (which rescales) would predict it at other offsets: the fit and the checks leave it out."""
    source = REPO / "results" / "gpu_perf_blind7" / "20261126-141249-gpu_perf_blind7"
    run = tmp_path / source.name
    shutil.copytree(source, run, ignore=shutil.ignore_patterns("*.gz", "server.log", "telemetry.jsonl"))
    assert "r2" in {c.point.level for c in perf_cases(open_runs([run]))}
    record = json.loads((run / "run.json").read_text())
    (level,) = [lv for lv in record["deployments"][0]["levels"] if lv["name"] == "r2"]
    level["driver"]["duration_s"] = 30.0
    (run / "run.json").write_text(json.dumps(record))
    levels = {c.point.level for c in perf_cases(open_runs([run]))}
    assert "r2" not in levels and "c8" in levels


def test_the_replayed_levels_are_those_bench_sends_as_the_replay_does(tmp_path):
    """One rule for the run's levels and a scenario's (benchmarks/perf_model.py --predict): run.json's driver as
    bench records it; other arrivals, in-flight caps, durations and drawn lengths are not replayed."""
    text = (REPO / "scenarios" / "smoke.yaml").read_text().replace("""    - rate: 4
      arrival: poisson
""", """    - rate: 4
      arrival: poisson
    - {rate: 4, burstiness: 0.5}
    - {rate: 4, max_concurrency: 2}
    - {rate: 4, duration_s: 5}
    - {concurrency: 2, input_tokens: {mean: 256, dist: uniform, spread: 0.1}}
""")  # fmt: skip
    (tmp_path / "levels.yaml").write_text(text)
    scenario = load_scenario(tmp_path / "levels.yaml")
    replayed = [
        replayed_load(level_driver(scenario, level), *level_tokens(scenario, level), requests=24, seed=0)
        for level in scenario.load.levels
    ]  # fmt: skip
    assert [load is not None for load in replayed] == [True, True, False, False, False, False]
    assert (replayed[0].concurrency, replayed[1].request_rate) == (4, 4)


def test_the_report_marks_whole_wave_levels():
    """The tenth check's closed loops (results/gpu_waves): short prompts at c32+ are the domain the replay misses,
    and the report says so beside their errors; 1K prompts at c32 are not in it."""
    doc = Document(title="waves")
    predicted_vs_measured(doc, open_runs([REPO / "results/gpu_waves/20261126-182907-gpu_waves"]))
    (rows,) = [block[2] for block in doc.blocks if block[0] == "table"]
    status = {row[1]: row[-1] for row in rows}
    assert status == {"in64-c128": "predicted, whole waves", "in256-c32": "predicted, whole waves",
                      "in256-c64": "predicted, whole waves", "in256-c128": "predicted, whole waves",
                      "in1k-c32": "predicted", "in256-c128-out512": "predicted, whole waves"}  # fmt: skip

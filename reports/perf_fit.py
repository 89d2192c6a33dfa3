"""Fitting the performance model's factors (planner/step_cost.py PerfFactors) on measured levels, and
judging predictions against levels the fit never saw. Levels served under cudagraph_mode PIECEWISE fit only
the floor of their steps (piecewise_layer_us), after the others are fitted on the rest and held.

A case is one level of a GPU deployment with fixed prompt and output lengths, closed loop (concurrency)
or open loop (a request rate): its model is the run folder's copy, its layout and server settings the
recorded spec, its memory plan the planner's (batch limits, KV pool). The fit minimises, over every
case, the squared log ratios predicted / measured of vllm bench serve's mean TPOT, median TTFT (the
mean is carried by a few outliers in short levels) and output throughput, and of the API server's part
of TTFT where vLLM's histograms came with the level (_frontend_ms), and of the level's typical engine
steps - a decode step, and a full prompt step where its first wave fills the token budget - as the step cost
prices them against their durations rebuilt from the tokens' timestamps (reports/engine_steps.py; one residual
each, weighted like a metric) (scipy's least_squares, the factors bounded to physical ranges). The steps pin
the step cost itself: fitted on the metrics alone, the replay around it (API server, late output) could trade
dearer decode steps for cheaper prompt steps and still match the metrics of the levels it saw. Factors are
fitted per GPU; predicting another GPU with them is the out-of-sample check (benchmarks/perf_model.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy.optimize import least_squares

from planner import GpuSpec, Layout, ModelSpec, arrivals, load_model, plan_capacity
from planner.calibration import Calibration, PerfCalibration, PerfPoint, performance_class
from planner.capacity import Plan
from planner.errors import InputError
from planner.gpus import match_gpu_name
from planner.performance import LevelPrediction, engine_model, predict_level
from planner.scalar_fit import fit_scalar
from planner.serving_sim import LoadShape
from planner.step_cost import PerfFactors
from reports.calibration import plan_settings
from reports.engine_steps import StepSample, measured_steps
from reports.run_data import RunData, layout_of
from runfolder.requests import RequestRecord
from runfolder.schema import DeploymentRecord, LevelSummary

METRICS = ("mean_tpot_ms", "median_ttft_ms", "output_throughput")
# issue 21's out-of-sample targets per metric, |predicted / measured - 1| (benchmarks/perf_model.py counts against them)
TARGETS = {"mean_tpot_ms": 0.15, "median_ttft_ms": 0.25, "output_throughput": 0.15}
# the one open-loop arrival the replay sends as bench does: the default (Poisson, rescaled to N / rate)
REPLAYED_ARRIVAL = {"process": arrivals.PROCESS, "normalize": arrivals.NORMALIZE}
FRONTEND = "mean_frontend_ms"  # fitted on too, where vLLM's histograms came with the level (_frontend_ms)
# (factor, lower bound, upper bound, start): efficiencies of a roofline cannot pass ~1; the overheads are ms-scale
BOUNDS = (("kv_bandwidth_efficiency", 0.1, 1.2, 0.8), ("gemm_efficiency", 0.02, 1.2, 0.3),
          ("attention_efficiency", 0.05, 1.2, 0.5), ("layer_overhead_us", 0.0, 500.0, 50.0),
          ("eager_layer_us", 0.0, 5000.0, 1000.0), ("sequence_overhead_us", 0.0, 500.0, 50.0),
          ("collective_us", 0.0, 200.0, 10.0), ("frontend_request_us", 0.0, 100_000.0, 5_000.0),
          ("frontend_token_us", 0.0, 100.0, 3.0), ("piecewise_layer_us", 0.0, 1000.0, 150.0))  # fmt: skip
MULTI_RANK_ONLY = ("collective_us",)  # no single-GPU level says anything about them: left at 0 without one
# fitted on PIECEWISE levels alone, every other factor held as the other levels fitted it: one server flag's
# floor (planner/step_cost.py) should not move what vLLM's default graphs were fitted to
PIECEWISE_ONLY = ("piecewise_layer_us",)
Residuals = Callable[[np.ndarray], np.ndarray]  # the free factors' values -> the log ratios


class PerfCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    point: PerfPoint
    gpu: GpuSpec
    model: ModelSpec
    layout: Layout
    plan: Plan
    steps: tuple[StepSample, ...] = ()  # the level's typical engine steps, measured (reports/engine_steps.py)


class PerfResidual(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run: str
    deployment: str
    level: str
    gpu: str
    load: LoadShape  # the level as replayed: which load domain a miss falls in (benchmarks/perf_domains.py)
    graph_tokens: int  # the largest CUDA graph its server captures, as planned (planner/whole_waves.py)
    cudagraph_mode: str  # how its server replays them (PIECEWISE: a load domain of its own)
    measured: dict[str, float]
    predicted: dict[str, float]
    errors: dict[str, float]  # (predicted - measured) / measured per metric


def perf_cases(runs: list[RunData], *, steps: bool = False, memory: Calibration | None = None) -> list[PerfCase]:
    """Every replayable GPU level of the runs; `steps`: with its typical engine steps rebuilt from its requests
    (what the fit needs; the only part that reads requests.jsonl); `memory`: the calibration the levels' plans
    take (bench calibrate's own fresh one; default: the shipped one for the run's release)."""
    found = [c for run in runs for d in run.record.deployments
             for c in _deployment_cases(run, d, steps=steps, memory=memory)]  # fmt: skip
    if not found:
        raise InputError("--perf", "no GPU level with fixed prompt and output lengths in these run folders",
                         "give run folders of GPU runs (results/gpu_perf_h100, results/gpu_single)")  # fmt: skip
    return found


def _deployment_cases(run: RunData, d: DeploymentRecord, *, steps: bool, memory: Calibration | None) -> list[PerfCase]:
    gpus = run.record.environment.gpus
    gpu = match_gpu_name(gpus[0]["name"]) if gpus else None
    config = run.folder / "models" / d.name
    if d.spec.get("device") != "gpu" or gpu is None or d.status != "ok" or not (config / "config.json").exists():
        return []
    model, layout = load_model(str(config)), layout_of(d)
    plan = plan_capacity(model, gpu, layout, plan_settings(d).model_copy(update={"calibration": memory}))
    cases: list[PerfCase] = []
    by_level: dict[str, list[RequestRecord]] = {}
    for request in run.requests(d) if steps else []:
        by_level.setdefault(request.level, []).append(request)
    for level in d.levels:
        load = _load(level, seed=arrivals.level_seed(int((run.record.scenario or {}).get("seed", 0)), level.index))
        if load is not None and not level.interrupted and not level.profile:  # a profiled level's times: the profiler's
            measured = {m: float(v) for m in METRICS if isinstance(v := level.metrics.get(m), int | float)}
            if (frontend := _frontend_ms(level)) is not None:
                measured[FRONTEND] = frontend
            point = PerfPoint(run=run.record.run_id, deployment=d.name, level=level.name, load=load, measured=measured)
            found = measured_steps(by_level.get(level.name, []), load, token_budget=plan.server.max_num_batched_tokens)
            cases.append(PerfCase(point=point, gpu=gpu, model=model, layout=layout, plan=plan, steps=found))
    return cases


def _frontend_ms(level: LevelSummary) -> float | None:
    """vLLM's mean TTFT less its mean queue and prefill phases (its own histograms): the time from the API
    server taking a request to the engine queueing it, and the first token's way back - the API server's
    part, which the step model does not have."""
    ttft, queue, prefill = (level.server.get(f"server_mean_{k}_ms") for k in ("ttft", "queue", "prefill"))
    if ttft is None or queue is None or prefill is None:
        return None
    return max(ttft - queue - prefill, 0.1)


def _load(level: LevelSummary, *, seed: int) -> LoadShape | None:
    """The level as the planner replays it (replayed_load); None also where nothing completed."""
    completed = level.metrics.get("completed")
    if not completed:
        return None
    # the schedule's N is what was sent (its offsets are rescaled to N / rate), not what completed
    return replayed_load(level.driver, level.input_tokens, level.output_tokens,
                         requests=level.requests_sent or int(completed), seed=seed)  # fmt: skip


def replayed_load(
    driver: dict[str, Any], input_tokens: str, output_tokens: str, *, requests: int, seed: int
) -> LoadShape | None:
    """A level as the planner replays it, from its run.json `driver` and token labels (as bench records them;
    benchmarks/perf_model.py --predict builds the same): fixed lengths only, open loops only as bench sends them
    by default (Poisson rescaled to N / rate, no in-flight cap); None for distributions or other arrivals."""
    if not (input_tokens.isdigit() and output_tokens.isdigit()):
        return None
    concurrency, rate = driver.get("concurrency"), driver.get("rate")
    # a level cut by a duration was not rescaled to N / rate (or rescaled, then cut): its offsets are not the replay's
    if concurrency is None and (rate is None or driver.get("arrival") != REPLAYED_ARRIVAL or "duration_s" in driver
                                or driver.get("burstiness", 1.0) != 1.0 or "max_concurrency" in driver):  # fmt: skip
        return None
    return LoadShape(input_tokens=int(input_tokens), output_tokens=int(output_tokens), concurrency=concurrency,
                     request_rate=None if concurrency else rate, requests=requests, seed=seed)  # fmt: skip


def predict_case(case: PerfCase, factors: PerfFactors) -> LevelPrediction:
    return predict_level(case.model, case.gpu, case.layout, case.plan, load=case.point.load, factors=factors)


def fit_factors(cases: list[PerfCase]) -> PerfFactors:
    """Every factor the cases can say something about: the default-graph levels first, then the floor of
    PIECEWISE-replayed steps on the PIECEWISE levels with the rest held."""
    default = [c for c in cases if not c.plan.server.piecewise_only]
    multi_rank = any(_multi_rank(c) for c in default)
    free = [b[0] for b in BOUNDS if b[0] not in PIECEWISE_ONLY and (multi_rank or b[0] not in MULTI_RANK_ONLY)]
    factors = _fit(default, free, PerfFactors()) if default else PerfFactors()
    piecewise = [c for c in cases if c.plan.server.piecewise_only]
    return _fit(piecewise, list(PIECEWISE_ONLY), factors) if piecewise else factors


def _fit(cases: list[PerfCase], fitted: list[str], held: PerfFactors) -> PerfFactors:
    """`fitted` on `cases` (least squares of the log ratios, the module docstring), the rest as `held`."""
    free = [b for b in BOUNDS if b[0] in fitted]
    names = [name for name, *_ in free]
    residuals = _residual_function(cases, names, held)
    lower, upper, start = ([b[i] for b in free] for i in (1, 2, 3))
    if len(names) == 1:
        return held.model_copy(update={names[0]: _fit_scalar(residuals, float(lower[0]), float(upper[0]))})
    fit = least_squares(residuals, start, bounds=(lower, upper), diff_step=1e-3)
    return held.model_copy(update=dict(zip(names, (float(v) for v in fit.x), strict=True)))


def _fit_scalar(residuals: Residuals, lower: float, upper: float) -> float:
    """One factor alone (planner/scalar_fit.py: the replay is piecewise constant in it)."""
    return fit_scalar(lambda value: float(np.sum(residuals(np.array([value])) ** 2)), lower, upper)


def _residual_function(cases: list[PerfCase], names: list[str], held: PerfFactors) -> Residuals:
    """The log ratios of predicted to measured (levels and rebuilt steps) as a function of `names`' values."""

    def residuals(x: np.ndarray) -> np.ndarray:
        factors = held.model_copy(update=dict(zip(names, (float(v) for v in x), strict=True)))
        out = []
        for case in cases:
            predicted = predict_case(case, factors).model_dump()
            out += [math.log(predicted[m] / v) for m, v in case.point.measured.items() if v > 0 and predicted[m] > 0]
            if case.steps:
                price = engine_model(case.model, case.gpu, case.layout, case.plan, factors=factors).step_seconds
                out += [math.log(price(s.shape) / s.seconds) for s in case.steps]
        return np.array(out)

    return residuals


def calibrate_performance(cases: list[PerfCase]) -> list[PerfCalibration]:
    """One calibration per GPU and model class (planner/calibration.py performance_class), each fitted on
    those levels only."""
    out = []
    for gpu, model_class in sorted({(c.gpu.name, performance_class(c.model)) for c in cases}):
        mine = [c for c in cases if c.gpu.name == gpu and performance_class(c.model) == model_class]
        multi = sum(1 for c in mine if _multi_rank(c))
        out.append(PerfCalibration(gpu=gpu, family=mine[0].gpu.family, model_class=model_class,
                                   factors=fit_factors(mine), points=[c.point for c in mine],
                                   multi_gpu_levels=multi))  # fmt: skip
    return out


def _multi_rank(case: PerfCase) -> bool:
    return case.layout.tp > 1 or case.layout.ep_size > 1


def perf_residuals(cases: list[PerfCase], factors: PerfFactors) -> list[PerfResidual]:
    rows = []
    for case in cases:
        predicted = predict_case(case, factors).model_dump()
        p = case.point
        rows.append(PerfResidual(run=p.run, deployment=p.deployment, level=p.level, gpu=case.gpu.name, load=p.load,
                                 graph_tokens=case.plan.server.largest_capture,
                                 cudagraph_mode=case.plan.server.cudagraph_mode,
                                 measured=p.measured, predicted={m: predicted[m] for m in p.measured},
                                 errors={m: predicted[m] / v - 1 for m, v in p.measured.items() if v}))  # fmt: skip
    return rows

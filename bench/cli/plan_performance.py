"""`bench plan --performance`: the predicted latency curve of a planned deployment, and the concurrency that
meets an SLO (planner/performance.py), with the calibration whose factors made it."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from planner import GpuSpec, Layout, ModelSpec, Plan, PlanSettings
from planner.calibration import performance_class
from planner.capacity import calibration_for
from planner.performance import LevelPrediction, predict_level, slo_concurrency
from planner.serving_sim import LoadShape
from planner.whole_waves import whole_waves

DEFAULT_CONCURRENCY = (1, 2, 4, 8, 16, 32, 64, 128, 256)
WAVES = 4  # requests per level = WAVES x concurrency: steady state, not the first wave alone
# what the EP price leaves out: vLLM's MoE kernel under EP
EP_CAVEAT = (
    "expert parallel is priced with TP's MoE kernel: whole experts per rank, the busiest rank's share of a step's "
    "experts, no all-to-all within one engine. vLLM 0.26.0 on Hopper picks FlashInfer's CUTLASS MoE under EP "
    "(DeepGEMM where FlashInfer is missing), which the model does not have: at TP2 + EP on two H200s the Triton "
    "kernel came within 15% of TPOT at 7 of 8 levels, DeepGEMM at 5 of 8, its decode steps 1.6-2.8 ms longer "
    "(results/perf_model/README.md, 'Eighteenth check'); `--moe-backend triton` runs what is priced"
)


# what the runs with a router spreading tokens over the experts (real weights' case) showed
UNIFORM_ROUTING_CAVEAT = (
    "the router spreads tokens over the experts (real weights, or no score-correction bias), while every MoE level "
    "the factors were fitted on sent all tokens to the same top-k (vLLM's dummy weights). A full prompt step costs "
    "the same either way (vLLM's torch profiler, results/perf_model/README.md 'Twenty-sixth check'); decode reads "
    "more experts, as priced. Checked at TP1 (an H100, an H200), TP2 and TP2 + EP (two H200s) and the seed's TP4 "
    "and TP4 + EP (four H200s), each from the other card's factors: closed-loop TPOT within -16% to +16%, an open "
    "loop's -24% to +5%, TTFT -48% to +46% (results/perf_model/cross-card/)"
)


CLASS_CAVEAT = (
    "no {model_class} model was measured: these are factors fitted on {fitted} levels. Across model classes decode "
    "steps carried and prompt steps did not - a dense FP8 model from MoE factors: TPOT within 15% at 14-16 of 18 "
    "levels, median TTFT within 25% at 3-6 - its 8,192-token prompt steps priced ~1.5x what they took, a lone 1K "
    "prompt's TTFT ~2x (results/perf_model/README.md, 'Twenty-first check'); dense bf16 models from dense FP8 "
    "factors: the same shape within target at 35 of 36 level-metrics, Llama-3.1-8B's TPOT 10-17% high at its "
    "batches ('Twenty-second check'); measure a run of this class and add it with bench calibrate --perf"
)


def performance(model: ModelSpec, gpu: GpuSpec, layout: Layout, plan: Plan, settings: PlanSettings, *,
                shape: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """`shape`: concurrency (list or None), input_tokens, output_tokens, request_rate, slo_ttft_ms, slo_tpot_ms."""
    calibration, _ = calibration_for(settings)
    model_class = performance_class(model)
    factors, source = calibration.performance_factors(gpu, model_class)
    levels = [c for c in shape["concurrency"] or DEFAULT_CONCURRENCY if c <= plan.server.max_num_seqs]

    def predict(concurrency: int | None, rate: float | None = None) -> LevelPrediction:
        requests = WAVES * concurrency if concurrency else max(64, int(rate or 1) * 30)
        load = LoadShape(input_tokens=shape["input_tokens"], output_tokens=shape["output_tokens"],
                         concurrency=concurrency, request_rate=rate, requests=requests)  # fmt: skip
        return predict_level(model, gpu, layout, plan, load=load, factors=factors)

    rows = [predict(c) for c in levels]
    if shape["request_rate"]:
        rows.append(predict(None, shape["request_rate"]))
    caveats = _caveats(plan, shape, levels, piecewise_us=factors.piecewise_layer_us)
    if plan.moe_routing == "spread":
        caveats.append(UNIFORM_ROUTING_CAVEAT)
    if (fitted := calibration.performance_set(gpu, model_class).model_class) != model_class:
        caveats.insert(0, CLASS_CAVEAT.format(model_class=model_class, fitted=fitted))
    out: dict[str, Any] = {"factors": factors.model_dump(), "factors_source": source,
                           "levels": [r.model_dump() for r in rows], "caveats": caveats}  # fmt: skip
    if shape["slo_ttft_ms"] or shape["slo_tpot_ms"]:
        out["slo_concurrency"] = slo_concurrency(predict, ttft_ms=shape["slo_ttft_ms"], tpot_ms=shape["slo_tpot_ms"],
                                                 limit=plan.server.max_num_seqs)  # fmt: skip
    return out


def _caveats(plan: Plan, shape: dict[str, Any], concurrencies: list[int], *, piecewise_us: float) -> list[str]:
    """What the prediction cannot know about the machine it will run on, and where the replay is known wrong;
    `piecewise_us`: the factors' host time a layer of a PIECEWISE step (0: no PIECEWISE level fitted it)."""
    graph = plan.server.largest_capture
    caveats = _graph_caveats(plan.server.cudagraph_mode, graph, shape, piecewise_us=piecewise_us)
    waves = [
        c
        for c in concurrencies
        if whole_waves(
            LoadShape(input_tokens=shape["input_tokens"], output_tokens=shape["output_tokens"], concurrency=c),
            graph_tokens=graph,
        )
    ]
    if plan.ep:
        caveats.append(EP_CAVEAT)
    if plan.dp > 1 and plan.experts_per_gpu is not None:
        caveats.append(
            f"the {plan.dp} DP engines are replayed stepping together, each with its share of the load: vLLM's MoE "
            "layers gather every engine's tokens (all-gather and reduce-scatter over the DP group), so a step lasts "
            "as long as the slowest engine's and a prompt on one engine makes the others' steps eager. A step no "
            "CUDA graph covers is priced with the host's launch twice, for a reason not known: chosen after runs on "
            "one pair of H200s, held blind on another, where lone prompts of 560 to 4K tokens took a flat 169-185 "
            "ms that this prices at 173-248 as the prompt grows (results/perf_model/README.md, 'Nineteenth check', "
            "'Twentieth check')"
        )
    if waves:
        caveats.append(
            f"at c{waves[0]} and above, {shape['input_tokens']}-token prompts come and go in whole waves larger than "
            f"the largest CUDA graph ({graph} tokens), vLLM prefilling each in a few steps no graph covers: there "
            "the other card's factors predicted TPOT within target less often than in any other load domain "
            "measured, and TTFT less often than in other closed loops (results/perf_model/domains.txt, 'whole waves'); "
            "whether a wave stays whole is chance, so its TTFT can differ twofold between runs "
            "(results/perf_model/wave-rule-timelines.txt)"
        )
    return caveats


def _graph_caveats(mode: str, graph: int, shape: dict[str, Any], *, piecewise_us: float) -> list[str]:
    """Where the steps' CUDA graphs (the largest `graph` tokens, under cudagraph_mode `mode`) leave the host
    launching kernels the model does not price, or prices by machine."""
    caveats = []
    if mode == "PIECEWISE" and piecewise_us:
        caveats.append(
            f"cudagraph_mode PIECEWISE: the host launches every step's attention, so a step is priced at least "
            f"the host's {piecewise_us:.0f} us a layer, fitted on this card's PIECEWISE levels at TP1 "
            "(results/gpu_piecewise_blind), which is the host's and differs between machines: one card's floor put "
            "the other's TPOT 1-21% low; a step with a prompt beside decodes is priced as captured, where one took "
            "18-21 ms on an H200 against a price of ~12 (results/perf_model/README.md, 'Fifteenth check')"
        )
    elif mode == "PIECEWISE":
        caveats.append(
            "cudagraph_mode PIECEWISE: the host launches every step's attention, and these factors were fitted on no "
            "PIECEWISE level, so every step is priced as a full CUDA graph's replay: lone decode steps took 10.8 ms "
            "against 7.3 on one H200, where such a prediction came out 29-38% low on TPOT at c1 and 8 req/s, and "
            "16-35% low on one H100 (results/perf_model/README.md, 'Fifteenth check')"
        )
    if mode == "FULL_DECODE_ONLY":
        caveats.append(
            "cudagraph_mode FULL_DECODE_ONLY: the host launches every kernel of a step with a prompt in it, which "
            "the model prices as a full CUDA graph's replay; no run has measured this mode's speed: a lone "
            "128-token prompt's piecewise step took 14-17 ms where a full-graph decode step took 7-8 "
            "(results/gpu_prompt_curve, vLLM's prefill histogram)"
        )
    if shape["input_tokens"] > graph:
        # results/perf_model/lone-prompts.txt (benchmarks/lone_prompts.py over every GPU run)
        caveats.append(
            f"a {shape['input_tokens']}-token prompt runs in steps larger than the largest CUDA graph ({graph} "
            "tokens), whose kernels the host launches one by one: below a few thousand tokens their time, and so "
            "TTFT at low concurrency, differs between server starts and within a level - a lone 1K prompt's median "
            "TTFT took 89-130 ms over five H100 starts and 82-125 over six H200 starts, most levels in two modes "
            "(results/perf_model/lone-prompts.txt, machine-spread.txt)"
        )
    elif shape["request_rate"]:
        caveats.append(
            f"a {shape['input_tokens']}-token prompt shares a step with the decodes that vLLM replays as a piecewise "
            "CUDA graph, its attention launched by the host, which the model prices as captured: an open loop of "
            "256-token prompts came out 5-27% low on TPOT (results/perf_model/README.md, 'Fourteenth check')"
        )
    return caveats


def print_performance(section: dict[str, Any], plan: Plan, console: Console) -> None:
    table = Table(title=f"Predicted latency on {plan.gpus} x {plan.gpu} (vllm bench serve's metrics)",
                  title_justify="left")  # fmt: skip
    for column in ("load", "in / out", "TTFT mean", "TTFT p50", "TPOT mean", "ITL mean", "out tok/s",
                   "req/s", "tok/s per GPU"):  # fmt: skip
        table.add_column(column, justify="right")
    for row in section["levels"]:
        load = f"c{row['concurrency']}" if row["concurrency"] else f"{row['request_rate']:g} req/s"
        load += " KV short" if row["kv_short"] else ""
        table.add_row(load, f"{row['input_tokens']} / {row['output_tokens']}",
                      *(f"{row[k]:,.1f}" for k in ("mean_ttft_ms", "median_ttft_ms", "mean_tpot_ms", "mean_itl_ms",
                                                   "output_throughput")),
                      f"{row['request_throughput']:.2f}", f"{row['output_throughput'] / plan.gpus:,.1f}")  # fmt: skip
    console.print(table)
    console.print(f"{section['factors_source']}. Latencies in ms.")
    for caveat in section["caveats"]:
        console.print(f"  - {caveat}")
    if "slo_concurrency" in section:
        console.print(f"highest concurrency meeting the SLO: {section['slo_concurrency']}")

"""One step of a MoE model's DP engines, priced together (planner/engine_loop.py replays them in lockstep).

vLLM couples them: every MoE layer all-gathers the tokens of all DP engines and reduce-scatters the
outputs over the DP group (its default allgather_reducescatter backend, EP or not), so no engine's step ends
before the slowest one's; each step the engines agree on their token counts and the lowest CUDA-graph mode.
Each engine's part is planner/step_cost.py's price with the MoE layers running every engine's tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from planner.gpus import GpuSpec
from planner.step_cost import PerfFactors, StepModel, StepShape, engine_pricer, launch_seconds, step_pricer

# How many times a step no CUDA graph covers pays the host's launch (eager_layer_us a layer) when a MoE
# model's DP engines step together. Measured on one pair of H200s (results/perf_model/README.md, "Nineteenth
# check"): lone prompts put DP2's eager steps at ~19 us a token over a ~158-ms floor, TP2's on the same host
# at ~21 us over ~77 ms - twice the floor, for a reason not known (read in vLLM's code: the MoE exchange's host
# work in an eager step; not measured). Chosen after those runs from their lone-prompt levels; held blind on
# another pair of H200s ("Twentieth check": DP TPOT 16, TTFT 15, throughput 20 of 20 levels from the H100's
# factors), though its lone prompts took a flat 169-185 ms from 560 to 4K tokens where this prices 173-248.
COUPLED_LAUNCHES = 2
_DUMMY = StepShape(decode_contexts=(1,))  # what an idle DP engine runs to join the others' MoE layers


def coupled_pricer(sm: StepModel, gpu: GpuSpec, factors: PerfFactors) -> Callable[[Sequence[StepShape]], float]:
    """One step of a MoE model's DP engines, every engine's shape given (empty: an idle engine): their MoE
    layers gather all engines' tokens, so the step ends when the slowest engine's does. vLLM agrees the
    graph mode across engines each step (the lowest: one engine's step uncaptured, every engine's eager)
    and under graphs pads every engine to the most tokens any has (v1/worker/dp_utils.py); an idle engine
    runs a one-token dummy batch. An eager step of coupled engines pays the host's launch COUPLED_LAUNCHES
    times. The all-reduce that agrees those counts (on the CPU under async scheduling) is not priced."""
    price, alone = engine_pricer(sm, gpu, factors), step_pricer(sm, gpu, factors)
    more_launches = (COUPLED_LAUNCHES - 1) * launch_seconds(sm, factors)

    def step(shapes: Sequence[StepShape]) -> float:
        if len(shapes) == 1:
            return alone(shapes[0])
        taking = [s if s.tokens else _DUMMY for s in shapes]
        eager = any(s.uncaptured(sm.graph_tokens) for s in taking)
        gathered = sum(s.tokens for s in taking) if eager else len(taking) * max(s.tokens for s in taking)
        return max(price(s, gathered, eager) for s in taking) + (more_launches if eager else 0.0)

    return step

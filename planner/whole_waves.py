"""The load domain where the batching replay (planner/serving_sim.py) is weakest: whole waves.

A closed loop sends its requests together and gets them back together (one length each), and vLLM keeps
such a wave whole: its API server takes the burst in at once and the engine prefills it in one or two steps,
too large for any CUDA graph once the prompts together pass the largest one (results/gpu_wave_edges: 15
128-token prompts at c16 took two 140-ms steps; results/perf_model/wave-c16-timeline-h200.txt). Prompts
past the largest graph run uncaptured alone too. Drawn after the eleventh check, over every cross-card level,
where the replay of then missed all but one such level's TTFT; the replay since keeps such waves (its API
server hands a burst over together, an uncaptured step holds back the step before's tokens) and holds
there more often, but still less often than elsewhere (results/perf_model/domains.txt,
benchmarks/perf_domains.py). Tested blind in the twelfth check (results/gpu_wave_rule): whether a wave stays
whole is chance - two 480-token prompts sent together at c2 were prefilled in one uncaptured step round after
round in one run (median TTFT 93 ms) and split into two captured steps from the second round on in the next,
on the same machine (51 ms); once split, a loop stays split, its requests finishing a step apart
(results/perf_model/wave-rule-timelines.txt). `bench plan --performance` warns of it and `bench report` marks
its levels.
"""

from __future__ import annotations

from planner.serving_sim import LoadShape


def whole_waves(load: LoadShape, *, graph_tokens: int) -> bool:
    """A closed loop of two or more whose prompts (less what the prefix cache holds) are each smaller than
    the largest CUDA graph (`graph_tokens`; 0: none) and together larger."""
    prompt = load.input_tokens - load.cached_tokens
    return bool(load.concurrency and load.concurrency > 1 and prompt < graph_tokens < load.concurrency * prompt)

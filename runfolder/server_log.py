"""`deployments/NAME/server.log`: the facts vLLM prints about itself at start-up (version, weights, the
terms of its memory budget, KV capacity, a refusal's estimate), read by bench when a server starts
and by reports (bench calibrate) from committed run folders; and what it logs while serving that skews
the requests around it (`serving_events`, read by bench for each level's measured part)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

_NUM = r"([0-9][0-9,]*(?:\.[0-9]+)?)"
_PATTERNS = {
    "vllm_version": re.compile(r"version (\d+\.\d+\.\d+\S*)"),
    "weights_gib": re.compile(r"Model loading took " + _NUM + r" ?GiB"),
    "available_kv_gib": re.compile(r"Available KV cache memory: " + _NUM + r" ?GiB"),
    "kv_cache_tokens": re.compile(r"(?:GPU|CPU) KV cache size: " + _NUM + r" tokens"),
    "max_concurrency": re.compile(r"Maximum concurrency for " + _NUM + r" tokens per request: " + _NUM + r"x"),
    "explicit_kv_gib": re.compile(r"Explicitly set \(" + _NUM + r"/"),
    # GPU worker (vLLM >= 0.21): the budget's terms, as vLLM itself measured them
    "gpu_total_gib": re.compile(r"Free memory on device \([0-9.]+/" + _NUM + r" GiB\)"),
    "requested_gib": re.compile(r"Desired GPU memory utilization is \([0-9.]+, " + _NUM + r" GiB\)"),
    "activation_peak_gib": re.compile(_NUM + r" GiB for peak activation"),
    "non_torch_gib": re.compile(_NUM + r" GiB for non-torch memory"),
    "cudagraph_estimate_gib": re.compile(r"Estimated CUDA graph memory: " + _NUM + r" GiB"),
    "cudagraph_actual_gib": re.compile(r"CUDA graph pool memory: " + _NUM + r" GiB \(actual\)"),
    # a refusal: KV memory cannot hold one request of max_model_len (vllm/v1/core/kv_cache_utils.py)
    "estimated_max_model_len": re.compile(r"the estimated maximum model length is (\d+)"),
    # expert parallel: each rank logs its share (vllm/model_executor/layers/fused_moe, expert map)
    "local_experts": re.compile(r"Local/global number of experts: (\d+)/(\d+)"),
    # the fused-MoE kernel found no tuned tile file for this shape and GPU and runs its default tiles
    # (vllm/model_executor/layers/fused_moe/fused_moe.py get_moe_configs): the file's name, E=..,N=..,device_name=..
    "untuned_moe_config": re.compile(r"Config file not found at \S*?/?(E=[^/\s]+?)\.json"),
}

# vLLM >= 0.26 watches for kernels compiled after start-up (vllm/.../jit_monitor.py): a Triton JIT stalls
# every request in flight for ~1 s (a TP4 level's 2K prompt step took 1,183 ms where its others took 104)
_V2_RUNNER = "Using V2 Model Runner"  # vllm/v1/worker/gpu_worker.py, once at init, V2 only
_GPU_WORKER_INIT = re.compile(r"\[gpu_worker\.py:\d+\]")
_JIT_DURING_SERVING = re.compile(r"JIT compilation during inference: ([A-Za-z0-9_]+)")


def serving_events(log: str) -> list[str]:
    """What a stretch of the log says went wrong for the requests served meanwhile, one line per kind."""
    kernels = _JIT_DURING_SERVING.findall(log)
    if not kernels:
        return []
    names = ", ".join(sorted(set(kernels)))
    return [f"vLLM compiled {len(kernels)} kernel(s) while serving ({names}): a ~1 s stall of every request "
            "in flight; warm up with the level's own shapes"]  # fmt: skip


class StartupFacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vllm_version: str | None = None
    weights_gib: float | None = None
    available_kv_gib: float | None = None
    explicit_kv_gib: float | None = None
    kv_cache_tokens: int | None = None
    max_concurrency_len: int | None = None
    max_concurrency: float | None = None
    gpu_total_gib: float | None = None
    requested_gib: float | None = None
    activation_peak_gib: float | None = None
    non_torch_gib: float | None = None
    cudagraph_estimate_gib: float | None = None
    cudagraph_actual_gib: float | None = None
    estimated_max_model_len: int | None = None
    local_experts: int | None = None  # with EP: the most experts a rank logged holding (0.32 logs rank 0's)
    global_experts: int | None = None
    v2_model_runner: bool | None = None  # the GPU worker said "Using V2 Model Runner"; None: no GPU worker line
    untuned_moe_config: str | None = None  # the MoE shape vLLM has no tuned kernel tiles for (E=..,N=..,device_name=..)

    @property
    def model_runner(self) -> Literal["v1", "v2"] | None:
        """The GPU model runner the log names, as the planner spells it; None where no GPU worker started."""
        return None if self.v2_model_runner is None else "v2" if self.v2_model_runner else "v1"


def parse_startup(log: str) -> StartupFacts:
    """Last occurrence of each fact wins (a restarted engine prints them again)."""
    facts: dict[str, object] = {}
    for key, pattern in _PATTERNS.items():
        matches = pattern.findall(log)
        if not matches:
            continue
        last = matches[-1]
        if key == "local_experts":  # one line per rank: the fullest rank
            facts["local_experts"] = max(int(local) for local, _ in matches)
            facts["global_experts"] = int(last[1])
        elif key == "max_concurrency":
            facts["max_concurrency_len"] = int(last[0].replace(",", ""))
            facts["max_concurrency"] = float(last[1].replace(",", ""))
        elif key in ("vllm_version", "untuned_moe_config"):
            facts[key] = last
        elif key in ("kv_cache_tokens", "estimated_max_model_len"):
            facts[key] = int(last.replace(",", ""))
        else:
            facts[key] = float(last.replace(",", ""))
    if _GPU_WORKER_INIT.search(log):
        facts["v2_model_runner"] = _V2_RUNNER in log
    return StartupFacts(**facts)

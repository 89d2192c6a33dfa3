"""KV-cache bytes per token: whole model, and per GPU under tensor and pipeline parallelism."""

from __future__ import annotations

from planner.errors import InputError
from planner.model_spec import ModelSpec

KV_DTYPE_BYTES = {"fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1, "bfloat16": 2, "float16": 2, "half": 2}
KV_DTYPES = ("auto", *KV_DTYPE_BYTES)


def kv_dtype_bytes(model: ModelSpec, kv_cache_dtype: str) -> int:
    """`auto` stores KV in the model's activation dtype (16-bit even for FP8-weight checkpoints)."""
    if kv_cache_dtype == "auto":
        return model.param_bytes
    if kv_cache_dtype not in KV_DTYPE_BYTES:
        raise InputError("--kv-cache-dtype", f"unknown dtype '{kv_cache_dtype}'", f"use one of {', '.join(KV_DTYPES)}")
    return KV_DTYPE_BYTES[kv_cache_dtype]


def kv_heads_per_gpu(model: ModelSpec, tp: int) -> int:
    """Heads are split over TP ranks; with more ranks than heads each rank keeps a replica of one."""
    return max(1, model.num_kv_heads // tp)


def kv_bytes_per_token(model: ModelSpec, kv_cache_dtype: str = "auto") -> int:
    """Whole model, one copy: 2 (K and V) x layers x kv_heads x head_dim x dtype bytes."""
    return 2 * model.num_layers * model.num_kv_heads * model.head_dim * kv_dtype_bytes(model, kv_cache_dtype)


def kv_bytes_per_token_per_gpu(model: ModelSpec, tp: int, layers: int, kv_cache_dtype: str = "auto") -> int:
    """One GPU holding `layers` layers: 2 x layers x kv_heads_per_gpu x head_dim x dtype bytes."""
    return 2 * layers * kv_heads_per_gpu(model, tp) * model.head_dim * kv_dtype_bytes(model, kv_cache_dtype)


def block_bytes_per_gpu(
    model: ModelSpec, tp: int, layers: int, block_size: int, *, kv_cache_dtype: str = "auto"
) -> int:
    """One KV block across this GPU's layers: vLLM's page size per layer (2 x block_size x heads x
    head_dim x bytes) times the layers, which is what a block costs when the budget is divided."""
    return block_size * kv_bytes_per_token_per_gpu(model, tp, layers, kv_cache_dtype)

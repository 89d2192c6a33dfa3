"""KV-cache bytes per token: whole model, and per GPU under tensor and pipeline parallelism."""

from __future__ import annotations

from math import ceil

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


def kv_bytes_per_token_per_layer(model: ModelSpec, tp: int, kv_cache_dtype: str = "auto") -> int:
    """One layer, one token, one GPU. MLA: the latent (kv_lora_rank + qk_rope_head_dim) x dtype bytes, whole
    on every TP rank; otherwise 2 (K and V) x kv_heads_per_gpu x head_dim x dtype bytes. A sliding layer's
    page is a full layer's: the window changes how many blocks a request keeps, not their size."""
    dtype = kv_dtype_bytes(model, kv_cache_dtype)
    if model.attention.mla is not None:
        return model.attention.mla.latent_dim * dtype
    return 2 * kv_heads_per_gpu(model, tp) * model.head_dim * dtype


def kv_bytes_per_token(model: ModelSpec, kv_cache_dtype: str = "auto") -> int:
    """Whole model, one copy, every layer holding the token (a sliding layer only while it is in the window)."""
    return model.num_layers * kv_bytes_per_token_per_layer(model, 1, kv_cache_dtype)


def kv_bytes_per_token_per_gpu(model: ModelSpec, tp: int, layers: int, kv_cache_dtype: str = "auto") -> int:
    """One GPU holding `layers` layers: layers x kv_bytes_per_token_per_layer."""
    return layers * kv_bytes_per_token_per_layer(model, tp, kv_cache_dtype)


def block_bytes_per_gpu(model: ModelSpec, tp: int, pages: int, block_size: int, *, kv_cache_dtype: str = "auto") -> int:
    """One pool block on one GPU: `pages` layer pages (its widest KV-cache group's layers there,
    planner/kv_groups.py) of block_size tokens each, which is what a block costs when the budget is divided."""
    return pages * block_size * kv_bytes_per_token_per_layer(model, tp, kv_cache_dtype)


def hybrid_block_size(model: ModelSpec, tp: int, block_size: int, *, kv_cache_dtype: str, ssm_bytes: int | None) -> int:
    """With linear-attention layers, vLLM raises the block to the smallest multiple of `block_size` whose
    attention page holds one layer's state, then pads the state to that page (_align_hybrid_block_size).
    `ssm_bytes`: the recurrent state's dtype bytes (None: the model's; 4 where vLLM forces float32)."""
    gdn = model.attention.gdn
    if gdn is None:
        return block_size
    state = gdn.state_bytes(tp, conv_bytes=model.param_bytes, ssm_bytes=ssm_bytes or model.param_bytes)
    return block_size * ceil(state / (block_size * kv_bytes_per_token_per_layer(model, tp, kv_cache_dtype)))

"""KV-cache bytes per token: whole model, and per GPU under tensor and pipeline parallelism."""

from __future__ import annotations

from math import ceil

from planner.errors import InputError
from planner.model_spec import ModelSpec
from planner.server_settings import default_block_size

KV_DTYPE_BYTES = {"fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1, "bfloat16": 2, "float16": 2, "half": 2}
KV_DTYPES = ("auto", *KV_DTYPE_BYTES)


def kv_dtype_bytes(model: ModelSpec, kv_cache_dtype: str) -> int:
    """`auto` stores KV in the model's activation dtype (16-bit even for FP8-weight checkpoints)."""
    if kv_cache_dtype == "auto":
        return model.param_bytes
    if kv_cache_dtype not in KV_DTYPE_BYTES:
        raise InputError("--kv-cache-dtype", f"unknown dtype '{kv_cache_dtype}'", f"use one of {', '.join(KV_DTYPES)}")
    return KV_DTYPE_BYTES[kv_cache_dtype]


def default_block(model: ModelSpec, *, on_cpu: bool, amx: bool = False) -> int:
    """vLLM's block for this model when none is given (planner/server_settings.py default_block_size)."""
    mla = model.attention.mla
    return default_block_size(on_cpu, mla=mla is not None, amx=amx, sparse_mla=bool(mla and mla.index_head_dim))


def kv_heads_per_gpu(model: ModelSpec, tp: int) -> int:
    """Heads are split over TP ranks; with more ranks than heads each rank keeps a replica of one."""
    return max(1, model.num_kv_heads // tp)


def kv_bytes_per_token_per_layer(model: ModelSpec, tp: int, kv_cache_dtype: str = "auto") -> int:
    """One layer, one token, one GPU. MLA: the latent (kv_lora_rank + qk_rope_head_dim) x dtype bytes,
    whole on every TP rank (V3.2: plus its indexer's key: MLAShape.token_bytes); otherwise 2 (K and V) x
    kv_heads_per_gpu x head_dim x dtype bytes. A sliding layer's page is a full layer's: the window changes
    how many blocks a request keeps, not their size."""
    dtype = kv_dtype_bytes(model, kv_cache_dtype)
    if model.attention.mla is not None:
        return model.attention.mla.token_bytes(dtype)
    return 2 * kv_heads_per_gpu(model, tp) * model.head_dim * dtype


def kv_bytes_per_token(model: ModelSpec, kv_cache_dtype: str = "auto") -> int:
    """Whole model, one copy, every layer that keeps KV per token (a sliding layer only while the token is in
    its window; state layers keep none)."""
    return model.attention.token_layers(model.num_layers) * kv_bytes_per_token_per_layer(model, 1, kv_cache_dtype)


def kv_bytes_per_token_per_gpu(model: ModelSpec, tp: int, layers: range, kv_cache_dtype: str = "auto") -> int:
    """One GPU holding decoder `layers`: its per-token KV layers x kv_bytes_per_token_per_layer."""
    held = sum(
        1 for layer, kind, _ in model.attention.kv_layers(model.num_layers) if kind != "state" and layer in layers
    )
    return held * kv_bytes_per_token_per_layer(model, tp, kv_cache_dtype)


def block_bytes_per_gpu(model: ModelSpec, tp: int, pages: int, block_size: int, *, kv_cache_dtype: str = "auto") -> int:
    """One pool block on one GPU: `pages` layer pages (its widest KV-cache group's layers there,
    planner/kv_groups.py) of block_size tokens each, which is what a block costs when the budget is divided."""
    return pages * block_size * kv_bytes_per_token_per_layer(model, tp, kv_cache_dtype)


def state_bytes_per_layer(model: ModelSpec, tp: int, *, ssm_bytes: int | None) -> int:
    """One state layer's state for one request on one GPU (0 without state layers). `ssm_bytes`: the host's
    forced recurrent-state dtype (4 where vLLM's CPU platform forces float32), else the model's declared
    one (Nemotron-H: float32), else the model's dtype."""
    state = model.attention.state
    if state is None:
        return 0
    ssm = ssm_bytes or state.ssm_dtype_bytes or model.param_bytes
    return state.state_bytes(tp, dtype_bytes=model.param_bytes, ssm_bytes=ssm)


def hybrid_block_size(model: ModelSpec, tp: int, block_size: int, *, kv_cache_dtype: str, ssm_bytes: int | None) -> int:
    """With state layers, vLLM raises the block to the smallest multiple of `block_size` whose attention
    page holds one layer's state, then pads the state to that page (_align_hybrid_block_size)."""
    state = state_bytes_per_layer(model, tp, ssm_bytes=ssm_bytes)
    if not state:
        return block_size
    return block_size * ceil(state / (block_size * kv_bytes_per_token_per_layer(model, tp, kv_cache_dtype)))

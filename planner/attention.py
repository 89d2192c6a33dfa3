"""Which attention each layer runs, read from config.json the way vLLM builds a KV-cache spec per layer
(vllm/v1/kv_cache_interface.py):

- GQA / MHA / MQA: FullAttentionSpec, K and V of the layer's KV heads per token (heads split over TP);
- MLA (DeepSeek-V2/V3, Kimi-K2): MLAAttentionSpec, one latent vector of kv_lora_rank + qk_rope_head_dim
  per token and layer, no separate V, and the same vector on every TP rank (TP does not shrink it);
- sliding window: SlidingWindowSpec, the page of full attention, but a request keeps only the blocks
  its window (plus the tokens in flight) touches. Which layers slide comes from `layer_types`
  (sliding_attention / full_attention) or Gemma's `sliding_window_pattern` (every Nth layer full);
- chunked local attention (Llama 4's RoPE layers, `attention_chunk_size`; `no_rope_layers` marks the
  full-attention NoPE ones): ChunkedLocalAttentionSpec, a request keeps one chunk plus the tokens in
  flight (vLLM's hybrid KV manager sizes it so by default: VLLM_ALLOW_CHUNKED_LOCAL_ATTN_WITH_HYBRID_KV_CACHE=1);
- Gated DeltaNet linear attention (Qwen3-Next, `layer_types` linear_attention): MambaSpec, a fixed
  state per request: a conv state of (2 x key heads x key dim + value heads x value dim) / TP
  channels x (conv kernel - 1) and a recurrent state of value heads / TP x value dim x key dim.

Anything else that changes what a layer stores (Mamba or lightning attention, DeepSeek V3.2's indexer
cache, a window without a per-layer pattern) is refused, naming the field: never planned as full
attention.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from planner.errors import InputError

FULL, SLIDING, LINEAR = "full_attention", "sliding_attention", "linear_attention"
STATE = -1  # a layer's "window" when it keeps a fixed state per request instead of per-token KV
MODELLED = (
    "full attention (MHA / GQA / MQA), MLA, and mixed with full attention: sliding-window layers, chunked "
    "local attention and Gated DeltaNet linear attention (layer_types full_attention / sliding_attention / "
    "linear_attention; attention_chunk_size)"
)
GDN_KEYS = ("linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim", "linear_value_head_dim",
            "linear_conv_kernel_dim")  # fmt: skip
# hybrid-model keys whose non-attention entries vLLM sizes as fixed per-sequence state (Mamba, linear attention)
HYBRID_KEYS = {"layers_block_type": "attention", "hybrid_override_pattern": "*"}


class MLAShape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kv_lora_rank: int
    qk_rope_head_dim: int
    qk_nope_head_dim: int
    v_head_dim: int
    q_lora_rank: int  # 0: queries projected straight from the hidden state (DeepSeek-V2-Lite)

    @property
    def latent_dim(self) -> int:
        """What one token stores per layer: the compressed KV plus the shared rope key."""
        return self.kv_lora_rank + self.qk_rope_head_dim


class GDNShape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    linear_num_key_heads: int
    linear_num_value_heads: int
    linear_key_head_dim: int
    linear_value_head_dim: int
    linear_conv_kernel_dim: int

    def state_bytes(self, tp: int, *, conv_bytes: int, ssm_bytes: int) -> int:
        """One layer's state for one request on one TP rank (vLLM's gated_delta_net_state_shape)."""
        keys = self.linear_num_key_heads * self.linear_key_head_dim
        conv = (2 * keys + self.linear_num_value_heads * self.linear_value_head_dim) // tp
        recurrent = self.linear_num_value_heads // tp * self.linear_value_head_dim * self.linear_key_head_dim
        return conv * (self.linear_conv_kernel_dim - 1) * conv_bytes + recurrent * ssm_bytes


class AttentionShape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mla: MLAShape | None = None
    gdn: GDNShape | None = None
    # per layer: 0 = full attention, > 0 its sliding window, STATE a linear-attention layer; () = all full
    windows: tuple[int, ...] = ()
    chunks: tuple[int, ...] = ()  # per layer: its local-attention chunk, 0 = none; () = none

    def window(self, layer: int) -> int:
        return self.windows[layer] if self.windows else 0

    @property
    def sliding_layers(self) -> int:
        return sum(1 for w in self.windows if w > 0)

    @property
    def state_layers(self) -> int:
        return sum(1 for w in self.windows if w == STATE)


def attention_shape(config: dict[str, Any], *, layers: int, context: int, source: str) -> AttentionShape:
    _refuse_unmodelled(config, source)
    windows = _windows(config, layers, context, source)
    return AttentionShape(
        mla=_mla(config, source),
        gdn=_gdn(config, source) if STATE in windows else None,
        windows=windows,
        chunks=_chunks(config, layers),
    )


def attention_notes(shape: AttentionShape, layers: int) -> list[str]:
    notes = []
    if shape.mla is not None:
        notes.append(
            f"MLA: KV is one latent of {shape.mla.latent_dim} values per token and layer, whole on every TP rank "
            "(TP does not shrink it); activation overhead terms were calibrated on GQA models"
        )
    if shape.state_layers:
        notes.append(
            f"Gated DeltaNet: {shape.state_layers} of {layers} layers keep a fixed state per request (one block, "
            "two with prefix caching's 'align' mode); vLLM raises the block size until one attention page holds it"
        )
    if shape.sliding_layers:
        windows = sorted({w for w in shape.windows if w > 0})
        notes.append(
            f"sliding window {', '.join(map(str, windows))} tokens on {shape.sliding_layers} of {layers} layers: "
            "there a request keeps cdiv(min(window - 1 + tokens in flight, its length), block) + 1 blocks"
        )
    if any(shape.chunks):
        notes.append(
            f"chunked local attention ({max(shape.chunks)} tokens) on {sum(1 for c in shape.chunks if c)} of "
            f"{layers} layers: there a request keeps cdiv(min(chunk + tokens in flight, its length), block) blocks"
        )
    return notes


def _refuse(source: str, field: str, problem: str) -> InputError:
    return InputError(
        f"{source}: {field}",
        f"{problem}; the planner models {MODELLED} only",
        "use a model of a modelled kind (Mamba and lightning-attention hybrids are not sized yet)",
    )


def _refuse_unmodelled(config: dict[str, Any], source: str) -> None:
    if config.get("index_topk") or config.get("index_head_dim"):
        raise _refuse(source, "index_topk", "DeepSeek V3.2's sparse-attention indexer cache is not modelled yet")
    if 0 in (config.get("attn_type_list") or []):
        gone = "vLLM serves MiniMax-Text-01 / M1 no longer (removed after 0.23.0, its models/registry.py)"
        raise _refuse(source, "attn_type_list", f"lightning (linear) attention layers are not modelled: {gone}")
    for key, attention in HYBRID_KEYS.items():
        kinds = config.get(key)
        if kinds and any(str(k) != attention for k in (kinds if isinstance(kinds, list) else str(kinds))):
            raise _refuse(source, key, "hybrid Mamba / linear-attention layers are not modelled yet")


def _mla(config: dict[str, Any], source: str) -> MLAShape | None:
    if not config.get("kv_lora_rank"):
        return None
    values = {}
    for key in ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise InputError(f"{source}: {key}", f"MLA needs a positive integer, got {value!r}", f"set '{key}'")
        values[key] = value
    return MLAShape(q_lora_rank=int(config.get("q_lora_rank") or 0), **values)


def _windows(config: dict[str, Any], layers: int, context: int, source: str) -> tuple[int, ...]:
    kinds = config.get("layer_types")
    window = config.get("sliding_window")
    if not kinds and isinstance(config.get("sliding_window_pattern"), int) and config["sliding_window_pattern"] > 0:
        pattern = config["sliding_window_pattern"]  # Gemma-3: every pattern-th layer is global
        kinds = [FULL if (i + 1) % pattern == 0 else SLIDING for i in range(layers)]
    if not kinds:
        if isinstance(window, int) and config.get("use_sliding_window", True) and window < context:
            raise _refuse(source, "sliding_window", f"a sliding window ({window} tokens) without layer_types "
                                                    "(which layers slide is model-specific)")  # fmt: skip
        return ()
    other = sorted({str(k) for k in kinds} - {FULL, SLIDING, LINEAR})
    if other:
        raise _refuse(source, "layer_types", f"layer kinds {other} are not modelled yet (vLLM sizes each its own way)")
    if len(kinds) != layers:
        raise InputError(f"{source}: layer_types", f"{len(kinds)} entries for {layers} layers", "one per layer")
    if SLIDING not in kinds and LINEAR not in kinds:
        return ()
    if SLIDING in kinds and (not isinstance(window, int) or isinstance(window, bool) or window <= 0):
        raise InputError(f"{source}: sliding_window", f"sliding layers need a window, got {window!r}", "set it")
    if SLIDING in kinds and LINEAR in kinds:
        raise _refuse(source, "layer_types", "sliding-window and linear-attention layers together are not modelled")
    return tuple(int(window or 0) if kind == SLIDING else STATE if kind == LINEAR else 0 for kind in kinds)


def _chunks(config: dict[str, Any], layers: int) -> tuple[int, ...]:
    """Llama 4: the RoPE layers (no_rope_layers 1; by default 3 of every 4) attend within chunks."""
    chunk = config.get("attention_chunk_size")
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk <= 0:
        return ()
    rope = config.get("no_rope_layers")
    if not isinstance(rope, list) or len(rope) != layers:
        rope = [int((i + 1) % 4 != 0) for i in range(layers)]  # transformers' no_rope_layer_interval 4
    return tuple(chunk if uses_rope else 0 for uses_rope in rope)


def _gdn(config: dict[str, Any], source: str) -> GDNShape:
    missing = [key for key in GDN_KEYS if not isinstance(config.get(key), int) or config[key] <= 0]
    if missing:
        raise _refuse(source, missing[0], "linear_attention layers other than Gated DeltaNet are not modelled yet")
    return GDNShape(**{key: config[key] for key in GDN_KEYS})

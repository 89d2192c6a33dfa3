"""Which attention each layer runs, read from config.json the way vLLM builds a KV-cache spec per layer
(vllm/v1/kv_cache_interface.py):

- GQA / MHA / MQA: FullAttentionSpec, K and V of the layer's KV heads per token (heads split over TP);
- MLA (DeepSeek-V2/V3, Kimi-K2): MLAAttentionSpec, one latent vector of kv_lora_rank + qk_rope_head_dim
  per token and layer, no separate V, and the same vector on every TP rank (TP does not shrink it);
  DeepSeek V3.2 adds its indexer's key cache in every layer (one KV-cache group with the latent);
- sliding window: SlidingWindowSpec, the page of full attention, but a request keeps only the blocks
  its window (plus the tokens in flight) touches. Which layers slide comes from `layer_types`
  (sliding_attention / full_attention) or Gemma's `sliding_window_pattern` (every Nth layer full);
- chunked local attention (Llama 4's RoPE layers, `attention_chunk_size`; `no_rope_layers` marks the
  full-attention NoPE ones): ChunkedLocalAttentionSpec, a request keeps one chunk plus the tokens in
  flight (vLLM's hybrid KV manager sizes it so by default: VLLM_ALLOW_CHUNKED_LOCAL_ATTN_WITH_HYBRID_KV_CACHE=1);
- a fixed state per request (MambaSpec; planner/recurrent_state.py): Gated DeltaNet (Qwen3-Next),
  Mamba2 (Nemotron-H's M layers; Falcon-H1, beside the attention of every layer), lightning attention
  (MiniMax-Text-01 / M1, `attn_type_list` 0).

Each KV-holding layer is one (decoder layer, kind, span) entry: a decoder layer may have none (Nemotron-H's
MLP-only layers) or two (Falcon-H1). Anything else that changes what a layer stores (Mamba1, a window
without a per-layer pattern) is refused, naming the field: never planned as full attention.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from planner.errors import InputError
from planner.recurrent_state import GDN_KEYS, StateShape, gdn_state, lightning_state, mamba2_state

FULL, SLIDING, LINEAR = "full_attention", "sliding_attention", "linear_attention"
Kind = Literal["full", "sliding", "chunked", "state"]
MODELLED = (
    "full attention (MHA / GQA / MQA), MLA (with V3.2's sparse-attention indexer), and mixed with full "
    "attention: sliding-window layers, chunked "
    "local attention, Gated DeltaNet linear attention (layer_types full_attention / sliding_attention / "
    "linear_attention; attention_chunk_size), Mamba2 (Nemotron-H hybrid_override_pattern M / - / *, Falcon-H1) "
    "and lightning attention (attn_type_list)"
)
# hybrid-model keys whose other entries vLLM sizes as per-sequence state the planner does not model (Jamba's Mamba1)
HYBRID_KEYS = {"layers_block_type": "attention"}
FP8_SCALE_GROUP = 128  # values per fp32 scale in V3.2's fp8 caches (vLLM's quant_block_size)
NEMOTRON_H: dict[str, Kind | None] = {
    "M": "state",
    "*": "full",
    "-": None,
}  # hybrid_override_pattern: Mamba2, attention, MLP only


class MLAShape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kv_lora_rank: int
    qk_rope_head_dim: int
    qk_nope_head_dim: int
    v_head_dim: int
    q_lora_rank: int  # 0: queries projected straight from the hidden state (DeepSeek-V2-Lite)
    # DeepSeek V3.2's sparse-attention indexer (index_topk): its key width and heads; 0 = dense MLA
    index_head_dim: int = 0
    index_n_heads: int = 0

    @property
    def latent_dim(self) -> int:
        """What one token stores per layer: the compressed KV plus the shared rope key."""
        return self.kv_lora_rank + self.qk_rope_head_dim

    def token_bytes(self, dtype_bytes: int) -> int:
        """One token, one layer, on every TP rank. Dense MLA: the latent. Sparse (V3.2): with an fp8 cache
        vLLM's FlashMLA-sparse layout 'fp8_ds_mla' (the latent's nope part in fp8, one fp32 scale per 128,
        the rope part in bf16: 656 bytes for DeepSeek), and beside it the indexer's key in fp8 with one
        fp32 scale per 128 (DeepseekV32IndexerCache: 132 bytes)."""
        if not self.index_head_dim:
            return self.latent_dim * dtype_bytes
        main = self.latent_dim * dtype_bytes
        if dtype_bytes == 1:
            main = self.kv_lora_rank + self.kv_lora_rank // FP8_SCALE_GROUP * 4 + self.qk_rope_head_dim * 2
        return main + self.index_head_dim + self.index_head_dim // FP8_SCALE_GROUP * 4


class AttentionShape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mla: MLAShape | None = None
    state: StateShape | None = None  # what a "state" layer keeps per request
    # per KV-holding layer: (decoder layer, kind, sliding window or chunk in tokens); () = every layer full
    layers: tuple[tuple[int, Kind, int], ...] = ()
    mlp_free_layers: int = 0  # decoder layers without an MLP (Nemotron-H's attention and Mamba2 layers)

    def kv_layers(self, num_layers: int) -> tuple[tuple[int, Kind, int], ...]:
        return self.layers or tuple((layer, "full", 0) for layer in range(num_layers))

    def count(self, kind: Kind, num_layers: int) -> int:
        return sum(1 for _, k, _ in self.kv_layers(num_layers) if k == kind)

    @property
    def state_layers(self) -> int:
        return sum(1 for _, k, _ in self.layers if k == "state")

    def token_layers(self, num_layers: int) -> int:
        """Layers that keep KV per token (full, sliding, chunked)."""
        return len(self.kv_layers(num_layers)) - self.state_layers


def attention_shape(config: dict[str, Any], *, layers: int, context: int, source: str) -> AttentionShape:
    _refuse_unmodelled(config, source)
    kinds, state = _state_layers(config, layers, source)
    if kinds is None:
        windows = _windows(config, layers, context, source)
        chunks = _chunks(config, layers)
        kinds = [[("sliding", windows[i])] if windows and windows[i] else [("chunked", chunks[i])]
                 if chunks and chunks[i] else [("full", 0)] for i in range(layers)]  # fmt: skip
    entries = tuple((layer, kind, span) for layer, mixers in enumerate(kinds) for kind, span in mixers)
    plain = all(kind == "full" for _, kind, _ in entries) and len(entries) == layers
    return AttentionShape(mla=_mla(config, source), state=state, layers=() if plain else entries,
                          mlp_free_layers=_mlp_free(config))  # fmt: skip


def attention_notes(shape: AttentionShape, layers: int) -> list[str]:
    notes = []
    if shape.mla is not None:
        notes.append(
            f"MLA: KV is one latent of {shape.mla.latent_dim} values per token and layer, whole on every TP rank "
            "(TP does not shrink it); activation overhead terms were calibrated on GQA models"
        )
    if shape.state is not None:
        name = {"gdn": "Gated DeltaNet", "mamba2": "Mamba2", "lightning": "lightning attention"}[shape.state.kind]
        notes.append(
            f"{name}: {shape.state_layers} layers keep a fixed state per request (one block, two with prefix "
            "caching's 'align' mode); vLLM raises the block size until one attention page holds it"
        )
    spans = {kind: sorted({s for _, k, s in shape.layers if k == kind}) for kind in ("sliding", "chunked")}
    if spans["sliding"]:
        notes.append(
            f"sliding window {', '.join(map(str, spans['sliding']))} tokens on {shape.count('sliding', layers)} of "
            f"{layers} layers: there a request keeps cdiv(min(window - 1 + tokens in flight, its length), block) + 1 "
            "blocks"
        )
    if spans["chunked"]:
        notes.append(
            f"chunked local attention ({max(spans['chunked'])} tokens) on {shape.count('chunked', layers)} of "
            f"{layers} layers: there a request keeps cdiv(min(chunk + tokens in flight, its length), block) blocks"
        )
    return notes


def _refuse(source: str, field: str, problem: str) -> InputError:
    return InputError(
        f"{source}: {field}",
        f"{problem}; the planner models {MODELLED} only",
        "use a model of a modelled kind",
    )


def _refuse_unmodelled(config: dict[str, Any], source: str) -> None:
    for key, attention in HYBRID_KEYS.items():
        kinds = config.get(key)
        if kinds and any(str(k) != attention for k in (kinds if isinstance(kinds, list) else str(kinds))):
            raise _refuse(source, key, "Mamba1 hybrid layers (Jamba) are not modelled yet")


def _state_layers(config: dict[str, Any], layers: int, source: str) -> tuple[list[list[tuple[Kind, int]]] | None,
                                                                              StateShape | None]:  # fmt: skip
    """Per decoder layer its KV-holding mixers, for models with state layers; (None, None) for the rest."""
    if 0 in (config.get("attn_type_list") or []):  # MiniMax-Text-01 / M1: 0 lightning, 1 softmax attention
        listed = _per_layer(config["attn_type_list"], layers, source, "attn_type_list")
        return [[("state", 0)] if t == 0 else [("full", 0)] for t in listed], lightning_state(config, source)
    if str(config.get("model_type", "")).startswith("falcon_h1"):  # attention and Mamba2 side by side, every layer
        return [[("full", 0), ("state", 0)] for _ in range(layers)], mamba2_state(config, source, falcon=True)
    pattern = _nemotron_h_pattern(config, layers, source)
    if pattern is not None:
        kinds: list[list[tuple[Kind, int]]] = [[(kind, 0)] if (kind := NEMOTRON_H[c]) else [] for c in pattern]
        return kinds, mamba2_state(config, source, falcon=False)
    types = config.get("layer_types")
    if isinstance(types, list) and LINEAR in types:
        if SLIDING in types:
            raise _refuse(source, "layer_types", "sliding-window and linear-attention layers together are not modelled")
        types = _per_layer(types, layers, source, "layer_types")
        other = sorted({str(t) for t in types} - {FULL, LINEAR})
        if other:
            raise _refuse(source, "layer_types", f"layer kinds {other} are not modelled yet")
        return [[("state", 0)] if t == LINEAR else [("full", 0)] for t in types], _gdn(config, source)
    return None, None


def _nemotron_h_pattern(config: dict[str, Any], layers: int, source: str) -> str | None:
    """Nemotron-H's layer string (M Mamba2, * attention, - MLP, E MoE), from hybrid_override_pattern or the
    list transformers derives from it (linear_attention, full_attention, mlp, moe)."""
    pattern = config.get("hybrid_override_pattern")
    if not pattern and str(config.get("model_type", "")).startswith("nemotron_h"):
        names = {"linear_attention": "M", "full_attention": "*", "mlp": "-", "moe": "E"}
        listed = config.get("layers_block_type") or config.get("layer_types") or []
        pattern = "".join(names.get(str(t), "?") for t in listed)
    if not pattern:
        return None
    field = "hybrid_override_pattern"
    if "E" in str(pattern):
        raise _refuse(source, field, "Nemotron-H MoE layers (E) are not modelled yet")
    if set(str(pattern)) - set(NEMOTRON_H):
        raise _refuse(source, field, f"layer kinds {sorted(set(str(pattern)) - set(NEMOTRON_H))} are not modelled yet")
    return "".join(_per_layer(list(str(pattern)), layers, source, field))


def _per_layer(values: list[Any], layers: int, source: str, field: str) -> list[Any]:
    if len(values) != layers:
        raise InputError(f"{source}: {field}", f"{len(values)} entries for {layers} layers", "one per layer")
    return values


def _mlp_free(config: dict[str, Any]) -> int:
    pattern = config.get("hybrid_override_pattern")
    return sum(1 for c in pattern if c in "M*") if isinstance(pattern, str) else 0


def _mla(config: dict[str, Any], source: str) -> MLAShape | None:
    if not config.get("kv_lora_rank"):
        return None
    values = {}
    for key in ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise InputError(f"{source}: {key}", f"MLA needs a positive integer, got {value!r}", f"set '{key}'")
        values[key] = value
    if config.get("index_topk"):  # V3.2's indexer keeps a key per token and layer beside the latent
        for key in ("index_head_dim", "index_n_heads"):
            value = config.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InputError(f"{source}: {key}", f"the sparse-attention indexer needs a positive integer, got "
                                 f"{value!r}", f"set '{key}'")  # fmt: skip
            values[key] = value
    return MLAShape(q_lora_rank=int(config.get("q_lora_rank") or 0), **values)


def _windows(config: dict[str, Any], layers: int, context: int, source: str) -> tuple[int, ...]:
    """Per layer its sliding window, 0 for full attention; () when no layer slides."""
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
    other = sorted({str(k) for k in kinds} - {FULL, SLIDING})
    if other:
        raise _refuse(source, "layer_types", f"layer kinds {other} are not modelled yet (vLLM sizes each its own way)")
    _per_layer(kinds, layers, source, "layer_types")
    if SLIDING not in kinds:
        return ()
    if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
        raise InputError(f"{source}: sliding_window", f"sliding layers need a window, got {window!r}", "set it")
    return tuple(window if kind == SLIDING else 0 for kind in kinds)


def _chunks(config: dict[str, Any], layers: int) -> tuple[int, ...]:
    """Llama 4: the RoPE layers (no_rope_layers 1; by default 3 of every 4) attend within chunks."""
    chunk = config.get("attention_chunk_size")
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk <= 0:
        return ()
    rope = config.get("no_rope_layers")
    if not isinstance(rope, list) or len(rope) != layers:
        rope = [int((i + 1) % 4 != 0) for i in range(layers)]  # transformers' no_rope_layer_interval 4
    return tuple(chunk if uses_rope else 0 for uses_rope in rope)


def _gdn(config: dict[str, Any], source: str) -> StateShape:
    missing = [key for key in GDN_KEYS if not isinstance(config.get(key), int) or config[key] <= 0]
    if missing:
        raise _refuse(source, missing[0], "linear_attention layers other than Gated DeltaNet are not modelled yet")
    return gdn_state(config, source)

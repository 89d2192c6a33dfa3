"""A model's memory-relevant shape, read from a Hugging Face `config.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from planner.attention import AttentionShape, attention_notes, attention_shape
from planner.errors import InputError
from planner.quantization import QuantSpec, quant_spec
from planner.vision_tower import vision_parameters

CATALOG_DIR = Path(__file__).parent / "catalog"
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "half": 2, "float32": 4, "float": 4}


class MoESpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    num_experts: int
    top_k: int
    expert_intermediate_size: int
    shared_expert_intermediate_size: int = 0
    moe_layers: int
    router_dtype_bytes: int
    router_bias: bool


class ModelSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    source: str
    architecture: str
    model_type: str
    num_layers: int
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool
    intermediate_size: int  # dense MLP width; used by `dense_layers` layers
    dense_layers: int
    moe: MoESpec | None
    qk_norm: Literal["none", "per_head", "per_layer"]
    attention_bias: bool
    attention_output_gate: bool = False  # Qwen3-Next's gated attention (vLLM's default there): q_proj twice as wide
    mlp_gated: bool = True  # gate, up and down; Nemotron-H's relu2 MLP has up and down only
    param_bytes: int
    quant: QuantSpec | None
    max_position_embeddings: int
    vision_parameters: int = 0  # a multimodal checkpoint's vision tower and projector (planner/vision_tower.py)
    attention: AttentionShape = AttentionShape()
    notes: tuple[str, ...] = ()


def catalog_names() -> list[str]:
    return sorted(p.stem for p in CATALOG_DIR.glob("*.json"))


def load_model(ref: str) -> ModelSpec:
    """Resolve a catalog name, a model directory, or a config.json path."""
    path = Path(ref)
    if (CATALOG_DIR / f"{ref.lower()}.json").is_file():
        path = CATALOG_DIR / f"{ref.lower()}.json"
        name = ref.lower()
    elif path.is_dir():
        path = path / "config.json"
        name = Path(ref).resolve().name
        if not path.is_file():
            raise InputError("MODEL", f"{ref} has no config.json", "point at a model directory or a config.json file")
    elif path.is_file():
        name = path.resolve().parent.name
    else:
        raise InputError(
            "MODEL",
            f"'{ref}' is neither a catalog model nor a path",
            f"use one of {', '.join(catalog_names())}, or a directory holding config.json",
        )
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError("MODEL", f"cannot read {path}: {exc}", "give a valid JSON config.json") from exc
    if not isinstance(config, dict):
        raise InputError("MODEL", f"{path} is not a JSON object", "give a Hugging Face config.json")
    return model_from_config(config, name=config.get("_name", name), source=str(config.get("_provenance", path)))


def model_from_config(config: dict[str, Any], *, name: str, source: str) -> ModelSpec:
    """Parse a Hugging Face config dict; multimodal configs use their text_config."""
    config, vision, notes = _split_multimodal(config)
    field = _FieldReader(config, source)
    layers = field.int("num_hidden_layers")
    context = field.int("max_position_embeddings", default=4096)
    attention = attention_shape(config, layers=layers, context=context, source=source)
    notes += attention_notes(attention, layers)
    hidden = field.int("hidden_size")
    heads = field.int("num_attention_heads")
    kv_heads = 1 if config.get("multi_query") else field.int("num_key_value_heads", default=heads)
    head_dim = field.int("head_dim", default=hidden // heads)
    moe = _moe_spec(config, field, layers)
    return ModelSpec(
        name=name,
        source=source,
        architecture=(config.get("architectures") or ["unknown"])[0],
        model_type=str(config.get("model_type", "unknown")),
        num_layers=layers,
        hidden_size=hidden,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=field.int("vocab_size"),
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        # Llama 4's dense layers are wider than its experts (intermediate_size_mlp)
        intermediate_size=field.int("intermediate_size_mlp", default=field.int("intermediate_size", default=0)),
        dense_layers=layers - (moe.moe_layers if moe else 0) - attention.mlp_free_layers,
        moe=moe,
        qk_norm=_qk_norm(config),
        attention_bias=bool(config.get("attention_bias", False)),
        attention_output_gate=bool(config.get("attn_output_gate", config.get("model_type") == "qwen3_next")),
        mlp_gated=not str(config.get("model_type", "")).startswith("nemotron_h"),
        param_bytes=_param_bytes(config, notes),
        quant=quant_spec(config, source),
        max_position_embeddings=context,
        vision_parameters=vision_parameters(vision, text_hidden=hidden, source=source),
        attention=attention,
        notes=tuple(notes),
    )


def _split_multimodal(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(the language model's config, the vision tower's config or {}, notes)."""
    notes = []
    vision: dict[str, Any] = config["vision_config"] if isinstance(config.get("vision_config"), dict) else {}
    if isinstance(config.get("text_config"), dict):
        config = {**config["text_config"], "quantization_config": config.get("quantization_config")}
        notes.append("multimodal config: the language model from text_config; audio towers are not counted")
    if vision:
        notes.append("vision tower counted from vision_config (a ViT estimate, 16-bit, split over TP on stage 0)")
    elif notes:
        notes.append("no vision_config: no vision tower counted")
    return config, vision, notes


class _FieldReader:
    """Reads positive integer fields, naming the file and key when one is missing or wrong."""

    def __init__(self, config: dict[str, Any], source: str) -> None:
        self.config, self.source = config, source

    def int(self, key: str, default: int | None = None) -> int:
        value = self.config.get(key)
        if value is None:
            if default is None:
                raise InputError(f"{self.source}: {key}", "required field is missing", f"add '{key}' to config.json")
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(
                f"{self.source}: {key}", f"expected a non-negative integer, got {value!r}", f"set '{key}' to an integer"
            )
        return value


def _moe_spec(config: dict[str, Any], field: _FieldReader, layers: int) -> MoESpec | None:
    experts = config.get("num_local_experts") or config.get("num_experts") or config.get("n_routed_experts")
    if not experts:
        return None
    width = config.get("moe_intermediate_size") or field.int("intermediate_size")
    dense = set(config.get("mlp_only_layers") or [])
    dense |= set(range(int(config.get("first_k_dense_replace") or 0)))
    step = int(config.get("decoder_sparse_step") or config.get("interleave_moe_layer_step") or 1)
    moe_layers = sum(1 for i in range(layers) if i not in dense and (i + 1) % step == 0)
    shared = int(config.get("shared_expert_intermediate_size") or 0)
    shared += int(config.get("n_shared_experts") or 0) * int(width)
    if str(config.get("model_type", "")).startswith("llama4"):  # Llama 4: a shared expert in every MoE layer
        shared += int(width)
    # vLLM keeps MiniMax routers in fp32 (ReplicatedLinear params_dtype=float32); others in the model dtype.
    router_bytes = 4 if str(config.get("model_type", "")).startswith("minimax") else 2
    return MoESpec(
        num_experts=int(experts),
        top_k=field.int("num_experts_per_tok"),
        expert_intermediate_size=int(width),
        shared_expert_intermediate_size=shared,
        moe_layers=moe_layers,
        router_dtype_bytes=router_bytes,
        router_bias=bool(config.get("use_routing_bias") or config.get("topk_method") == "noaux_tc"),
    )


def _qk_norm(config: dict[str, Any]) -> Literal["none", "per_head", "per_layer"]:
    if config.get("qk_norm_type") == "per_layer":
        return "per_layer"
    if config.get("use_qk_norm") or config.get("model_type") in {"qwen3", "qwen3_moe", "qwen3_next"}:
        return "per_head"
    return "none"


def _param_bytes(config: dict[str, Any], notes: list[str]) -> int:
    dtype = str(config.get("torch_dtype") or config.get("dtype") or "bfloat16")
    if DTYPE_BYTES.get(dtype, 2) == 4:
        notes.append("float32 checkpoint: vLLM's dtype=auto serves it in 16-bit; counted at 2 bytes")
    return 2

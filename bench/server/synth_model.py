"""Config-only synthetic models: a family's config.json with overrides, plus a locally trained tokenizer.

vLLM serves such a folder with `--load-format dummy` (random weights, no weight files), which keeps
every memory and kernel path real while nothing is downloaded.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import sysconfig
from pathlib import Path
from typing import Any

from planner import InputError, catalog_names
from planner.model_spec import CATALOG_DIR

TOKENIZER_VOCAB = 4096
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<think>",
    "</think>",
    "<minimax:tool_call>",
    "</minimax:tool_call>",
]
# Small enough to start in under a minute on 2 CPU cores; each family maps these onto its own keys.
CPU_DEFAULTS = {
    "layers": 4,
    "hidden": 256,
    "heads": 8,
    "kv_heads": 2,
    "head_dim": 64,
    "experts": 8,
    "top_k": 2,
    "intermediate": 512,
    "max_position": 32768,
}
_KEYS = {
    "layers": ["num_hidden_layers"],
    "hidden": ["hidden_size"],
    "heads": ["num_attention_heads"],
    "kv_heads": ["num_key_value_heads"],
    "head_dim": ["head_dim"],
    "experts": ["num_local_experts", "num_experts", "n_routed_experts"],
    "top_k": ["num_experts_per_tok"],
    "intermediate": ["moe_intermediate_size", "intermediate_size"],
    "max_position": ["max_position_embeddings"],
    "vocab": ["vocab_size"],
}
CHAT_TEMPLATE = (
    "{% if tools %}<|im_start|>system\nYou may call these tools:\n{% for t in tools %}{{ t | tojson }}\n{% endfor %}"
    "<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% elif m['content'] %}"
    "{% for part in m['content'] %}{{ part['text'] if part['text'] is defined else '' }}{% endfor %}{% endif %}"
    "{% if m['tool_calls'] is defined and m['tool_calls'] %}{% for c in m['tool_calls'] %}"
    "<minimax:tool_call>{{ c['function'] | tojson }}</minimax:tool_call>{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def family_config(like: str) -> dict[str, Any]:
    path = CATALOG_DIR / f"{like.lower()}.json"
    if not path.is_file():
        raise InputError("--like", f"unknown family '{like}'", f"use one of {', '.join(catalog_names())}")
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}


def synth_config(
    like: str, overrides: dict[str, int], full: bool = False, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The family's config with size overrides. Without `full`: CPU-safe sizes, softmax routing, no FP8."""
    config = family_config(like)
    family_layers = config.get("num_hidden_layers")
    is_moe = any(k in config for k in _KEYS["experts"])
    defaults = {k: v for k, v in CPU_DEFAULTS.items() if is_moe or k not in {"experts", "top_k"}}
    if is_moe:  # never more experts a token than the family routes to (vLLM's Llama 4 path requires top-1)
        defaults["top_k"] = min(defaults["top_k"], int(config.get("num_experts_per_tok") or defaults["top_k"]))
    sizes = dict(overrides) if full else {**defaults, **overrides}
    config.pop("vision_config", None)  # synthetic models are served text-only (the catalog's text architecture)
    if not full:
        sizes.setdefault("vocab", TOKENIZER_VOCAB)
        config.pop("quantization_config", None)
        # vLLM's CPU MoE router supports softmax scoring only; the KV layout is unaffected.
        if "scoring_func" in config:
            config.update(scoring_func="softmax", use_routing_bias=False)
        if "n_group" in config:  # DeepSeek's grouped top-k: one group of the few synthetic experts
            config.update(n_group=1, topk_group=1, topk_method="greedy")
    for name, value in sizes.items():
        if name not in _KEYS:
            raise InputError(f"--{name.replace('_', '-')}", "unknown size override", f"use one of {', '.join(_KEYS)}")
        present = [k for k in _KEYS[name] if k in config] or _KEYS[name][:1]
        key = present[0]
        if name in {"experts", "top_k"} and not is_moe:
            raise InputError(f"--{name.replace('_', '-')}", f"family '{like}' has no experts", "drop the flag")
        config[key] = value
    for key, values in list(config.items()):  # per-layer lists and strings (layer_types, hybrid_override_pattern)
        if isinstance(values, list | str) and values and len(values) == family_layers != config["num_hidden_layers"]:
            cut = [values[i % len(values)] for i in range(config["num_hidden_layers"])]
            config[key] = "".join(cut) if isinstance(values, str) else cut
    if "rotary_dim" in config:  # MiniMax: keep its partial rotary factor of 0.5
        config["rotary_dim"] = config.get("head_dim", config["hidden_size"] // config["num_attention_heads"]) // 2
    config.update(extra or {})
    config.setdefault("eos_token_id", 0)
    config["bos_token_id"] = None
    return config


def write_synthetic_model(
    out: Path,
    like: str,
    overrides: dict[str, int] | None = None,
    full: bool = False,
    *,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write config.json, tokenizer.json, tokenizer_config.json and synth.json (what was asked for)."""
    config = synth_config(like, overrides or {}, full, extra)
    if config.get("vocab_size", 0) < TOKENIZER_VOCAB:
        raise InputError(
            "--vocab",
            f"{config.get('vocab_size')} is smaller than the tokenizer's {TOKENIZER_VOCAB}",
            f"use --vocab >= {TOKENIZER_VOCAB}",
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "tokenizer.json").write_text(trained_tokenizer_json())
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "bos_token": None,
        "model_max_length": config.get("max_position_embeddings", 4096),
        "chat_template": CHAT_TEMPLATE,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    (out / "synth.json").write_text(
        json.dumps({"like": like, "full": full, "overrides": overrides or {}, "extra": extra or {}}, indent=2) + "\n"
    )
    return out


@functools.cache
def trained_tokenizer_json() -> str:
    """Byte-level BPE trained on this Python's standard library sources (present on every machine);
    trained once per process."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))[:60]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train(files, trainer)
    return tokenizer.to_str()

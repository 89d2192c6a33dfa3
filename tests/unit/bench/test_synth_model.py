"""Synthetic config-only models."""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer

from bench.server.synth_model import TOKENIZER_VOCAB, write_synthetic_model
from planner import InputError, load_model


def test_cpu_minimax_is_small_softmax_routed_and_unquantized(tmp_path):
    folder = write_synthetic_model(tmp_path / "m", "minimax-m2", {"layers": 6, "kv_heads": 4})
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["MiniMaxM2ForCausalLM"]
    assert (config["num_hidden_layers"], config["num_key_value_heads"], config["scoring_func"]) == (6, 4, "softmax")
    assert "quantization_config" not in config and config["vocab_size"] == TOKENIZER_VOCAB
    assert config["rotary_dim"] == config["head_dim"] // 2
    assert load_model(str(folder)).num_layers == 6


def test_full_keeps_the_family_shape_and_fp8(tmp_path):
    config = json.loads(
        (write_synthetic_model(tmp_path / "f", "minimax-m2", {"experts": 32}, full=True) / "config.json").read_text()
    )
    assert (config["num_hidden_layers"], config["num_local_experts"], config["vocab_size"]) == (62, 32, 200064)
    assert config["quantization_config"]["weight_block_size"] == [128, 128] and config["scoring_func"] == "sigmoid"


def test_tokenizer_round_trips_and_has_chat_tokens(tmp_path):
    folder = write_synthetic_model(tmp_path / "t", "llama-3.1-70b")
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    text = "def capacity(tokens):\n    return tokens * 2"
    assert tokenizer.decode(tokenizer.encode(text).ids) == text
    assert tokenizer.get_vocab_size() == TOKENIZER_VOCAB and tokenizer.token_to_id("<|im_start|>") is not None
    assert "chat_template" in json.loads((folder / "tokenizer_config.json").read_text())


@pytest.mark.parametrize(
    ("like", "sizes", "field"),
    [
        ("gpt-9", {}, "--like"),
        ("llama-3.1-70b", {"experts": 4}, "--experts"),
        ("minimax-m2", {"vocab": 100}, "--vocab"),
    ],
)
def test_bad_synth_requests(tmp_path, like, sizes, field):
    with pytest.raises(InputError) as info:
        write_synthetic_model(tmp_path / "x", like, sizes)
    assert info.value.field == field

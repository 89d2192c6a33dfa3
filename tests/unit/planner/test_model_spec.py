"""Reading Hugging Face configs; parameter totals checked against published safetensors counts."""

from __future__ import annotations

import pytest

from planner import InputError, Layout, load_model
from planner.kv_cache import kv_bytes_per_token
from planner.weights import weights_per_rank, weights_total

LLAMA_LIKE = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "num_hidden_layers": 2,
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_attention_heads": 8,
    "vocab_size": 1000,
    "torch_dtype": "bfloat16",
}


@pytest.mark.parametrize(
    ("name", "published_params"),
    [
        ("llama-3.1-70b", 70_553_706_496),  # dense GQA
        ("mixtral-8x7b", 46_702_792_704),  # MoE, 8 experts top-2
        ("qwen3-30b-a3b", 30_532_122_624),  # MoE, 128 experts, per-head qk-norm
        ("qwen3-32b", 32_762_123_264),  # dense GQA, explicit head_dim
    ],
)
def test_bf16_catalog_weights_equal_published_parameter_counts(name, published_params):
    assert weights_total(load_model(name)) == 2 * published_params


@pytest.mark.parametrize(
    ("name", "published"),
    [  # the publisher's total, of the parts vLLM loads
        ("deepseek-v3", 671e9),  # model card: 671B (Hugging Face's 685B adds the 14B MTP module, not loaded)
        ("gpt-oss-120b", 116.83e9),  # gpt-oss model card (arXiv 2508.10925), table 1
        ("gemma-3-27b", 27.433e9),  # Gemma 3 report, table 1: 417M vision + 1,416M embedding + 25,600M other
        ("qwen3-next-80b-a3b", 80e9),  # model card: 80B (the checkpoint's MTP layer is not loaded)
        ("llama-4-scout", 109e9),  # Meta's model card: 109B total, vision encoder included
        ("minimax-text-01", 456e9),  # model card: 456B total, 45.9B activated
    ],
)
def test_catalog_parameters_within_one_percent_of_published(name, published):
    """Counted from config.json tensor by tensor (quantized formats unpacked to one parameter per weight)."""
    model = load_model(name)
    unpacked = model.model_copy(update={"quant": None})
    if model.moe:
        unpacked = unpacked.model_copy(update={"moe": model.moe.model_copy(update={"router_dtype_bytes": 2})})
    assert weights_total(unpacked) / 2 == pytest.approx(published, rel=0.01)


def test_minimax_parameters_without_fp8_match_published_count(minimax):
    # 228,689,764,864 parameters (shared/reference/minimax-m2.md); router kept 16-bit for the count.
    bf16 = minimax.model_copy(update={"quant": None, "moe": minimax.moe.model_copy(update={"router_dtype_bytes": 2})})
    assert weights_total(bf16) == 2 * 228_689_764_864


def test_fp8_block_scales_add_one_fp32_per_block(minimax):
    per_tensor = minimax.model_copy(update={"quant": minimax.quant.model_copy(update={"block": None})})
    # 13,880,064 block scales in the checkpoint vs one scale per weight matrix (62 x (4 + 256 x 3)).
    assert weights_total(minimax) - weights_total(per_tensor) == 4 * (13_880_064 - 62 * (4 + 256 * 3))


def test_mha_default_kv_heads_and_head_dim(write_config):
    model = load_model(str(write_config(LLAMA_LIKE)))
    assert (model.num_kv_heads, model.head_dim) == (8, 32)
    assert kv_bytes_per_token(model) == 2 * 2 * 8 * 32 * 2


def test_mqa_and_explicit_head_dim(write_config):
    model = load_model(str(write_config({**LLAMA_LIKE, "multi_query": True, "head_dim": 64})))
    assert (model.num_kv_heads, model.head_dim) == (1, 64)


def test_tied_embeddings_hold_one_vocab_matrix(write_config):
    untied = load_model(str(write_config(LLAMA_LIKE, "untied")))
    tied = load_model(str(write_config({**LLAMA_LIKE, "tie_word_embeddings": True}, "tied")))
    vocab_matrix = 1024 * 256 * 2  # vocab padded to a multiple of 64
    assert weights_total(untied) - weights_total(tied) == vocab_matrix
    # Under PP the last stage owns its own LM head even when tied.
    assert weights_per_rank(tied, Layout(pp=2), 1).lm_head == vocab_matrix


def test_unquantized_modules_stay_16_bit(write_config):
    quant = {"quant_method": "fp8", "weight_block_size": [128, 128], "modules_to_not_convert": ["self_attn"]}
    fp8_mlp = load_model(str(write_config({**LLAMA_LIKE, "quantization_config": quant})))
    assert fp8_mlp.quant.attention_quantized is False and fp8_mlp.quant.mlp_quantized is True


def test_multimodal_uses_text_config(write_config):
    model = load_model(str(write_config({"architectures": ["X"], "text_config": LLAMA_LIKE})))
    assert model.num_layers == 2 and any("text_config" in n for n in model.notes)


def test_missing_field_names_file_and_key(write_config):
    config = {k: v for k, v in LLAMA_LIKE.items() if k != "num_hidden_layers"}
    with pytest.raises(InputError) as info:
        load_model(str(write_config(config)))
    assert "config.json: num_hidden_layers" in info.value.field
    assert "num_hidden_layers" in info.value.fix


@pytest.mark.parametrize("ref", ["no-such-model", "/nonexistent/dir"])
def test_unknown_model(ref):
    with pytest.raises(InputError, match="MODEL"):
        load_model(ref)


def test_unsupported_quantization_is_named(write_config):
    with pytest.raises(InputError, match="quant_method"):
        load_model(str(write_config({**LLAMA_LIKE, "quantization_config": {"quant_method": "bitsandbytes"}})))


MLA = {"kv_lora_rank": 512, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128}


def test_sliding_layers_without_a_window_or_a_layer_each_are_refused(write_config):
    with pytest.raises(InputError, match="sliding_window"):
        load_model(str(write_config({**LLAMA_LIKE, "layer_types": ["sliding_attention", "full_attention"]})))
    with pytest.raises(InputError, match="layer_types") as caught:
        load_model(str(write_config({**LLAMA_LIKE, "layer_types": ["full_attention"] * 3}, "three")))
    assert "3 entries for 2 layers" in caught.value.problem


def test_mla_without_its_dimensions_is_refused_by_field(write_config):
    with pytest.raises(InputError) as caught:
        load_model(str(write_config({**LLAMA_LIKE, **MLA, "v_head_dim": None})))
    assert caught.value.field.endswith("v_head_dim")


@pytest.mark.parametrize(
    ("extra", "field", "kind"),
    [
        ({"layer_types": ["chunked_attention", "full_attention"]}, "layer_types", "chunked_attention"),
        # linear attention without Gated DeltaNet's dimensions (Kimi Linear's KDA, ...)
        ({"layer_types": ["linear_attention", "full_attention"]}, "linear_num_key_heads", "Gated DeltaNet"),
        ({"sliding_window": 4096, "max_position_embeddings": 32768}, "sliding_window", "4096 tokens"),  # Mistral-7B
        ({"layers_block_type": ["mamba", "attention"]}, "layers_block_type", "Mamba1"),  # Jamba
        ({"hybrid_override_pattern": "ME"}, "hybrid_override_pattern", "MoE layers (E)"),  # Nemotron 3 Nano
        ({"hybrid_override_pattern": "M?"}, "hybrid_override_pattern", "['?']"),
    ],
)
def test_attention_kinds_not_modelled_are_refused_by_field(write_config, extra, field, kind):
    """Never planned as full attention: the error names the config field, the kind, and what is modelled."""
    with pytest.raises(InputError) as caught:
        load_model(str(write_config({**LLAMA_LIKE, **extra})))
    assert caught.value.field.endswith(field) and kind in caught.value.problem
    assert "full attention (MHA / GQA / MQA)" in caught.value.problem


@pytest.mark.parametrize(
    "extra",
    [
        {"sliding_window": 4096, "use_sliding_window": False, "max_position_embeddings": 32768},  # Qwen2/3: off
        {"sliding_window": None},  # Mixtral
        {"sliding_window": 32768, "max_position_embeddings": 32768},  # a window as long as the context
        {"layer_types": ["full_attention", "full_attention"]},
        {"attn_type_list": [1, 1]},  # every layer softmax attention
    ],
)
def test_full_attention_spelled_out_is_still_planned(write_config, extra):
    assert load_model(str(write_config({**LLAMA_LIKE, **extra}))).num_layers == 2


def test_a_sparse_mla_indexer_without_its_width_is_refused_by_field(write_config):
    with pytest.raises(InputError) as caught:
        load_model(str(write_config({**LLAMA_LIKE, **MLA, "index_topk": 2048})))  # DeepSeek V3.2's key, no width
    assert caught.value.field.endswith("index_head_dim") and "indexer" in caught.value.problem


def test_mamba2_layers_without_their_dimensions_are_refused_by_field(write_config):
    with pytest.raises(InputError) as caught:
        load_model(str(write_config({**LLAMA_LIKE, "hybrid_override_pattern": "M*"})))
    assert caught.value.field.endswith("mamba_num_heads") and "Mamba2" in caught.value.problem


def test_llama4_has_a_shared_expert_in_every_moe_layer_and_chunks_on_its_rope_layers():
    """Llama 4's config names no shared expert, yet every MoE layer has one of the experts' width."""
    model = load_model("llama-4-scout")
    assert model.moe is not None and model.moe.moe_layers == 48
    assert model.moe.shared_expert_intermediate_size == model.moe.expert_intermediate_size == 8192
    kinds = [kind for _, kind, _ in model.attention.kv_layers(model.num_layers)]
    assert kinds[:4] == ["chunked", "chunked", "chunked", "full"]  # every 4th layer NoPE

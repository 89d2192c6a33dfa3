"""Weight quantization methods: each matrix's bytes equal the tensors its checkpoint format stores
(listed here tensor by tensor, as the formats define them), and what stays unquantized follows the
config's exclusion lists."""

from __future__ import annotations

import pytest

from planner import InputError, load_model
from planner.quantization import quant_spec
from planner.weights import weights_total

OUT, IN = 1024, 4096  # one 4096 -> 1024 projection


def stored(config: dict) -> int:
    spec = quant_spec({"quantization_config": config}, "test")
    assert spec is not None
    return spec.matrix_bytes(OUT, IN)


def test_awq_and_gptq_store_packed_values_group_scales_and_zeros():
    # AutoAWQ / AutoGPTQ: qweight int32 [in, out / 8], qzeros int32 [in / 128, out / 8], scales fp16 [in / 128, out]
    tensors = IN * OUT // 8 * 4 + IN // 128 * OUT // 8 * 4 + IN // 128 * OUT * 2
    assert stored({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True}) == tensors
    assert stored({"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": False}) == tensors


def test_mxfp4_and_nvfp4_store_half_a_byte_and_block_scales():
    # MXFP4 (gpt-oss): blocks uint8 [out, in / 2], scales E8M0 uint8 [out, in / 32]
    assert stored({"quant_method": "mxfp4"}) == OUT * IN // 2 + OUT * IN // 32
    # NVFP4 (ModelOpt): weight uint8 [out, in / 2], weight_scale fp8 [out, in / 16], weight_scale_2 + input_scale fp32
    nvfp4 = OUT * IN // 2 + OUT * IN // 16 + 8
    assert stored({"quant_method": "modelopt", "quant_algo": "NVFP4"}) == nvfp4
    assert stored({"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized",
                   "config_groups": {"g": {"weights": {"num_bits": 4, "type": "float"}}}}) == nvfp4  # fmt: skip


def test_compressed_tensors_int4_group_and_fp8_channel():
    int4 = {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128, "symmetric": True}
    # weight_packed int32 [out, in / 8], weight_scale bf16 [out, in / 128]; symmetric: no zero point
    assert stored({"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": int4}}}) == (
        OUT * IN // 8 * 4 + OUT * IN // 128 * 2
    )
    fp8 = {"num_bits": 8, "type": "float", "strategy": "channel"}
    # weight fp8 [out, in], weight_scale fp32 [out, 1]
    fp8_bytes = stored({"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": fp8}}})
    assert fp8_bytes == OUT * IN + OUT * 4


def test_gpt_oss_keeps_attention_and_router_in_bf16_and_experts_in_mxfp4():
    model = load_model("gpt-oss-120b")
    assert model.quant is not None and (model.quant.attention_quantized, model.quant.mlp_quantized) == (False, True)
    assert model.attention.count("sliding", 36) == 18 and model.attention.kv_layers(36)[:2] == (
        (0, "sliding", 128),
        (1, "full", 0),
    )
    # 114.7B MXFP4 expert weights + ~4.2 GB of bf16 attention, embeddings and LM head
    assert 64e9 < weights_total(model) < 66e9


def test_unknown_methods_and_schemes_are_refused_by_field():
    with pytest.raises(InputError) as caught:
        quant_spec({"quantization_config": {"quant_method": "bitsandbytes"}}, "cfg")
    assert caught.value.field == "cfg: quantization_config.quant_method" and "mxfp4" in caught.value.fix
    with pytest.raises(InputError, match="config_groups"):
        stored({"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 2}}}})

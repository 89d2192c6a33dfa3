"""Weight quantization read from `quantization_config`, and what one quantized matrix stores.

One weight matrix of out x in elements stores ceil(elements x bits / 8) bytes of values plus its
scales, per method (the checkpoint's tensors, which vLLM loads as they are or repacks at the same size):
- fp8 (DeepSeek / MiniMax block FP8): 8 bits + one fp32 scale per block_n x block_k block, or one per tensor;
- awq / gptq: `bits` (4 or 8) + per group of `group_size` input elements and output row a 16-bit
  scale and a packed `bits`-bit zero point (qzeros); gptq's g_idx is not loaded without act-order
  (vLLM 0.32.0's AutoGPTQLinearMethod registers qweight, scales and qzeros only);
- mxfp4 (gpt-oss): 4 bits + one E8M0 byte per 32 elements;
- nvfp4 (ModelOpt, compressed-tensors nvfp4-pack-quantized): 4 bits + one fp8 byte per 16 elements
  + two fp32 per tensor (weight_scale_2, input_scale);
- compressed-tensors int (pack-quantized): num_bits + a 16-bit scale per group (or output channel),
  and a zero point when asymmetric; float (float-quantized, fp8): 8 bits + fp32 scale per channel,
  tensor or block.
Which modules stay unquantized comes from modules_to_not_convert / ignore / exclude_modules: a
pattern naming attention (self_attn, q_proj, ...) or the MLP (mlp, experts, ...) by its last part.
"""

from __future__ import annotations

from math import ceil
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from planner.errors import InputError

Method = Literal["fp8", "awq", "gptq", "mxfp4", "nvfp4", "int"]
SUPPORTED = "fp8, awq, gptq, mxfp4, modelopt NVFP4, compressed-tensors (int pack-quantized, fp8, nvfp4)"
ATTENTION_PARTS = {"self_attn", "attention", "attn", "q_proj", "k_proj", "v_proj", "o_proj", "qkv_proj"}
MLP_PARTS = {"mlp", "experts", "block_sparse_moe", "feed_forward", "gate_proj", "up_proj", "down_proj"}


class QuantSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method
    block: tuple[int, int] | None = None  # fp8: (block_n, block_k); None with group 0 = per-tensor scales
    bits: int = 8
    group: int = 0  # input elements per scale; 0 = per block (fp8) or per tensor; -1 = per output channel
    scale_bytes: int = 4
    zero_bits: int = 0  # a packed zero point per scale (asymmetric int)
    tensor_bytes: int = 0  # per matrix (nvfp4's global scales)
    attention_quantized: bool = True
    mlp_quantized: bool = True

    def matrix_bytes(self, out_features: int, in_features: int) -> int:
        """Bytes of one out x in matrix, values and scales."""
        values = ceil(out_features * in_features * self.bits / 8)
        if self.block is not None:
            block_n, block_k = self.block
            scales = ceil(out_features / block_n) * ceil(in_features / block_k)
        elif self.group == 0:
            scales = 1
        else:
            scales = out_features * (1 if self.group < 0 else ceil(in_features / self.group))
        zeros = ceil(scales * self.zero_bits / 8)
        return values + scales * self.scale_bytes + zeros + self.tensor_bytes


def quant_spec(config: dict[str, Any], source: str) -> QuantSpec | None:
    quant = config.get("quantization_config")
    if not quant:
        return None
    method = str(quant.get("quant_method", "")).lower()
    field = f"{source}: quantization_config"
    if method == "fp8":
        block = quant.get("weight_block_size")
        spec = QuantSpec(method="fp8", block=tuple(block) if block else None)
    elif method in ("awq", "gptq"):
        bits, group = int(quant.get("bits") or quant.get("w_bit") or 4), int(quant.get("group_size") or -1)
        spec = QuantSpec(method=method, bits=bits, group=group, scale_bytes=2, zero_bits=bits)
    elif method == "mxfp4":
        spec = QuantSpec(method="mxfp4", bits=4, group=32, scale_bytes=1)
    elif method == "modelopt" and str(quant.get("quant_algo", "")).upper() == "NVFP4":
        spec = QuantSpec(method="nvfp4", bits=4, group=16, scale_bytes=1, tensor_bytes=8)
    elif method == "compressed-tensors":
        spec = _compressed_tensors(quant, field)
    else:
        raise InputError(f"{field}.quant_method", f"'{method}' is not modelled", f"use one of: {SUPPORTED}")
    skipped = [str(m) for key in ("modules_to_not_convert", "ignore", "exclude_modules") for m in quant.get(key) or []]
    parts = {m.replace("$", "").split(".")[-1].split(":")[-1] for m in skipped}
    return spec.model_copy(update={"attention_quantized": not parts & ATTENTION_PARTS,
                                   "mlp_quantized": not parts & MLP_PARTS})  # fmt: skip


def _compressed_tensors(quant: dict[str, Any], field: str) -> QuantSpec:
    groups = [g for g in (quant.get("config_groups") or {}).values() if isinstance(g, dict) and g.get("weights")]
    if not groups:
        raise InputError(f"{field}.config_groups", "no weight quantization scheme found", "give config_groups")
    weights = groups[0]["weights"]
    bits, kind, strategy = int(weights.get("num_bits", 8)), weights.get("type", "int"), weights.get("strategy")
    group = int(weights.get("group_size") or 0) if strategy == "group" else -1 if strategy == "channel" else 0
    if quant.get("format") == "nvfp4-pack-quantized" or (kind == "float" and bits == 4):
        return QuantSpec(method="nvfp4", bits=4, group=16, scale_bytes=1, tensor_bytes=8)
    if kind == "float" and bits == 8:
        block = weights.get("block_structure")
        return QuantSpec(method="fp8", block=tuple(block) if strategy == "block" and block else None,
                         group=-1 if strategy == "channel" else 0)  # fmt: skip
    if kind == "int" and bits in (4, 8):
        zero = 0 if weights.get("symmetric", True) else bits
        return QuantSpec(method="int", bits=bits, group=group, scale_bytes=2, zero_bits=zero)
    raise InputError(f"{field}.config_groups", f"{kind} {bits}-bit weights are not modelled", f"use: {SUPPORTED}")

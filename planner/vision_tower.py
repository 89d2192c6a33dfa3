"""The vision tower of a multimodal checkpoint, which vLLM loads beside the language model unless told
not to: a ViT (SigLIP, Llama 4's encoder) counted from its `vision_config`, plus the projection into the
text model's hidden size.

Per encoder layer: q, k, v and o projections with biases (4 x (h^2 + h)), the MLP's two matrices with
biases (2 x h x i + h + i) and two LayerNorms (4 x h); then the patch embedding (channels x patch^2 x h
+ h), one position embedding per patch ((image / patch)^2 x h) and a final LayerNorm (2 x h). The
projector is one matrix from the tower's output (vision_output_dim, else its hidden size) to the text
hidden size. Model-specific extras (Llama 4's pixel-shuffle adapter, class tokens, soft-embedding norms)
are left out: under 5% of a tower of ~0.4-0.9B parameters (Gemma 3's SigLIP counts 416.9M here; its
report says 417M).
"""

from __future__ import annotations

from typing import Any

from planner.errors import InputError

VIT_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "patch_size", "image_size")


def vision_parameters(vision: dict[str, Any], *, text_hidden: int, source: str) -> int:
    """Parameters of the tower and its projector; 0 without a vision_config."""
    if not vision:
        return 0
    values = {}
    for key in VIT_KEYS:
        value = vision.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise InputError(f"{source}: vision_config.{key}", f"expected a positive integer, got {value!r}",
                             "give the vision tower's size, or drop vision_config for a text-only plan")  # fmt: skip
        values[key] = value
    h, i = values["hidden_size"], values["intermediate_size"]
    layer = 4 * (h * h + h) + 2 * h * i + h + i + 4 * h
    patches = (values["image_size"] // values["patch_size"]) ** 2
    embed = int(vision.get("num_channels", 3)) * values["patch_size"] ** 2 * h + h + patches * h + 2 * h
    out = int(vision.get("vision_output_dim") or h)
    return values["num_hidden_layers"] * layer + embed + out * text_hidden

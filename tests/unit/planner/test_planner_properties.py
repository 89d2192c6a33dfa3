"""Monotonicity: more GPUs, more memory or a smaller KV dtype never lower capacity."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from planner import GpuSpec, Layout, LayoutRejected, PlanSettings, model_from_config, plan_capacity


@st.composite
def models(draw):
    kv_heads = draw(st.sampled_from([1, 2, 4, 8, 16]))
    config = {
        "num_hidden_layers": draw(st.integers(1, 96)),
        "hidden_size": draw(st.sampled_from([512, 1024, 4096, 8192])),
        "num_attention_heads": kv_heads * draw(st.sampled_from([1, 2, 4, 8])),
        "num_key_value_heads": kv_heads,
        "head_dim": draw(st.sampled_from([64, 128, 256])),
        "intermediate_size": draw(st.sampled_from([1024, 4096, 14336])),
        "vocab_size": draw(st.integers(1000, 260_000)),
        "max_position_embeddings": 4096,
    }
    if draw(st.booleans()):
        config |= {"num_local_experts": draw(st.sampled_from([8, 64, 256])), "num_experts_per_tok": 2}
    return model_from_config(config, name="random", source="hypothesis")


layouts = st.builds(
    Layout, tp=st.sampled_from([1, 2, 4, 8]), pp=st.sampled_from([1, 2]), dp=st.sampled_from([1, 2]), ep=st.booleans()
)
gpu_sizes = st.floats(20, 200)
SETTINGS = PlanSettings(max_model_len=1024, overhead_gib=2.0)


def capacity(model, gib, layout, kv="auto"):
    gpu = GpuSpec(name="g", description="", memory_gib=gib, memory_source="test")
    try:
        return plan_capacity(model, gpu, layout, SETTINGS.model_copy(update={"kv_cache_dtype": kv}))
    except LayoutRejected:
        return None


def grown(layout: Layout, how: str) -> Layout:
    return layout.model_copy(update={how: getattr(layout, how) * 2})


@settings(max_examples=300, deadline=None)
@given(models(), gpu_sizes, layouts, st.sampled_from(["tp", "pp", "dp"]))
def test_more_gpus_never_lower_capacity(model, gib, layout, how):
    small, big = capacity(model, gib, layout), capacity(model, gib, grown(layout, how))
    if small is not None and big is not None:
        assert big.total_kv_capacity_tokens >= small.total_kv_capacity_tokens
    if small is not None and big is None and how == "dp":
        # Only expert parallel can make DP growth invalid: more EP ranks than experts.
        assert layout.ep and model.moe and layout.ep_size * 2 > model.moe.num_experts


@settings(max_examples=200, deadline=None)
@given(models(), gpu_sizes, layouts)
def test_fp8_kv_never_lowers_capacity(model, gib, layout):
    bf16, fp8 = capacity(model, gib, layout), capacity(model, gib, layout, "fp8")
    if bf16 is not None:
        assert fp8 is not None and fp8.kv_capacity_tokens >= bf16.kv_capacity_tokens


@settings(max_examples=200, deadline=None)
@given(models(), gpu_sizes, st.floats(1, 100), layouts)
def test_more_memory_never_lowers_capacity(model, gib, extra, layout):
    small, big = capacity(model, gib, layout), capacity(model, gib + extra, layout)
    if small is not None:
        assert big is not None and big.kv_capacity_tokens >= small.kv_capacity_tokens

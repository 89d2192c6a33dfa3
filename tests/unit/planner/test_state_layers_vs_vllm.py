"""State layers against vLLM 0.32.0's own state calculators (vllm/model_executor/layers/mamba/mamba_utils.py)
and KV-cache functions. Gated DeltaNet and Mamba2 are also served by the CPU server (results/
attention_kinds_cpu: Qwen3-Next-, Nemotron-H- and Falcon-H1-shaped runs, replayed by
test_committed_kv_layouts.py). Lightning attention cannot be served: vLLM removed MiniMax-Text-01 / M1
after 0.23.0, so its state (MiniMaxText01LinearAttention, still in 0.32 for Bailing's linear layers) and
the capacity vLLM's KV-cache functions give for its 70 + 10 layer mix are the check. A broken vLLM import
fails here; it does not skip."""

from __future__ import annotations

import pytest

from bench.server.synth_model import write_synthetic_model
from planner import Layout, PlanSettings, load_model, plan_capacity, resolve_gpu
from planner.kv_cache import state_bytes_per_layer
from planner.units import GIB


def vllm_state_bytes(name: str, tp: int) -> int:
    """One layer's state page as vLLM computes it for a bf16 model on a GPU ('auto' cache dtypes)."""
    import torch
    from vllm.model_executor.layers.mamba.mamba_utils import MambaStateDtypeCalculator as Dtypes
    from vllm.model_executor.layers.mamba.mamba_utils import MambaStateShapeCalculator as Shapes
    from vllm.v1.kv_cache_interface import MambaSpec

    if name == "qwen3-next-80b-a3b":
        shapes = Shapes.gated_delta_net_state_shape(tp, 16, 32, 128, 128, 4)
        dtypes = Dtypes.gated_delta_net_state_dtype(torch.bfloat16, "auto", "auto")
    elif name == "nemotron-h-8b":  # NemotronHForCausalLMConfig: mamba_ssm_cache_dtype float32 by default
        shapes = Shapes.mamba2_state_shape(tp, 128 * 64, 8, 128, 64, 128, 4)
        dtypes = Dtypes.mamba2_state_dtype(torch.bfloat16, "auto", "float32")
    else:
        shapes = Shapes.linear_attention_state_shape(num_heads=64, tp_size=tp, head_dim=128)
        dtypes = Dtypes.linear_attention_state_dtype(torch.bfloat16, "auto")
    return MambaSpec(shapes=tuple(shapes), dtypes=dtypes, block_size=-1).page_size_bytes


@pytest.mark.parametrize("name", ["qwen3-next-80b-a3b", "nemotron-h-8b", "minimax-text-01"])
@pytest.mark.parametrize("tp", [1, 2, 4, 8, 16])
def test_state_per_layer_equals_vllms_calculators(name, tp):
    """TP splits heads and conv channels; Mamba2 at TP16 first replicates its 8 groups to 16."""
    assert state_bytes_per_layer(load_model(name), tp, ssm_bytes=None) == vllm_state_bytes(name, tp)


def test_lightning_capacity_equals_vllms_kv_functions(tmp_path):
    """MiniMax-Text-01 on one H100-sized budget: 10 full-attention layers and 70 lightning layers as vLLM's
    engine groups, sizes and counts them (get_kv_cache_configs, get_kv_cache_capacity), with the planner's
    block (the alignment rule the GDN and Mamba2 servers check)."""
    import torch
    from vllm.engine.arg_utils import EngineArgs
    from vllm.model_executor.layers.mamba.mamba_utils import MambaStateDtypeCalculator as Dtypes
    from vllm.model_executor.layers.mamba.mamba_utils import MambaStateShapeCalculator as Shapes
    from vllm.usage.usage_lib import UsageContext
    from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend
    from vllm.v1.attention.backends.utils import resolve_kv_cache_layout
    from vllm.v1.core import kv_cache_utils as kv
    from vllm.v1.kv_cache_interface import FullAttentionSpec, MambaSpec

    model = load_model("minimax-text-01")
    settings = PlanSettings(max_model_len=131072, kv_cache_memory_bytes=20 * GIB, block_size=16)
    plan = plan_capacity(model, resolve_gpu("h100"), Layout(tp=8), settings)
    attention = FullAttentionSpec(block_size=plan.block_size, num_kv_heads=1, head_size=128, dtype=torch.bfloat16)
    state = MambaSpec(shapes=tuple(Shapes.linear_attention_state_shape(64, 8, 128)),
                      dtypes=Dtypes.linear_attention_state_dtype(torch.bfloat16, "auto"), block_size=plan.block_size,
                      page_size_padded=attention.page_size_bytes, mamba_cache_mode="align")  # fmt: skip
    specs = {f"model.layers.{i}.attn": attention if (i + 1) % 8 == 0 else state for i in range(80)}
    # a servable stand-in gives the engine's cache settings (MiniMax-Text-01's own class is gone); the
    # hybrid's prefix caching ('align': 2 state blocks a request) is set as vLLM 0.32 sets it for hybrids
    stand_in = write_synthetic_model(tmp_path / "stand-in", "qwen3-32b", {"layers": 2, "max_position": 131072})
    args = EngineArgs(model=str(stand_in), max_model_len=131072, load_format="dummy", skip_tokenizer_init=True)
    vllm_config = args.create_engine_config(UsageContext.OPENAI_API_SERVER)
    vllm_config.cache_config.mamba_cache_mode = "align"
    layouts = [[m.name for m in CPUAttentionBackend.supported_kv_cache_layouts()]]
    resolve_kv_cache_layout(vllm_config, layouts, list(specs.values()))
    (theirs,) = kv.get_kv_cache_configs(vllm_config, [specs], [20 * GIB])
    tokens, concurrency = kv.get_kv_cache_capacity(vllm_config, theirs)
    assert (plan.num_blocks, plan.kv_capacity_tokens) == (theirs.num_blocks, tokens)
    assert plan.max_concurrency == pytest.approx(concurrency, rel=1e-12)

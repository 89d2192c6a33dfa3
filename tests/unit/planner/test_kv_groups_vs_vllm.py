"""The planner's KV capacity for MLA, sliding-window and mixed models against vLLM's own KV-cache code:
the per-layer specs vLLM's attention layers would declare are built here from config.json (not from the
planner), then vLLM's engine-side functions group them, size the pool, check the longest request and
report the capacity (vllm/v1/core/kv_cache_utils.py: get_kv_cache_configs, get_kv_cache_capacity,
_estimate_max_model_len_from_groups). The CPU servers of tests/live/test_attention_kinds.py check the
same shapes end to end. A broken vLLM import fails here; it does not skip."""

from __future__ import annotations

import json
from itertools import accumulate
from pathlib import Path

import pytest

from bench.server.synth_model import write_synthetic_model
from planner import Layout, LayoutRejected, PlanSettings, load_model, plan_capacity, resolve_gpu
from planner.units import GIB

BLOCK = 128  # vLLM's CPU platform block size
MLA_BLOCK = 16  # its CPU MLA kernel's only block size (hosts without AMX)
SHAPES = {  # family, size overrides, extra config
    "mla": ("deepseek-v3", {"layers": 4}, {}),
    "alternating": ("gemma-3-27b", {"layers": 24, "kv_heads": 8, "head_dim": 64},
                    {"layer_types": ["sliding_attention", "full_attention"] * 12, "sliding_window": 128}),
    "five-to-one": ("gemma-3-27b", {"layers": 62}, {}),  # 52 sliding + 10 full: vLLM pads the sliding groups
    "long-window": ("gemma-3-27b", {"layers": 12}, {"sliding_window": 6000}),
}  # fmt: skip


def vllm_specs(config: dict) -> dict:
    """Per layer, the spec vLLM's attention layer declares for this config (CPU backend, bf16 KV)."""
    import torch
    from vllm.v1.kv_cache_interface import FullAttentionSpec, MLAAttentionSpec, SlidingWindowSpec

    layers = config["num_hidden_layers"]
    if config.get("kv_lora_rank"):
        latent = config["kv_lora_rank"] + config["qk_rope_head_dim"]
        spec = MLAAttentionSpec(block_size=MLA_BLOCK, num_kv_heads=1, head_size=latent, dtype=torch.bfloat16)
        return {f"model.layers.{i}.self_attn.attn": spec for i in range(layers)}
    pattern = config["sliding_window_pattern"]
    kinds = config.get("layer_types") or [
        "full_attention" if (i + 1) % pattern == 0 else "sliding_attention" for i in range(layers)
    ]
    shape = {"block_size": BLOCK, "num_kv_heads": config["num_key_value_heads"], "head_size": config["head_dim"],
             "dtype": torch.bfloat16}  # fmt: skip
    return {
        f"model.layers.{i}.self_attn.attn": SlidingWindowSpec(sliding_window=config["sliding_window"], **shape)
        if kind == "sliding_attention"
        else FullAttentionSpec(**shape)
        for i, kind in enumerate(kinds)
    }


def vllm_capacity(model_dir: Path, *, max_len: int, budget: int, pp: int) -> dict:
    from vllm.engine.arg_utils import EngineArgs
    from vllm.usage.usage_lib import UsageContext
    from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend
    from vllm.v1.attention.backends.utils import resolve_kv_cache_layout
    from vllm.v1.core import kv_cache_utils as kv

    config = json.loads((model_dir / "config.json").read_text())
    args = EngineArgs(model=str(model_dir), max_model_len=max_len, load_format="dummy", skip_tokenizer_init=True,
                      pipeline_parallel_size=pp, distributed_executor_backend="mp" if pp > 1 else None)  # fmt: skip
    vllm_config = args.create_engine_config(UsageContext.OPENAI_API_SERVER)  # the server's batch defaults
    specs = vllm_specs(config)
    layouts = [[m.name for m in CPUAttentionBackend.supported_kv_cache_layouts()]]
    resolve_kv_cache_layout(vllm_config, layouts, list(specs.values()))
    names = list(specs)
    bounds = [0, *accumulate(_pp_split(len(names), pp))]
    workers = [{n: specs[n] for n in names[a:b]} for a, b in zip(bounds, bounds[1:], strict=False)]
    groups = kv.get_kv_cache_groups(vllm_config, dict(specs))
    projected = kv._project_kv_cache_groups_to_worker(groups, workers[0])
    longest = kv._estimate_max_model_len_from_groups(vllm_config, projected, budget)
    try:
        configs = kv.get_kv_cache_configs(vllm_config, workers, [budget] * pp)
    except ValueError:
        return {"refused": True, "longest": longest}
    tokens, concurrency = kv.get_kv_cache_capacity(vllm_config, configs[0])
    return {"refused": False, "blocks": configs[0].num_blocks, "tokens": tokens, "concurrency": concurrency}


def _pp_split(layers: int, pp: int) -> list[int]:
    """vLLM's get_pp_indices: the remainder goes to the stages before the last."""
    from vllm.distributed.utils import get_pp_indices

    return [end - start for start, end in (get_pp_indices(layers, rank, pp) for rank in range(pp))]


@pytest.mark.parametrize(("shape", "max_len", "pp"), [
    ("mla", 4096, 1), ("alternating", 8192, 1), ("five-to-one", 8192, 1), ("five-to-one", 16384, 2),
    ("long-window", 4096, 1),
])  # fmt: skip
def test_planner_capacity_equals_vllms(tmp_path, shape, max_len, pp):
    family, sizes, extra = SHAPES[shape]
    model_dir = write_synthetic_model(tmp_path / shape, family, sizes, extra=extra)
    budget = GIB
    theirs = vllm_capacity(model_dir, max_len=max_len, budget=budget, pp=pp)
    block = MLA_BLOCK if shape == "mla" else BLOCK
    settings = PlanSettings(max_model_len=max_len, block_size=block, kv_cache_memory_bytes=budget)
    plan = plan_capacity(load_model(str(model_dir)), resolve_gpu("cpu"), Layout(pp=pp), settings)
    assert not theirs["refused"]
    assert (plan.num_blocks, plan.kv_capacity_tokens) == (theirs["blocks"], theirs["tokens"])
    assert plan.max_concurrency == pytest.approx(theirs["concurrency"], rel=1e-12)


def test_refusal_names_vllms_estimated_longest_request(tmp_path):
    """A max_model_len the pool cannot hold once: both refuse, and name the same longest request."""
    family, sizes, extra = SHAPES["five-to-one"]
    model_dir = write_synthetic_model(tmp_path / "m", family, sizes, extra=extra)
    budget = 96 << 20  # room for fewer blocks than one 32K request takes in the full-attention group
    theirs = vllm_capacity(model_dir, max_len=32768, budget=budget, pp=1)
    settings = PlanSettings(max_model_len=32768, block_size=BLOCK, kv_cache_memory_bytes=budget)
    with pytest.raises(LayoutRejected) as refused:
        plan_capacity(load_model(str(model_dir)), resolve_gpu("cpu"), Layout(), settings)
    assert theirs["refused"] and 0 < theirs["longest"] < 32768
    assert f"estimated maximum model length is {theirs['longest']})" in str(refused.value)


SPARSE = {"index_topk": 2048, "index_head_dim": 128, "index_n_heads": 64}  # DeepSeek V3.2's indexer


def v32_specs(config: dict, fp8: bool) -> dict:
    """What V3.2's layers declare on a GPU (FlashMLA-sparse, 64-token blocks): the latent (MLAAttention's
    get_kv_cache_spec; fp8 as 'fp8_ds_mla', 656 bytes) and the indexer's key (DeepseekV32IndexerCache)."""
    import torch
    from vllm.v1.kv_cache_interface import MLAAttentionSpec, SparseCacheRole

    latent = config["kv_lora_rank"] + config["qk_rope_head_dim"]
    main = MLAAttentionSpec(block_size=64, num_kv_heads=1, max_tp_shards=1, head_size=latent,
                            dtype=torch.uint8 if fp8 else torch.bfloat16, cache_dtype_str="fp8_ds_mla" if fp8 else None,
                            state_content_bytes=656 if fp8 else None)  # fmt: skip
    head = config["index_head_dim"]
    index = MLAAttentionSpec(block_size=64, num_kv_heads=1, max_tp_shards=1, head_size=head + head // 128 * 4,
                             dtype=torch.uint8, cache_role=SparseCacheRole.INDEXER)  # fmt: skip
    specs = {}
    for i in range(config["num_hidden_layers"]):
        specs[f"model.layers.{i}.self_attn.attn"] = main
        specs[f"model.layers.{i}.self_attn.indexer.k_cache"] = index
    return specs


@pytest.mark.parametrize("fp8", [False, True])
def test_v32_latent_and_indexer_share_one_group_as_vllm_sizes_it(tmp_path, fp8):
    """vLLM cannot serve V3.2 here (its sparse kernels are GPU-only): its KV functions are the check."""
    from vllm.engine.arg_utils import EngineArgs
    from vllm.usage.usage_lib import UsageContext
    from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend
    from vllm.v1.attention.backends.utils import resolve_kv_cache_layout
    from vllm.v1.core import kv_cache_utils as kv

    model_dir = write_synthetic_model(tmp_path / "v32", "deepseek-v3", {"layers": 6}, extra=SPARSE)
    stand_in = write_synthetic_model(tmp_path / "stand-in", "qwen3-32b", {"layers": 2})  # any servable config
    args = EngineArgs(model=str(stand_in), max_model_len=8192, load_format="dummy", skip_tokenizer_init=True)
    vllm_config = args.create_engine_config(UsageContext.OPENAI_API_SERVER)
    specs = v32_specs(json.loads((model_dir / "config.json").read_text()), fp8)
    resolve_kv_cache_layout(vllm_config, [[m.name for m in CPUAttentionBackend.supported_kv_cache_layouts()]],
                            list(specs.values()))  # fmt: skip
    (theirs,) = kv.get_kv_cache_configs(vllm_config, [specs], [GIB])
    tokens, _ = kv.get_kv_cache_capacity(vllm_config, theirs)
    settings = PlanSettings(max_model_len=8192, kv_cache_memory_bytes=GIB, kv_cache_dtype="fp8" if fp8 else "auto",
                            block_size=64)  # fmt: skip
    plan = plan_capacity(load_model(str(model_dir)), resolve_gpu("h100"), Layout(), settings)
    assert (plan.num_blocks, plan.kv_capacity_tokens) == (theirs.num_blocks, tokens)
    assert plan.kv_bytes_per_token == 6 * ((656 if fp8 else 1152) + 132)

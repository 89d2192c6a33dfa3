"""MLA, sliding-window, chunked-local and state-layer (GDN, Mamba2) models served by the real CPU vLLM:
the planner's KV capacity (blocks, block size, the KV size vLLM publishes) equals the server's own
report, to the block. Two kinds run in CI (tests/live/test_attention_kinds.py), the other three in
tests/optional/test_attention_kinds_more.py; all five shapes are also checked against vLLM's KV-cache
functions without a server in tests/unit/planner/test_kv_groups_vs_vllm.py and test_state_layers_vs_vllm.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.run.deployment import probe_deployment
from bench.scenario.deployment import DeploymentSpec, SynthModel
from bench.server.cpu_host import this_host
from tests.live.fast_start import EAGER

KINDS = {
    # DeepSeek-V3's MLA (latent 512 + rope 64 per token and layer), 4 layers, 8 experts
    "mla": SynthModel(like="deepseek-v3", sizes={"layers": 4}),
    # Gemma-3's 5:1 pattern over 12 layers (10 sliding at 1024 tokens, 2 full): a request of 8K keeps
    # 64 blocks in the full group and 25 in each of the five sliding groups (2048 tokens in flight)
    "sliding": SynthModel(like="gemma-3-27b", sizes={"layers": 12}),
    # Qwen3-Next's Gated DeltaNet, 6 of 8 layers: vLLM raises the block until one attention page holds a
    # layer's state (4,224 tokens here: a float32 state on AVX-512 BF16 hosts) and pads the state to it
    "gdn": SynthModel(like="qwen3-next-80b-a3b", sizes={"layers": 8}),
    # Llama 4's chunked local attention (8192-token chunks on 3 of 4 layers): at 16K a request keeps 80
    # blocks in each chunked layer and 128 in the full one
    "chunked": SynthModel(like="llama-4-scout", sizes={"layers": 4}),
    # Nemotron-H's Mamba2 (M-M-M-M*: 4 Mamba2, 1 attention, 3 MLP-only layers): a float32 SSM state, and 3
    # state blocks a request with prefix caching (MambaMixer2's prefill checkpoint)
    "mamba2": SynthModel(like="nemotron-h-8b", sizes={"layers": 8}),
}
IN_CI = ("gdn", "mla")  # a state layer's padded page, and the block size that depends on the host (AMX)
MAX_LEN = {"chunked": 16384}  # past the chunk + tokens in flight, where chunked and full differ


def check_capacity_equals_the_servers_report(kind: str, tmp_path: Path) -> None:
    """Serve the kind's model once and compare the planner's KV capacity with the server's report."""
    spec = DeploymentSpec(name=kind, model=KINDS[kind], max_model_len=MAX_LEN.get(kind, 8192), cpu_kvcache_space_gib=1,
                          startup_timeout_s=300, extra_args=EAGER)  # fmt: skip
    record = asyncio.run(probe_deployment(spec, tmp_path))
    assert record.status == "ok", record.error
    capacity = record.capacity
    assert capacity is not None and capacity.reported_source == "metrics"
    assert capacity.predicted_blocks == capacity.reported_blocks
    assert record.predicted is not None and record.predicted["block_size"] == capacity.block_size
    if kind == "mla":  # vLLM's CPU MLA kernel takes 16-token blocks (AMX hosts the default 128)
        assert capacity.block_size == (128 if this_host().amx else 16)
    assert capacity.predicted_tokens == capacity.reported_tokens and capacity.difference_tokens == 0

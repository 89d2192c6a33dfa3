"""vLLM's KV-cache groups and what one request takes from them (vllm/v1/core/kv_cache_utils.py:
`get_kv_cache_groups`, `get_kv_cache_config_from_groups`, `get_max_concurrency_for_kv_cache_config`;
vllm/v1/kv_cache_interface.py: `max_memory_usage_bytes` of each spec). Checked against vLLM 0.32.0's
own functions and its CPU server (tests/unit/planner/test_kv_groups_vs_vllm.py, tests/live/).

Layers of one kind share a block table. With one kind (all full, all MLA, all sliding at one window)
there is one group of every layer. With full and sliding layers mixed (gpt-oss, Gemma-3) every
group holds the same number of layers: the smaller kind's count, or the larger kind's when it is
under 1.5x the smaller; a kind's layers go to its groups round-robin (layers[i::groups]) and its
last group may be short (vLLM's "padding layers"). Every layer's page (block_size tokens) has the same
bytes in these models, so one pool block = group_size x page, and

  num_blocks         = budget // (group_size x page)
  blocks per request = sum over groups: full cdiv(L, block); sliding cdiv(min(window - 1 + in_flight, L), block)
                       + 1; chunked local cdiv(min(chunk + in_flight, L), block); a state layer 1; with
                       prefix caching ('align' mode) 2, 3 for Mamba2 (its prefill checkpoint), or cdiv(L, block)
                       in 'all' mode (Mamba2 before vLLM 0.32)
  max_concurrency    = num_blocks / blocks per request at L = max_model_len
  KV cache size      = int(max_concurrency x max_model_len) tokens   (what vLLM logs and publishes)

where in_flight = max_num_batched_tokens x concurrent batches (2 with async scheduling, else the PP
size: `VllmConfig.max_in_flight_tokens`). Under pipeline parallelism each stage holds its own layers
of every group; its block is its widest group's share, and every stage keeps the smallest count.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil

from pydantic import BaseModel, ConfigDict

from planner.attention import Kind
from planner.model_spec import ModelSpec

GROUP_SIZE_SLACK = 1.5  # vLLM's heuristic: pad the smaller kind up rather than split the larger below this


class KVGroup(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind  # full attention (or MLA), sliding window, chunked local attention, fixed per-request state
    span: int = 0  # the sliding window or the chunk, in tokens
    layers: tuple[int, ...]  # model (decoder) layer indices


def kv_groups(entries: Sequence[tuple[int, Kind, int]]) -> list[KVGroup]:
    """`entries`: per KV-holding layer, (decoder layer, kind, window or chunk)."""
    buckets: dict[tuple[Kind, int], list[int]] = {}
    for layer, kind, span in entries:
        buckets.setdefault((kind, span), []).append(layer)
    counts = [len(layers) for layers in buckets.values()]
    size = min(counts) if max(counts) >= min(counts) * GROUP_SIZE_SLACK else max(counts)
    groups = []
    for (kind, span), layers in buckets.items():
        n = ceil(len(layers) / size)
        groups += [KVGroup(kind=kind, span=span, layers=tuple(layers[i::n])) for i in range(n)]
    return groups


def model_kv_groups(model: ModelSpec) -> list[KVGroup]:
    return kv_groups(model.attention.kv_layers(model.num_layers))


def layers_per_block(groups: Sequence[KVGroup], stage_layers: range) -> int:
    """Pages in one pool block on a rank holding `stage_layers`: its widest group's share of them."""
    return max(sum(1 for layer in g.layers if layer in stage_layers) for g in groups)


class RequestRule(BaseModel):
    """What one request's blocks depend on besides its length."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    block_size: int
    in_flight: int  # tokens scheduled but not settled (planner/server_settings.py in_flight_tokens)
    state_blocks: int = 1  # a state layer's blocks (planner/recurrent_state.py state_blocks)
    state_per_block: bool = False  # 'all' mode: a state layer keeps one state per block of the request


def group_blocks(group: KVGroup, tokens: int, rule: RequestRule) -> int:
    """Blocks one request of `tokens` tokens holds in this group at most."""
    if group.kind == "state":
        return ceil(tokens / rule.block_size) if rule.state_per_block else rule.state_blocks
    if group.kind == "chunked":
        return ceil(min(group.span + rule.in_flight, tokens) / rule.block_size)
    if group.kind == "sliding":
        return ceil(min(group.span - 1 + rule.in_flight, tokens) / rule.block_size) + 1
    return ceil(tokens / rule.block_size)


def blocks_per_request(groups: Sequence[KVGroup], tokens: int, rule: RequestRule) -> int:
    return sum(group_blocks(g, tokens, rule) for g in groups)


def longest_request(groups: Sequence[KVGroup], blocks: int, rule: RequestRule, *, limit: int) -> int:
    """The longest request (<= limit) whose blocks fit in `blocks`: vLLM's "estimated maximum model
    length", by the same bisection (sliding and state groups stop growing)."""
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if blocks_per_request(groups, mid, rule) <= blocks else (low, mid - 1)
    return low

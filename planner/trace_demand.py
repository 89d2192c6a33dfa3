"""A trace's KV demand on paper: the blocks its live requests hold, moment by moment.

vLLM's `kv_cache_usage_perc` is 1 - free blocks / all blocks, and a block a finished request leaves in
the prefix cache counts as free (evictable), so usage is the blocks running requests reference:

  blocks(t) = |full prompt blocks of the live requests, each distinct block once|
              + sum over live requests of (ceil((prompt + produced(t)) / B) - its full prompt blocks)

A full prompt block is shared when two live requests' prompts agree up to its last token: its identity
is the chain of content segments (traces/schema.py) up to the segment holding that token, and its
index. A request is live from its admission (its prompt's blocks are allocated) to its last token;
produced(t) grows from 1 at its first token to its output length at its end. When each request is
live comes from outside: the run's own timings (reports, the check against a run) or the batching
replay (planner/trace_timing.py, a plan before any run).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from traces import Segment, TraceRequest

GRID_POINTS = 2000


@dataclass(frozen=True, slots=True)
class Lifetime:
    start: float  # admitted: its prompt's blocks allocated
    first_token: float
    end: float  # its last token: its blocks referenced no more


@dataclass(frozen=True)
class KvDemand:
    times: np.ndarray  # seconds from the first admission
    blocks: np.ndarray  # blocks referenced at each time
    live: np.ndarray  # requests live at each time
    block_size: int
    shared_blocks_peak: int  # the most blocks at one time that two or more live requests shared

    def percentile_blocks(self, q: float) -> float:
        return float(np.percentile(self.blocks, q)) if self.blocks.size else 0.0

    @property
    def peak_blocks(self) -> int:
        return int(self.blocks.max()) if self.blocks.size else 0


def prompt_chain(segments: Sequence[Segment], block_size: int) -> list[tuple[int, int]]:
    """(identity of the prefix ending with this segment, full blocks whose last token falls in it)."""
    chain, offset, out = 0, 0, []
    for key, tokens in segments:
        chain = hash((chain, key, tokens))
        end = offset + tokens
        blocks = end // block_size - offset // block_size  # full blocks ending inside (offset, end]
        if blocks:
            out.append((chain, blocks))
        offset = end
    return out


def prefix_hit_tokens(requests: Sequence[TraceRequest], *, block_size: int) -> list[int]:
    """Per request, the prompt tokens a prefix cache that forgets nothing would already hold when it comes
    (whole blocks whose prefix an earlier request sent), in the order given (arrivals, then later turns)."""
    seen: set[int] = set()
    hits = []
    for request in requests:
        chain = prompt_chain(request.segments, block_size)
        hits.append(block_size * sum(n for key, n in chain if key in seen))
        seen.update(key for key, _ in chain)
    return hits


def kv_demand(requests: Sequence[TraceRequest], lives: Sequence[Lifetime], *, block_size: int) -> KvDemand:
    """The blocks referenced over time, on a grid of GRID_POINTS from the first admission to the last end."""
    if not requests:
        return KvDemand(np.zeros(0), np.zeros(0), np.zeros(0), block_size, 0)
    t0, t1 = min(life.start for life in lives), max(life.end for life in lives)
    grid = np.linspace(t0, t1, GRID_POINTS)
    chains = [prompt_chain(r.segments, block_size) for r in requests]
    order = sorted(range(len(requests)), key=lambda i: lives[i].start)
    refs: dict[int, int] = {}
    sizes: dict[int, int] = {}
    live: list[int] = []
    blocks, counts, shared_peak = np.zeros(GRID_POINTS), np.zeros(GRID_POINTS), 0
    shared_total, next_start = 0, 0
    for g, t in enumerate(grid):
        while next_start < len(order) and lives[order[next_start]].start <= t:
            i = order[next_start]
            live.append(i)
            shared_total += _reference(chains[i], refs, sizes, +1)
            next_start += 1
        for i in [i for i in live if lives[i].end < t]:
            live.remove(i)
            shared_total += _reference(chains[i], refs, sizes, -1)
        own = sum(_own_blocks(requests[i], lives[i], chains[i], t=t, block_size=block_size) for i in live)
        blocks[g], counts[g] = shared_total + own, len(live)
        shared_peak = max(shared_peak, sum(sizes[c] for c, n in refs.items() if n > 1) if len(live) > 1 else 0)
    return KvDemand(grid - t0, blocks, counts, block_size, shared_peak)


def _reference(chain: list[tuple[int, int]], refs: dict[int, int], sizes: dict[int, int], step: int) -> int:
    """Blocks that became referenced (+) or unreferenced (-) as one request came or went."""
    change = 0
    for key, n in chain:
        before = refs.get(key, 0)
        refs[key] = before + step
        sizes[key] = n
        if before == 0 and step > 0:
            change += n
        elif before == 1 and step < 0:
            change -= n
            del refs[key]
    return change


def _own_blocks(
    request: TraceRequest, life: Lifetime, chain: list[tuple[int, int]], *, t: float, block_size: int
) -> int:
    produced = 0.0
    if t >= life.first_token:
        span = life.end - life.first_token
        produced = 1 + (request.output_tokens - 1) * (min(1.0, (t - life.first_token) / span) if span > 0 else 1.0)
    total = math.ceil((request.input_tokens + produced) / block_size)
    return total - sum(n for _, n in chain)

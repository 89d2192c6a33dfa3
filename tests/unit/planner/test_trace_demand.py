"""Live KV of a trace on paper: shared prompt blocks once, a request's blocks growing with its output,
conversations chained by think time, and layouts chosen by the p99 with headroom."""

from __future__ import annotations

import pytest

from planner import PlanSettings, load_model, resolve_gpu
from planner.trace_demand import Lifetime, kv_demand, prefix_hit_tokens, prompt_chain
from planner.trace_plan import Timing, TraceSlo, engine_share, search_for_trace
from planner.trace_timing import fluid_lifetimes, peak_rate
from tests.paths import REPO
from traces import TraceRequest, read_trace


def request(line: int, *segments: tuple[str, int], output: int = 1, arrival: float | None = 0.0, **kw) -> TraceRequest:
    return TraceRequest(line, arrival, segments, output, **kw)


def test_a_prefix_two_live_requests_share_is_counted_once():
    a = request(1, ("doc", 64), ("a", 20))  # 4 shared blocks of 16, then 20 + 1 tokens of its own: 2 blocks
    b = request(2, ("doc", 64), ("b", 36))  # then 36 + 1: 3 blocks
    together = kv_demand([a, b], [Lifetime(0, 1, 10), Lifetime(0, 1, 10)], block_size=16)
    apart = kv_demand([a, b], [Lifetime(0, 1, 10), Lifetime(20, 21, 30)], block_size=16)
    assert together.peak_blocks == 4 + 2 + 3 and together.shared_blocks_peak == 4
    assert apart.peak_blocks == 7 and apart.shared_blocks_peak == 0  # b alone: ceil(101 / 16)


def test_a_block_is_shared_only_up_to_where_the_prompts_agree():
    # the same first segment, different second ones: the block that straddles them belongs to each
    assert prompt_chain((("doc", 40), ("a", 40)), 16)[0][1] == 2  # blocks 0-1 end inside "doc"; block 2 does not
    a, b = request(1, ("doc", 40), ("a", 40)), request(2, ("doc", 40), ("b", 40))
    demand = kv_demand([a, b], [Lifetime(0, 1, 10), Lifetime(0, 1, 10)], block_size=16)
    assert demand.shared_blocks_peak == 2 and demand.peak_blocks == 2 + 2 * (6 - 2)


def test_a_request_holds_its_prompt_from_admission_and_grows_to_its_last_token():
    grows = request(1, ("p", 16), output=33)
    demand = kv_demand([grows], [Lifetime(start=0, first_token=1, end=33)], block_size=16)
    assert demand.blocks[0] == 1  # admitted: the prompt's block
    assert demand.peak_blocks == 4  # 16 + 33 tokens at its last token: ceil(49 / 16)


def test_a_conversation_turn_starts_its_think_time_after_the_previous_answer():
    first = request(1, ("s0", 100), output=11, arrival=5.0, session="s")
    second = request(2, ("s0", 100), ("s0o", 11), ("s1", 50), output=3, arrival=None, session="s", turn=1, think_s=2)
    lives = fluid_lifetimes([first, second], ttft_s=0.5, tpot_s=0.1)
    assert lives[0].end == pytest.approx(5 + 0.5 + 10 * 0.1)
    assert lives[1].start == pytest.approx(lives[0].end + 2) and lives[1].end == pytest.approx(lives[1].start + 0.7)


def test_the_busiest_minute_counts_a_conversations_turns_at_its_start():
    burst = [request(i, ("x", 1), arrival=float(i) / 10) for i in range(30)]  # 30 in 3 s, then 2 more much later
    spread = [request(100 + i, ("x", 1), arrival=600.0 + 100 * i) for i in range(2)]
    assert peak_rate(burst + spread) == pytest.approx(30 / 60)


def test_more_headroom_never_needs_fewer_gpus():
    trace = read_trace(REPO / "tests" / "data" / "traces" / "mooncake.jsonl", "mooncake")
    slow = Timing(ttft_ms=2000, tpot_ms=400, source="assumed")  # long lifetimes: many requests live at once
    model, gpu = load_model("qwen3-32b"), resolve_gpu("l40s")

    def gpus(headroom: float) -> int:
        fits = search_for_trace(model, gpu, trace.requests, settings=PlanSettings(), slo=TraceSlo(headroom=headroom),
                                timing=slow, limit=1)  # fmt: skip
        assert fits[0].fits and fits[0].p99_tokens * (1 + headroom) <= fits[0].plan.kv_capacity_tokens
        return fits[0].plan.gpus

    assert gpus(0.0) <= gpus(1.0) <= gpus(8.0)


def test_prefix_hits_are_the_whole_blocks_an_earlier_request_sent():
    a = request(1, ("doc", 64), ("a", 20))
    b = request(2, ("doc", 64), ("b", 36))
    c = request(3, ("other", 64))
    assert prefix_hit_tokens([a, b, c], block_size=16) == [0, 64, 0]
    # a conversation's next turn re-sends its history: all of it that fills whole blocks is found
    turn = request(4, ("doc", 64), ("a", 20), ("a-out", 12), ("next", 5), arrival=None, session="s")
    # blocks 0-4 (tokens 0-79) lie in doc + a; block 5 (80-95) straddles a / a-out: a was sent without it
    assert prefix_hit_tokens([a, turn], block_size=16) == [0, 80]


def test_dp_engines_take_whole_conversations_least_loaded_first_and_the_busiest_share_is_planned():
    small = [request(i, ("a", 100), session=f"s{i}", turn=0) for i in range(3)]
    big = [request(9, ("b", 1000), session="big", turn=0), request(10, ("c", 1000), session="big", turn=1,
                                                                     arrival=None)]  # fmt: skip
    trace = [small[0], small[1], small[2], *big]
    # s0 -> engine 0, s1 -> engine 1, s2 -> engine 0 (both 101 tokens, the first lightest), big -> engine 1
    assert engine_share(trace, 2) == [small[1], *big]
    assert engine_share(trace, 1) == trace

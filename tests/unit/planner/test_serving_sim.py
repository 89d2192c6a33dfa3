"""vLLM's batching replayed on paper: with a step of fixed length the timings follow from the scheduling
rules alone (decode first, then prompt chunks within the token budget, at most max_num_seqs at once)."""

from __future__ import annotations

import pytest

from planner.engine_loop import BatchLimits
from planner.performance import LevelPrediction, slo_concurrency
from planner.replay_clients import Frontend
from planner.serving_sim import Arrival, replay, simulate

STEP = 0.010
LIMITS = BatchLimits(max_num_batched_tokens=1000, max_num_seqs=8, kv_capacity_tokens=10**6)


def run(*, concurrency=1, requests=1, prompt=100, output=5, limits=LIMITS, arrivals=None):
    done, short = simulate([(arrivals, requests, concurrency)], prompt=prompt, output=output, limits=limits,
                           step_seconds=lambda shapes: STEP)  # fmt: skip
    return sorted(done, key=lambda r: r.arrival), short


def test_one_request_a_step_per_token():
    (r,), short = run(output=5)
    assert r.ttft == pytest.approx(STEP) and r.e2el == pytest.approx(5 * STEP) and not short
    assert r.itl == pytest.approx((STEP,) * 4)


def test_closed_loop_sends_the_next_request_when_one_finishes():
    done, _ = run(requests=3, output=4)
    assert [r.arrival for r in done] == pytest.approx([0.0, 4 * STEP, 8 * STEP])


def test_a_prompt_longer_than_the_token_budget_is_prefilled_in_chunks():
    (r,), _ = run(prompt=2500, output=2)  # 1000 + 1000 + 500 tokens: the first token after the third step
    assert r.ttft == pytest.approx(3 * STEP)


def test_decodes_go_first_and_prompts_share_what_is_left():
    done, _ = run(concurrency=2, requests=2, prompt=999, output=3)
    # both arrive together: the budget (1000) takes the first prompt and 1 token of the second
    assert [r.ttft for r in done] == pytest.approx([STEP, 2 * STEP])


def test_max_num_seqs_makes_the_rest_wait():
    limits = BatchLimits(max_num_batched_tokens=1000, max_num_seqs=1, kv_capacity_tokens=10**6)
    done, _ = run(concurrency=2, requests=2, output=3, limits=limits)
    assert sorted(r.ttft for r in done) == pytest.approx([STEP, 4 * STEP])


def test_open_loop_requests_arrive_on_their_own_schedule():
    done, _ = run(concurrency=None, requests=2, output=2, arrivals=[0.0, 1.0])
    assert [r.arrival for r in done] == [0.0, 1.0] and all(r.ttft == pytest.approx(STEP) for r in done)


def test_async_scheduling_makes_a_request_arriving_mid_step_wait_for_the_step_after_next():
    asynchronous = BatchLimits(max_num_batched_tokens=1000, max_num_seqs=8, kv_capacity_tokens=10**6,
                               async_scheduling=True)  # fmt: skip
    # one long request keeps the engine busy; the second arrives 1.5 steps in: the step starting at 2 STEP was
    # chosen at 1 STEP, before it came, so its prompt runs in the step starting at 3 STEP
    arrivals = [0.0, 1.5 * STEP]
    sync, _ = run(concurrency=None, requests=2, output=10, arrivals=arrivals)
    lagged, _ = run(concurrency=None, requests=2, output=10, arrivals=arrivals, limits=asynchronous)
    assert sync[1].ttft == pytest.approx(1.5 * STEP) and lagged[1].ttft == pytest.approx(2.5 * STEP)
    # an idle engine takes a request at once either way
    assert sync[0].ttft == lagged[0].ttft == pytest.approx(STEP)


def test_replay_sends_a_later_turn_its_think_time_after_the_earlier_answer():
    turns = [Arrival(at=0.0, prompt=100, output=3), Arrival(at=None, prompt=300, output=2, after=0, think=1.0),
             Arrival(at=0.05, prompt=100, output=2)]  # fmt: skip
    done, _ = replay(turns, limits=LIMITS, step_seconds=lambda shape: STEP)
    assert [r.index for r in done] == [0, 1, 2]  # in the order given, not the order finished
    assert done[1].arrival == pytest.approx(done[0].arrival + done[0].e2el + 1.0)
    assert done[2].arrival == pytest.approx(0.05)


def test_replay_prefills_only_what_the_prefix_cache_lacks():
    def cost(shape):  # a step costs its prompt tokens: 1 ms each, at least one step
        return max(STEP, sum(tokens for tokens, _ in shape.prefills) * 1e-3)

    fresh, _ = replay([Arrival(at=0.0, prompt=500, output=2)], limits=LIMITS, step_seconds=cost)
    cached, _ = replay([Arrival(at=0.0, prompt=500, output=2, cached=400)], limits=LIMITS, step_seconds=cost)
    assert fresh[0].ttft == pytest.approx(0.5) and cached[0].ttft == pytest.approx(0.1)


def test_replay_takes_decode_runs_in_one_go_with_the_timings_of_step_by_step():
    def cost(shape):  # linear in the contexts, as KV reads are; a prompt costs its tokens
        return 0.005 + 1e-6 * sum(shape.decode_contexts) + 1e-4 * sum(tokens for tokens, _ in shape.prefills)

    times = [0.0, 0.003, 0.5, 0.52, 2.0]
    stepwise, _ = simulate([(times, 5, None)], prompt=300, output=200, limits=LIMITS,
                           step_seconds=lambda shapes: cost(shapes[0]))  # fmt: skip
    replayed, _ = replay([Arrival(at=t, prompt=300, output=200) for t in times], limits=LIMITS, step_seconds=cost)
    for a, b in zip(sorted(stepwise, key=lambda r: r.arrival), replayed, strict=True):
        assert (a.ttft, a.e2el) == pytest.approx((b.ttft, b.e2el), rel=1e-9)


def test_the_api_server_hands_each_request_over_a_fixed_time_after_it_comes_and_tokenises_one_at_a_time():
    api = Frontend(request=0.5 * STEP, token=0.01 * STEP)  # 1 step to tokenise a 100-token prompt
    done, _ = simulate([(None, 2, 2)], prompt=100, output=3, limits=LIMITS, step_seconds=lambda shapes: STEP,
                       frontend=api)  # fmt: skip
    first, second = sorted(done, key=lambda r: r.frontend)
    # both sent at 0: each ready no sooner than 0.5 steps; the tokeniser takes one, then the other
    assert first.frontend == pytest.approx(1.5 * STEP) and second.frontend == pytest.approx(2.5 * STEP)
    # the engine starts on the first at 1.5 steps; the second, handed over as that step ends, joins the next
    assert first.ttft == pytest.approx(2.5 * STEP) and second.ttft == pytest.approx(3.5 * STEP)
    assert first.itl == pytest.approx((STEP, STEP))  # decoding is the engine's alone


def test_under_async_scheduling_a_step_no_cuda_graph_covers_holds_back_the_tokens_of_the_step_before():
    def limits(graph_tokens, launch_s=None):
        return BatchLimits(max_num_batched_tokens=100, max_num_seqs=8, kv_capacity_tokens=10**6,
                           async_scheduling=True, graph_tokens=graph_tokens, launch_s=launch_s)  # fmt: skip

    def ttfts(graph_tokens, launch_s=None):
        # A (50-token prompt) and B (150) come together: step 1 prefills A and 50 of B, step 2 decodes A
        # and prefills 99 of B (100 tokens), step 3 decodes A and prefills B's last token (2 tokens)
        turns = [Arrival(at=0.0, prompt=50, output=3), Arrival(at=0.0, prompt=150, output=2)]
        done, _ = replay(turns, limits=limits(graph_tokens, launch_s), step_seconds=lambda shape: STEP)
        return [r.ttft for r in done]

    # no step larger than a graph (100 tokens), or graphs not modelled: tokens come out as each step ends
    assert ttfts(100) == ttfts(None) == pytest.approx([STEP, 3 * STEP])
    # graphs up to 60 tokens: step 2 (100 tokens) runs uncaptured, so A's first token (step 1's) comes out
    # once the host has launched step 2 - its whole step where the launch is not given; step 3 is captured, so
    # B's is out when it ends
    assert ttfts(60) == pytest.approx([2 * STEP, 3 * STEP])
    assert ttfts(60, launch_s=0.25 * STEP) == pytest.approx([1.25 * STEP, 3 * STEP])
    assert ttfts(60, launch_s=2 * STEP) == pytest.approx([2 * STEP, 3 * STEP])  # no later than the step's end
    assert ttfts(100, launch_s=0.25 * STEP) == pytest.approx([STEP, 3 * STEP])  # a captured step holds nothing


def test_a_batch_larger_than_the_pool_is_flagged():
    limits = BatchLimits(max_num_batched_tokens=1000, max_num_seqs=8, kv_capacity_tokens=150)
    _, short = run(concurrency=2, requests=2, limits=limits)
    assert short


def _level(ttft: float, tpot: float) -> LevelPrediction:
    return LevelPrediction(concurrency=1, request_rate=None, input_tokens=1, output_tokens=2, mean_ttft_ms=ttft,
                           median_ttft_ms=ttft, p99_ttft_ms=ttft, mean_tpot_ms=tpot, median_tpot_ms=tpot,
                           mean_itl_ms=tpot, mean_e2el_ms=ttft + tpot, output_throughput=1.0,
                           request_throughput=1.0, duration_s=1.0, kv_short=False)  # fmt: skip


@pytest.mark.parametrize(("limit", "expected"), [(1000, 37), (20, 20), (1, 1)])
def test_slo_concurrency_is_the_last_that_meets_both_bounds(limit, expected):
    """TPOT grows 1 ms per request; the SLO allows 40 ms: 37 of them (3 ms base) fit."""
    calls = []

    def predict(c: int) -> LevelPrediction:
        calls.append(c)
        return _level(ttft=10.0 * c, tpot=3.0 + c)

    assert slo_concurrency(predict, ttft_ms=1000.0, tpot_ms=40.0, limit=limit) == expected
    assert len(calls) <= 16  # doubling then bisection, not a scan


def test_slo_missed_by_one_request_gives_zero():
    assert slo_concurrency(lambda c: _level(ttft=500.0, tpot=5.0), ttft_ms=100.0, tpot_ms=None, limit=64) == 0

"""Engine steps rebuilt from token timestamps: a decode step's batch and duration where requests stream in
lockstep, a first wave's prompt steps where prompts finish together, and the step shapes the fit prices."""

from __future__ import annotations

import pytest

from planner.serving_sim import LoadShape
from reports.engine_steps import arrival_steps, arrival_summary, level_row, measured_steps, step_samples
from reports.perf_fit import perf_cases
from reports.run_data import open_runs
from runfolder.requests import RequestRecord
from tests.paths import REPO


def _request(index: int, *, sent: float, ttft: float, itl: list[float], prompt: int = 1024) -> RequestRecord:
    return RequestRecord(level="c", index=index, warmup=False, conversation=None, turn=0, scheduled_s=None,
                         sent_s=sent, queue_s=0.0, ok=True, error=None, http_status=200, ttft_s=ttft, itl_s=itl,
                         e2el_s=ttft + sum(itl), prompt_tokens=prompt, completion_tokens=len(itl) + 1,
                         expected_input_tokens=prompt, expected_output_tokens=len(itl) + 1)  # fmt: skip


def test_requests_streaming_in_lockstep_make_decode_steps_of_their_batch():
    # four requests whose tokens come out together every 12 ms (one engine step each)
    requests = [_request(i, sent=0.0, ttft=0.1, itl=[0.012] * 60) for i in range(4)]
    row = level_row(requests)
    assert row is not None
    assert row["decode_ms"] == pytest.approx(12.0) and row["batch"] == 4
    assert row["context"] == pytest.approx(1024 + 61 / 2) and row["prompt_step_ms"] is None


def test_a_first_waves_middle_steps_finishing_prompts_together_are_its_prompt_step():
    # five groups of two prompts finish at 0.3, 0.7, 1.0, 1.3 and 1.5 s, then all decode every 15 ms: the first
    # gap (400 ms) carries the next step's launch over a lone step's, the last (200) a decode's short launch
    finish = [0.3, 0.7, 1.0, 1.3, 1.5]
    # a request decodes one token in each later prompt step (at its end), then one every 15 ms
    gaps = [[b - a for a, b in zip(finish[g:], finish[g + 1 :], strict=False)] for g in range(5)]
    requests = [_request(2 * g + i, sent=0.0, ttft=t, itl=gaps[g] + [0.015] * 80)
                for g, t in enumerate(finish) for i in range(2)]  # fmt: skip
    row = level_row(requests)
    assert row is not None and row["prompt_step_ms"] == pytest.approx(300.0) and row["prompt_steps"] == 2


def test_a_committed_first_waves_middle_steps_match_the_profiled_device_step():
    """One H100, the 48-expert shape at TP1: the first wave of 64 1K prompts ran full 8,192-token steps 312-335 ms
    apart in its middle, where the profiled run's device spent 325 ms on such a step (its trace; the table:
    results/perf_model/moe-profile-spread-h100.txt); a wave of 16 fills the budget twice and has no middle step."""
    (run,) = open_runs([REPO / "results" / "gpu_uniform_routing" / "20261128-011316-gpu_uniform_routing"])
    requests = run.requests(run.record.deployments[0])
    c64, c16 = (level_row([r for r in requests if r.level == name]) for name in ("c64", "c16"))
    assert c64 is not None and c16 is not None and c16["prompt_step_ms"] is None
    assert c64["prompt_steps"] == 6 and abs(c64["prompt_step_ms"] / 325.3 - 1) < 0.05


def test_too_few_steps_say_nothing():
    assert level_row([_request(0, sent=0.0, ttft=0.1, itl=[0.01] * 5)]) is None
    assert measured_steps([], LoadShape(input_tokens=8, output_tokens=8, concurrency=1), token_budget=8192) == ()


@pytest.mark.parametrize(("concurrency", "prompt_steps"), [(64, 1), (24, 0), (8, 0)])
def test_a_prompt_step_is_whole_prompts_filling_the_budget_only_where_the_wave_fills_it_three_times(
    concurrency, prompt_steps
):
    row = {"decode_ms": 18.0, "batch": 64, "context": 1152.0, "prompt_step_ms": 310.0}
    load = LoadShape(input_tokens=1000, output_tokens=256, concurrency=concurrency)
    samples = step_samples(row, load, token_budget=8192)
    decode = samples[0]
    assert decode.kind == "decode" and decode.seconds == pytest.approx(0.018)
    assert decode.shape.decode_contexts == (1152,) * 64 and not decode.shape.prefills
    assert len(samples) == 1 + prompt_steps
    if prompt_steps:  # eight whole 1,000-token prompts and the budget's last 192 tokens of a ninth
        assert samples[1].shape.prefills == ((1000, 0),) * 8 + ((192, 0),) and samples[1].shape.tokens == 8192


def test_a_committed_gpu_level_carries_its_measured_steps_into_the_fit():
    run = REPO / "results" / "gpu_perf_h100" / "20261126-034427-gpu_perf"
    (case,) = [c for c in perf_cases(open_runs([run]), steps=True) if c.point.level == "c64"]
    decode, prompt = case.steps
    assert all(not c.steps for c in perf_cases(open_runs([run])))  # only the fit needs them
    assert decode.kind == "decode" and len(decode.shape.decode_contexts) == 64
    assert prompt.kind == "prompt" and prompt.shape.tokens == case.plan.server.max_num_batched_tokens
    assert 0.005 < decode.seconds < prompt.seconds


def test_an_arrivals_prompt_step_is_the_longest_step_before_its_first_token():
    # two requests decode in lockstep every 9 ms; a third, sent at 0.5 s, joins: the step that prefills it
    # takes 20 ms (the others' tokens at 0.515 + 0.020), and its first token comes with the step after
    running = [_request(i, sent=0.0, ttft=0.011, itl=[0.009] * 55 + [0.020] + [0.009] * 20) for i in range(2)]
    ends = [0.011 + 0.009 * k for k in range(56)]  # the running requests' tokens until the long step
    joined = _request(2, sent=0.5, ttft=ends[-1] + 0.020 + 0.009 - 0.5, itl=[0.009] * 19, prompt=256)
    (found,) = arrival_steps([*running, joined])  # only the joining request's send falls inside the run
    assert found[0] == pytest.approx(0.020) and found[1] == 2  # the prompt step put out the two decodes' tokens
    summary = arrival_summary([*running, joined])
    assert summary is not None and (summary.arrivals, summary.batch) == (1, 2)
    assert summary.arrival_s == pytest.approx(0.020) and summary.step_s == pytest.approx(0.009)

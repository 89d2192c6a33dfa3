"""The streaming client and load generator against the FAKE server (fault injection, timing)."""

from __future__ import annotations

import asyncio

import pytest

from bench.load.level_runner import LevelRunner
from bench.load.stream_client import Outcome, StreamDecoder, new_session, stream_request
from bench.load.workload import Job, Turn
from bench.server.vllm_server import free_port
from planner.arrivals import schedule
from tools.fake_openai import FakeOpenAI


@pytest.fixture(scope="module")
def fake():
    with FakeOpenAI(chunk_delay_s=0.002) as server:
        yield server


def request(base_url: str, mode: str, tokens: int = 5, timeout: float = 5.0):
    async def go():
        async with new_session() as session:
            return await stream_request(
                session,
                f"{base_url}/v1/completions",
                {"model": mode, "prompt": [1, 2], "max_tokens": tokens, "stream": True},
                timeout,
            )

    return asyncio.run(go())


def decode(reads: list[tuple[float, bytes]], keep_text: bool = False) -> tuple[Outcome, StreamDecoder]:
    outcome = Outcome(sent=0.0)
    decoder = StreamDecoder(outcome, keep_text)
    for now, data in reads:
        decoder.feed(now, data)
    decoder.close(9.0)
    decoder.finish()
    return outcome, decoder


TOKEN = b'data: {"choices":[{"index":0,"text":"x"}]}\n\n'
USAGE_EVENT = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'


@pytest.mark.parametrize("keep_text", [False, True])
def test_decoder_times_only_events_carrying_choices(keep_text):
    role_only = b'data: {"choices": [{"delta": {"role": "assistant"}}]}\n\n'  # counts, as for vLLM's client
    outcome, decoder = decode(
        [(1.0, role_only), (2.0, TOKEN + TOKEN), (3.0, USAGE_EVENT + b"data: [DONE]\n\n")], keep_text
    )
    assert decoder.done and outcome.chunks == 3 and outcome.completion_tokens == 2
    assert (outcome.ttft, outcome.e2el, outcome.itl) == (1.0, 2.0, [1.0, 0.0])
    assert outcome.text == ("xx" if keep_text else "")


def test_decoder_splits_events_across_reads_crlf_and_comments():
    outcome, decoder = decode(
        [
            (1.0, b'data: {"choices":[{"text"'),
            (2.0, b':"a"}]}\r\n\r\n: ping\n\n'),
            (3.0, b"data: [DO"),
            (4.0, b"NE]\n\n" + TOKEN),
        ]
    )
    assert decoder.done and outcome.chunks == 1 and outcome.ttft == 2.0  # nothing after [DONE] counts


def test_decoder_reports_malformed_and_error_events():
    bad, _ = decode([(1.0, TOKEN), (2.0, b"data: {not json\n\n")])
    assert "malformed SSE data" in bad.error
    error, _ = decode([(1.0, TOKEN + b'data: {"error": {"message": "engine dead"}}\n\n')])
    assert "engine dead" in error.error


def test_a_quoted_marker_inside_text_is_not_a_token_event():
    sneaky = b'data: {"choices":[],"usage":null,"note":"\\"choices\\":[{"}\n\n'
    outcome, _ = decode([(1.0, sneaky)])
    assert outcome.error is None and outcome.chunks == 0


def test_successful_stream_timings_and_usage(fake):
    outcome = request(fake.base_url, "ok", tokens=6)
    assert outcome.ok and outcome.error is None
    assert outcome.chunks == 6 and len(outcome.itl) == 5 and outcome.completion_tokens == 6
    assert 0 < outcome.ttft <= outcome.e2el
    assert outcome.e2el == pytest.approx(outcome.ttft + sum(outcome.itl))


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("http500", "HTTP 500"),
        ("http429", "HTTP 429"),
        ("malformed", "malformed SSE data"),
        ("truncated", "truncated"),
        ("error-event", "server error in stream"),
    ],
)
def test_faults_are_recorded_not_raised(fake, mode, reason):
    outcome = request(fake.base_url, mode)
    assert not outcome.ok and reason in outcome.error


def test_hang_hits_the_request_timeout(fake):
    outcome = request(fake.base_url, "hang", timeout=0.5)
    assert not outcome.ok and "timeout after 0.5 s" in outcome.error


def test_unreachable_endpoint_is_a_failed_request():
    outcome = request(f"http://127.0.0.1:{free_port()}", "ok")
    assert not outcome.ok and "ClientConnectorError" in outcome.error


def jobs(mode: str = "ok", tokens: int = 3):
    while True:
        yield Job([Turn({"model": mode, "prompt": [1], "max_tokens": tokens, "stream": True}, 1, tokens)])


def run_level(base_url: str, drive):
    records = []

    async def go():
        async with new_session() as session:
            runner = LevelRunner(session, base_url, "level", 10.0, on_record=records.append)
            await drive(runner)
            return runner.result

    return asyncio.run(go()), records


def test_closed_loop_keeps_exactly_n_in_flight(fake):
    baseline = fake.in_flight  # a hung handler from the timeout test may still be open
    fake.max_in_flight = baseline
    result, records = run_level(fake.base_url, lambda r: r.closed_loop(jobs(tokens=10), 6, 30, None))
    assert len(records) == 30 and all(r.ok for r in records)
    assert fake.max_in_flight - baseline == 6


def test_open_loop_follows_the_schedule(fake):
    offsets = schedule(60, None, rate=100.0, process="poisson", seed=4)
    result, records = run_level(fake.base_url, lambda r: r.open_loop(jobs(), offsets, None))
    assert sorted(r.scheduled_s for r in records) == pytest.approx(offsets)
    # Lag is measured for every dispatch and never negative (nothing is sent early); how small it
    # stays is benchmarks/client_ceiling.py's business, not a timed unit test's.
    assert len(result.dispatch_lag_s) == 60 and min(result.dispatch_lag_s) >= 0
    assert all(r.sent_s >= r.scheduled_s for r in records)


def test_failures_in_a_level_are_counted_and_the_level_goes_on(fake):
    mixed = (job for pair in zip(jobs("ok"), jobs("http503"), strict=False) for job in pair)
    result, records = run_level(fake.base_url, lambda r: r.closed_loop(mixed, 2, 10, None))
    assert len(records) == 10 and sum(r.ok for r in records) == 5
    assert {r.error.split(":")[0] for r in records if not r.ok} == {"HTTP 503"}

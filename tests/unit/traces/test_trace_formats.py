"""The three trace formats read into segments that carry the trace's sharing, and bad rows fail at file:line."""

from __future__ import annotations

import pytest

from tests.paths import REPO
from traces import TraceError, read_trace

DATA = REPO / "tests" / "data" / "traces"


def test_mooncake_rows_sharing_leading_hash_ids_share_those_segments():
    trace = read_trace(DATA / "mooncake.jsonl", "mooncake")
    first, second = trace.requests[0], trace.requests[1]  # both open with document 0's five blocks
    assert first.segments[:5] == second.segments[:5] == tuple((f"m{h}", 512) for h in range(5))
    assert first.segments[5:] != second.segments[5:]
    assert first.input_tokens == 2916 and first.segments[-1] == ("m10000:356", 356)  # 5 x 512 + a partial block


def test_a_conversation_re_sends_its_history_and_starts_with_the_shared_prefix():
    trace = read_trace(DATA / "agentic.jsonl", "jsonl")
    turns = trace.sessions()[0]
    assert len(turns) >= 4 and turns[0].segments[0] == ("p:tools", 2048)
    for earlier, later in zip(turns, turns[1:], strict=False):
        assert later.segments[: len(earlier.segments)] == earlier.segments  # the history, then more
        assert later.input_tokens == earlier.input_tokens + earlier.output_tokens + later.segments[-1][1]
        assert later.arrival_s is None and later.think_s > 0
    other = trace.sessions()[1][0]
    assert other.segments[0] == turns[0].segments[0] and other.segments[1] != turns[0].segments[1]


def test_speedup_compresses_arrivals_and_think_times():
    plain, fast = (read_trace(DATA / "agentic.jsonl", "jsonl", speedup=s) for s in (1.0, 4.0))
    assert fast.duration_s() == pytest.approx(plain.duration_s() / 4)
    assert [r.think_s for r in fast.requests] == pytest.approx([r.think_s / 4 for r in plain.requests])


def test_rows_a_server_refuses_are_counted_never_dropped_silently():
    trace = read_trace(DATA / "azure.csv", "azure")
    served = trace.honoured(8192)
    assert len(trace.requests) == 60 and len(served.requests) == 58
    assert served.skipped == {"prompt + output beyond max_model_len 8192": 1,
                              "no output tokens (a request asks for at least one)": 1}  # fmt: skip


def test_a_conversation_ends_at_its_first_refused_turn():
    trace = read_trace(DATA / "agentic.jsonl", "jsonl")
    longest = max(trace.sessions(), key=lambda turns: turns[-1].input_tokens)
    limit = longest[1].input_tokens + longest[1].output_tokens - 1  # its second turn no longer fits
    served = trace.honoured(limit)
    assert not any(r.session == longest[0].session and r.turn >= 1 for r in served.requests)
    assert served.skipped["later turns of a conversation cut at a refused turn"] >= len(longest) - 2


@pytest.mark.parametrize(
    ("trace_format", "text", "where", "what"),
    [
        ("mooncake", '{"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [1]}\n{"timestamp": 5',
         ":2:", "not JSON"),
        ("mooncake", '{"timestamp": 0, "input_length": -3, "output_length": 2}\n', ":1:", "input_length"),
        ("jsonl", '{"session": "a", "input_tokens": 5, "output_tokens": 1}\n', ":1:", "timestamp"),
        ("azure", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.1,12,x\n", ":2:", "GeneratedTokens"),
        ("azure", "time,prompt,output\n", ":1:", "header"),
    ],
)  # fmt: skip
def test_a_bad_row_names_its_file_line_and_field(tmp_path, trace_format, text, where, what):
    path = tmp_path / "trace.txt"
    path.write_text(text)
    with pytest.raises(TraceError, match=what) as error:
        read_trace(path, trace_format)
    assert f"{path}{where}" in str(error.value)

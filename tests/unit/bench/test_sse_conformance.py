"""The harness's client and `vllm bench serve`'s own request functions on the same recorded byte streams.

Recorded from real CPU vLLM 0.32.0 (tools/record_sse.py; tests/data/sse): completions; chat (a
role-only first chunk, content deltas, the usage chunk); chat through the minimax_m2 tool parser
(tool_call deltas, a call forced with structured outputs since dummy weights never write the markup);
chat through the minimax_m2 reasoning parser (reasoning deltas). Made from those recordings: a stream
cut before its usage and [DONE] (truncated), one with an error event in the middle, one with a read
split between an event and its blank line.

Each stream is replayed read by read on a fake clock (each read arrives at its recorded offset) into
vLLM's `async_request_openai_completions` / `..._chat_completions` and into the harness's
`stream_request`; TTFT, the ITL list, output tokens and success must be identical, success as vLLM
counts it (`vllm_ok`). The harness's own `ok` is stricter, by design: [DONE] is required and an error
event fails the request. A vLLM that cannot be imported fails these tests; they do not skip.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest

from bench.load.stream_client import stream_request
from tests.paths import DATA

RECORDINGS = {f"{path.stem.removeprefix('vllm-0.32.0-cpu-')}/{name}": stream
              for path in sorted((DATA / "sse").glob("*.json"))
              for name, stream in json.loads(path.read_text()).items()}  # fmt: skip
ERROR_EVENT = b'data: {"error": {"object": "error", "message": "engine dead", "code": 500}}\n\n'


class Clock:
    now = 100.0


class Content:
    def __init__(self, reads: list[tuple[float, bytes]]) -> None:
        self.reads = reads

    async def iter_any(self):  # noqa: ANN201 - aiohttp's StreamReader method
        for offset, data in self.reads:
            Clock.now = 100.0 + offset
            yield data


class Response:
    status, reason = 200, "OK"

    def __init__(self, reads: list[tuple[float, bytes]]) -> None:
        self.content = Content(reads)

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


class Session:
    """Just enough of aiohttp.ClientSession for both clients: post() answers with the recorded reads."""

    def __init__(self, reads: list[tuple[float, bytes]]) -> None:
        self.reads = reads

    def post(self, *args: object, **kwargs: object) -> Response:
        return Response(self.reads)


def reads_of(stream: dict) -> list[tuple[float, bytes]]:
    return [(offset, base64.b64decode(data)) for offset, data in stream["reads"]]


def cases() -> dict[str, tuple[str, list[tuple[float, bytes]]]]:
    found = {name: (stream["route"], reads_of(stream)) for name, stream in RECORDINGS.items()}
    route, reads = found["tool-parser/completions"]
    usage_at = next(i for i, (_, data) in enumerate(reads) if b'"usage"' in data)
    found["made/truncated"] = (route, reads[:usage_at])
    route, reads = found["tool-parser/chat"]
    found["made/error-event"] = (route, reads[:4] + [(reads[3][0] + 0.001, ERROR_EVENT)] + reads[4:])
    split = [(t, d[:-2]) if i == 5 else (t, d) for i, (t, d) in enumerate(reads)]
    found["made/split-blank-line"] = (route, split[:6] + [(reads[5][0] + 0.0005, b"\n\n")] + split[6:])
    return found


CASES = cases()


async def _vllm(route: str, reads: list[tuple[float, bytes]]):
    from vllm.benchmarks.lib import endpoint_request_func as vllm_client

    Clock.now = 100.0  # the send
    request = vllm_client.RequestFuncInput(prompt="p", api_url=f"http://recorded{route}", prompt_len=1, output_len=8,
                                           model="tiny")  # fmt: skip
    function = (vllm_client.async_request_openai_chat_completions if "chat" in route
                else vllm_client.async_request_openai_completions)  # fmt: skip
    return await function(request, Session(reads))


async def _ours(route: str, reads: list[tuple[float, bytes]]):
    Clock.now = 100.0  # the send
    return await stream_request(Session(reads), f"http://recorded{route}", {"model": "tiny"}, 30.0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_numbers_as_vllms_client(name, monkeypatch):
    monkeypatch.setattr(time, "perf_counter", lambda: Clock.now)
    route, reads = CASES[name]
    theirs, ours = asyncio.run(_vllm(route, reads)), asyncio.run(_ours(route, reads))
    assert ours.vllm_ok == theirs.success
    assert ours.ttft == pytest.approx(theirs.ttft, abs=1e-9)
    assert ours.itl == pytest.approx(theirs.itl, abs=1e-9)
    assert ours.e2el == pytest.approx(theirs.latency, abs=1e-9)
    assert (ours.completion_tokens or 0) == theirs.output_tokens


def test_the_harness_is_stricter_only_where_it_says():
    verdicts = {}
    for name, (route, reads) in CASES.items():
        outcome = asyncio.run(_ours(route, reads))
        verdicts[name] = (outcome.ok, outcome.vllm_ok, outcome.error)
    assert {n for n, (ok, vllm_ok, _) in verdicts.items() if ok != vllm_ok} == {"made/truncated", "made/error-event"}
    assert "truncated" in verdicts["made/truncated"][2] and "engine dead" in verdicts["made/error-event"][2]


def test_recordings_hold_what_they_claim():
    text = {name: b"".join(d for _, d in reads) for name, (_, reads) in CASES.items()}
    assert b'"delta":{"role":"assistant"' in text["tool-parser/chat"]
    assert b'"tool_calls":[{' in text["tool-parser/chat-tools"]
    assert b'"delta":{"reasoning":' in text["reasoning-parser/chat"]
    assert all(b'"usage":{' in t for n, t in text.items() if n != "made/truncated")

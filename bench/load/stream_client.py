"""One streamed OpenAI request, timed the way `vllm bench serve` times it.

TTFT = first SSE event carrying `choices` minus send time; ITL = gaps between consecutive
`choices` events (per chunk, not per token); E2EL = last `choices` event minus send time (the
usage event and [DONE] excluded). Token counts come from the server's `usage`.
Failures (HTTP status, malformed or truncated stream, timeout, connection) are recorded with
their reason, never raised.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import aiohttp
import orjson

READ_BUFFER = 8 << 20  # aiohttp's 64 KiB default throttles long streams (vllm-project/vllm#39963)


@dataclass(slots=True)
class Outcome:
    """What one request did; times in seconds, offsets from `sent`."""

    sent: float  # perf_counter at send
    ok: bool = False
    error: str | None = None
    http_status: int | None = None
    ttft: float | None = None
    itl: list[float] = field(default_factory=list)
    e2el: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    chunks: int = 0
    text: str = ""
    vllm_ok: bool = False  # what vllm bench serve would count: any event with choices, [DONE] or not


class StreamDecoder:
    """SSE bytes in; the Outcome's timings, token counts and errors out.

    Each network read's complete events `data: A\n\ndata: B\n\n...` are handled together and
    stamped with the read's arrival time. Hot path: when every event of the read matches
    `"choices":[{` (inside valid JSON those bytes can only be a key with a non-empty array: a quote
    within a string value is always escaped), they are token events and only their times are kept.
    Every other read (usage, errors, comments, multi-line events, anything when the text is wanted)
    is decoded with orjson and validated; an undecodable event fails the request as malformed.
    Whether an event carries choices thus means what it means to vLLM's client. An error event fails
    the request here but, as in vLLM's client, does not end the stream: later events are still timed.
    """

    DONE = b"data: [DONE]"
    TOKEN_MARKS = (b'"choices":[{', b'"choices": [{')

    def __init__(self, outcome: Outcome, keep_text: bool = False) -> None:
        self.outcome, self.keep_text = outcome, keep_text
        self.buffer, self.done, self.malformed = b"", False, False
        self.times: list[float] = []  # arrival of each event carrying choices
        self.texts: list[str] = []

    def feed(self, now: float, data: bytes) -> None:
        if self.done or self.malformed:
            return
        buffer = self.buffer + (data.replace(b"\r\n", b"\n") if b"\r" in data else data)
        cut = buffer.rfind(b"\n\n")
        if cut < 0:
            self.buffer = buffer
            self._unterminated(now)
            return
        complete, self.buffer = buffer[:cut], buffer[cut + 2 :]
        self._events(now, complete)
        self._unterminated(now)

    def _unterminated(self, now: float) -> None:
        """A read that ends with a whole event but not yet its blank line: vLLM's client takes the event
        now if it parses (its StreamedResponseHandler), so its time is this read's here too."""
        tail = self.buffer.strip()
        if self.done or self.malformed or not tail.startswith(b"data: ") or b"\n" in tail:
            return
        if tail != self.DONE:
            if not tail.endswith(b"}"):
                return
            try:
                orjson.loads(tail[6:])
            except orjson.JSONDecodeError:
                return
        self.buffer = b""
        self._general(now, tail)

    def _events(self, now: float, complete: bytes) -> None:
        if complete.endswith(self.DONE) and complete.count(self.DONE) == 1:
            complete, self.done = complete[: -len(self.DONE)].rstrip(b"\n"), True
        separators = complete.count(b"\n\ndata: ")
        if complete.startswith(b"data: ") and complete.count(b"\n") == 2 * separators and self.DONE not in complete:
            body = complete[6:]
            if self.keep_text:
                self._decode(now, body.replace(b"\n\ndata: ", b","))
            elif self._marks(body) == separators + 1:
                self.times.extend(repeat(now, separators + 1))
            elif self._marks(body.rpartition(b"\n\ndata: ")[0]) == separators:
                # tokens, then one other event (the usual last read: the final tokens and usage)
                self.times.extend(repeat(now, separators))
                self._decode(now, body.rpartition(b"\n\ndata: ")[2], single=True)
            else:  # tokens mixed with others (usage, error): the read shares one arrival time
                payloads = body.split(b"\n\ndata: ")
                others = [p for p in payloads if not any(mark in p for mark in self.TOKEN_MARKS)]
                self.times.extend(repeat(now, len(payloads) - len(others)))
                for payload in others:
                    if not self._decode(now, payload, single=True):
                        return
        elif complete:
            self._general(now, complete)

    def _marks(self, body: bytes) -> int:
        return sum(body.count(mark) for mark in self.TOKEN_MARKS)

    def close(self, now: float) -> None:
        if not self.done and not self.malformed and self.buffer.strip():
            self._general(now, self.buffer)
        self.buffer = b""

    def _general(self, now: float, text: bytes) -> None:
        for block in text.split(b"\n\n"):
            lines = [ln[5:].lstrip() for ln in block.split(b"\n") if ln.startswith(b"data:")]
            payload = b"\n".join(lines)
            if payload == b"[DONE]":
                self.done = True
                return
            if lines and not self._decode(now, payload, single=True):
                return

    def _decode(self, now: float, part: bytes, single: bool = False) -> bool:
        outcome = self.outcome
        try:
            decoded = orjson.loads(part) if single else orjson.loads(b"[" + part + b"]")
        except orjson.JSONDecodeError:
            outcome.error, self.malformed = f"malformed SSE data: {part[:120]!r}", True
            return False
        for event in [decoded] if single else decoded:
            if type(event) is not dict:
                outcome.error, self.malformed = f"malformed SSE data: {str(event)[:120]}", True
                return False
            if "error" in event:
                outcome.error = outcome.error or f"server error in stream: {str(event['error'])[:200]}"
                continue
            if choices := event.get("choices"):
                self.times.append(now)
                if self.keep_text and (text := _text(choices[0])):
                    self.texts.append(text)
            elif usage := event.get("usage"):
                outcome.completion_tokens = usage.get("completion_tokens")
                outcome.prompt_tokens = usage.get("prompt_tokens")
        return True

    def finish(self) -> None:
        """TTFT, ITL and E2EL from the arrival times of the events that carried choices."""
        outcome, times = self.outcome, self.times
        outcome.text, outcome.chunks = "".join(self.texts), len(times)
        if times:
            outcome.ttft, outcome.e2el = times[0] - outcome.sent, times[-1] - outcome.sent
            outcome.itl = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


def _text(choice: dict[str, Any]) -> str | None:
    text = choice.get("text")
    return text if text is not None else (choice.get("delta") or {}).get("content")


def new_session(concurrency_hint: int = 0) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=concurrency_hint, keepalive_timeout=60, enable_cleanup_closed=True)
    return aiohttp.ClientSession(connector=connector, read_bufsize=READ_BUFFER)


async def stream_request(
    session: aiohttp.ClientSession,
    url: str,
    payload: dict[str, Any],
    timeout_s: float,
    *,
    headers: dict[str, str] | None = None,
    keep_text: bool = False,
) -> Outcome:
    """`keep_text`: also collect the generated text (conversations need it for their history)."""
    outcome = Outcome(sent=time.perf_counter())
    try:
        async with asyncio.timeout(timeout_s):  # no extra task per request, unlike wait_for
            await _stream(session, url, payload, headers, outcome=outcome, keep_text=keep_text)
    except TimeoutError:
        outcome.ok, outcome.error = False, f"timeout after {timeout_s:g} s"
    except (aiohttp.ClientError, OSError) as exc:
        outcome.ok, outcome.error = False, f"{type(exc).__name__}: {exc}"
    return outcome


JSON_HEADERS = {"Content-Type": "application/json"}


async def _stream(
    session: aiohttp.ClientSession,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str] | None,
    *,
    outcome: Outcome,
    keep_text: bool,
) -> None:
    # orjson: a long-context prompt is a list of 100K+ token ids; stdlib json takes ms to write it.
    body = orjson.dumps(payload)
    async with session.post(
        url, data=body, headers={**JSON_HEADERS, **headers} if headers else JSON_HEADERS
    ) as response:
        outcome.http_status = response.status
        if response.status != 200:
            text = (await response.text(errors="replace"))[:300]
            outcome.error = f"HTTP {response.status}: {text.strip()}"
            return
        decoder = StreamDecoder(outcome, keep_text)
        async for data in response.content.iter_any():
            decoder.feed(time.perf_counter(), data)
        decoder.close(time.perf_counter())
        decoder.finish()
        outcome.vllm_ok = outcome.chunks > 0 and not decoder.malformed
        if outcome.error:
            return
        if not decoder.done:
            outcome.error = "stream ended before [DONE] (truncated)"
        elif not outcome.chunks:
            outcome.error = "no chunk carried choices"
        else:
            outcome.ok = True

"""One streamed OpenAI request, timed the way `vllm bench serve` times it.

TTFT = first SSE event carrying `choices` minus send time; ITL = gaps between consecutive
`choices` events (per chunk, not per token); E2EL = last `choices` event minus send time (the
usage event and [DONE] excluded). Token counts come from the server's `usage`.
Failures (HTTP status, malformed or truncated stream, timeout, connection) are recorded with
their reason, never raised.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import aiohttp

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


class SseParser:
    """Splits a byte stream into SSE `data:` payloads; comments and other fields are skipped."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> list[str]:
        self.buffer += data.replace(b"\r\n", b"\n")
        events = []
        while b"\n\n" in self.buffer:
            block, self.buffer = self.buffer.split(b"\n\n", 1)
            events += self._payloads(block)
        return events

    def close(self) -> list[str]:
        block, self.buffer = self.buffer, b""
        return self._payloads(block)

    @staticmethod
    def _payloads(block: bytes) -> list[str]:
        lines = [ln[5:].lstrip() for ln in block.decode("utf-8", "replace").split("\n") if ln.startswith("data:")]
        return ["\n".join(lines)] if lines else []


def new_session(concurrency_hint: int = 0) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=concurrency_hint, keepalive_timeout=60, enable_cleanup_closed=True)
    return aiohttp.ClientSession(connector=connector, read_bufsize=READ_BUFFER)


async def stream_request(session: aiohttp.ClientSession, url: str, payload: dict, timeout_s: float,
                         headers: dict[str, str] | None = None) -> Outcome:
    outcome = Outcome(sent=time.perf_counter())
    try:
        await asyncio.wait_for(_stream(session, url, payload, headers, outcome), timeout_s)
    except asyncio.TimeoutError:
        outcome.ok, outcome.error = False, f"timeout after {timeout_s:g} s"
    except (aiohttp.ClientError, OSError) as exc:
        outcome.ok, outcome.error = False, f"{type(exc).__name__}: {exc}"
    return outcome


async def _stream(session, url, payload, headers, outcome: Outcome) -> None:
    async with session.post(url, json=payload, headers=headers) as response:
        outcome.http_status = response.status
        if response.status != 200:
            body = (await response.text(errors="replace"))[:300]
            outcome.error = f"HTTP {response.status}: {body.strip()}"
            return
        parser, done = SseParser(), False
        async for data in response.content.iter_any():
            now = time.perf_counter()
            for event in parser.feed(data):
                done = _handle(event, now, outcome) or done
        for event in parser.close():
            done = _handle(event, time.perf_counter(), outcome) or done
        if outcome.error:
            return
        if not done:
            outcome.error = "stream ended before [DONE] (truncated)"
        elif not outcome.chunks:
            outcome.error = "no chunk carried choices"
        else:
            outcome.ok = True


def _handle(event: str, now: float, outcome: Outcome) -> bool:
    """Apply one SSE payload; True when it is [DONE]."""
    if event == "[DONE]":
        return True
    if outcome.error:
        return False
    try:
        data = json.loads(event)
    except json.JSONDecodeError:
        outcome.error = f"malformed SSE data: {event[:120]!r}"
        return False
    if not isinstance(data, dict) or "error" in data:
        outcome.error = f"server error in stream: {str(data.get('error') if isinstance(data, dict) else data)[:200]}"
        return False
    if choices := data.get("choices"):
        elapsed = now - outcome.sent
        if outcome.ttft is None:
            outcome.ttft = elapsed
        else:
            outcome.itl.append(elapsed - outcome.e2el)
        outcome.e2el = elapsed
        outcome.chunks += 1
        choice = choices[0]
        outcome.text += choice.get("text") or (choice.get("delta") or {}).get("content") or ""
    elif usage := data.get("usage"):
        outcome.completion_tokens = usage.get("completion_tokens")
        outcome.prompt_tokens = usage.get("prompt_tokens")
    return False

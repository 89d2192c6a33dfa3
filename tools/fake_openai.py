"""FAKE OpenAI streaming server - a test tool, not vLLM.

Used only where a real server cannot do the job: injecting faults on demand (HTTP errors,
malformed or truncated streams, hangs) and measuring the client's own overhead. The mode is
chosen per request by the prompt text / model name so one server serves every case.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import threading

from aiohttp import web


def _reply(make, *args, **kwargs):
    async def handler(request: web.Request) -> web.StreamResponse:
        return make(*args, **kwargs)

    return handler


@functools.cache
def _burst(tokens: int) -> bytes:
    """A whole stream, built once per length so the fake costs next to nothing per request."""
    return b"".join(_chunk(i) for i in range(tokens)) + USAGE % tokens + b"data: [DONE]\n\n"


def _chunk(index: int) -> bytes:
    body = {"id": "fake", "object": "text_completion", "choices": [{"index": 0, "text": f" t{index}"}]}
    return f"data: {json.dumps(body)}\n\n".encode()


USAGE = b'data: {"id": "fake", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": %d}}\n\n'


class FakeOpenAI:
    """Runs in a background thread; `mode` is the request's `model` field."""

    def __init__(self, chunk_delay_s: float = 0.0, port: int = 0, health: bool = True) -> None:
        self.chunk_delay_s = chunk_delay_s
        self.health = health  # False: no /health route, as on OpenAI-compatible servers that are not vLLM
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        self.port = port  # given: bound with SO_REUSEPORT, so several fake processes can share it
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        mode, tokens = (
            payload.get("model", "ok"),
            int(payload.get("max_tokens") or payload.get("max_completion_tokens") or 4),
        )
        self.requests += 1
        if mode.startswith("http"):
            return web.json_response({"error": {"message": "injected"}}, status=int(mode[4:]))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return await self._stream(request, mode, tokens)

    async def _stream(self, request: web.Request, mode: str, tokens: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if mode == "burst":  # the whole stream in one write: events arrive faster than any client reads them
            self.in_flight -= 1
            await response.write(_burst(tokens))
            return response
        if mode == "hang":
            try:
                await asyncio.sleep(3600)
            finally:
                self.in_flight -= 1
        for index in range(tokens):
            if self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            await response.write(_chunk(index))
            if mode == "malformed" and index == 1:
                await response.write(b"data: {not json\n\n")
            if mode == "error-event" and index == 1:
                await response.write(b'data: {"error": {"message": "engine dead"}}\n\n')
            if mode == "truncated" and index == 1:
                self.in_flight -= 1
                return response  # closes the stream without [DONE]
        self.in_flight -= 1  # before [DONE]: the client may send its next request as soon as it reads it
        await response.write(USAGE % tokens + b"data: [DONE]\n\n")
        return response

    def __enter__(self) -> FakeOpenAI:
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _shutdown(self) -> None:
        """Close the site and cancel handlers still open (a `hang` request never finishes)."""
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/v1/completions", self._handle)
        app.router.add_post("/v1/chat/completions", self._handle)
        # Enough of a server's surface for `bench run --endpoint`; models are named after the modes.
        if self.health:
            app.router.add_get("/health", _reply(web.Response, text=""))
        app.router.add_get("/version", _reply(web.json_response, {"version": "fake"}))
        app.router.add_get("/metrics", _reply(web.Response, text=""))
        app.router.add_get("/v1/models", _reply(web.json_response, {"data": [{"id": "ok"}]}))
        runner = self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        sock = socket.socket()
        if self.port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self._loop.run_until_complete(web.SockSite(runner, sock).start())
        self._ready.set()
        self._loop.run_forever()


def main() -> None:
    """Serve until killed, in its own process (benchmarks/); prints the port. An argument: the port to
    share with other fake processes (SO_REUSEPORT), so the fake can use several cores."""
    import sys
    import time

    with FakeOpenAI(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0) as server:
        print(server.port, flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()

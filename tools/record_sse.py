"""Record a server's streamed responses byte for byte, each network read with its arrival time, for the
conformance tests (tests/data/sse/). A tool, not part of the harness.

    python -m tools.record_sse BASE_URL OUT.json MODEL [NAME...]   (the requests it can send are below)

The tool call is forced with structured outputs (dummy weights never write the markup themselves), so
the server's minimax_m2 tool parser turns it into tool_call deltas.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from pathlib import Path

import aiohttp

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "search_docs",
            "description": "Search the documentation.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        },
    }
]
TOOL_CALL = (
    '<minimax:tool_call>\n<invoke name="search_docs">\n<parameter name="query">os path</parameter>\n'
    "</invoke>\n</minimax:tool_call>"
)
USAGE = {"stream": True, "stream_options": {"include_usage": True}, "ignore_eos": True}
REQUESTS = {
    "completions": ("/v1/completions", {"prompt": "def main():\n    return", "max_tokens": 24, **USAGE}),
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Summarize the module."}],
                                      "max_completion_tokens": 24, **USAGE}),
    "chat-tools": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Find the docs for os.path."}],
                                            "tools": TOOLS, "tool_choice": "auto", "max_completion_tokens": 80,
                                            "structured_outputs": {"regex": TOOL_CALL}, **USAGE}),
}  # fmt: skip


async def record(base_url: str, model: str, names: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    async with aiohttp.ClientSession() as session:
        for name in names:
            route, body = REQUESTS[name]
            sent = time.perf_counter()
            reads = []
            async with session.post(base_url + route, json={"model": model, **body}) as response:
                async for data in response.content.iter_any():
                    reads.append([round(time.perf_counter() - sent, 6), base64.b64encode(data).decode()])
            out[name] = {"route": route, "request": body, "status": response.status, "reads": reads}
    return out


def main() -> None:
    base_url, path = sys.argv[1].rstrip("/"), Path(sys.argv[2])
    model, names = sys.argv[3], sys.argv[4:] or list(REQUESTS)
    path.write_text(json.dumps(asyncio.run(record(base_url, model, names)), indent=1) + "\n")
    print(path)


if __name__ == "__main__":
    main()

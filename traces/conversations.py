"""This harness's trace JSONL, for agentic and chat traffic: one row per request (or conversation turn).

  timestamp       seconds; required on a row that starts a conversation and on a row without one
  session         optional; rows with the same session are one conversation's turns, in file order
  input_tokens    the tokens this turn adds (the whole prompt of a single-turn row)
  output_tokens   tokens generated
  think_time_s    optional, later turns: the wait after the previous answer before this turn is sent
  prefix, prefix_tokens   optional, on a conversation's first row: a shared prefix (system prompt, tool
                  definitions) every request naming the same prefix starts with

Turn k's prompt is the conversation so far: [prefix] + each earlier turn's input and output + its own
input (segments `p:<prefix>`, `s:<session>:<turn>:in|out`), so the server's prefix cache can reuse the
history and sessions naming one prefix share it.
"""

from __future__ import annotations

from typing import Any

from traces.fields import count, json_row, seconds
from traces.schema import Segment, TraceError, TraceRequest


def parse_conversations(path: str, lines: list[str]) -> list[TraceRequest]:
    history: dict[str, tuple[Segment, ...]] = {}
    turns: dict[str, int] = {}
    requests = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        row = json_row(path, number, line)
        session = row.get("session")
        if session is not None and not isinstance(session, str | int):
            raise TraceError(path, number, f"session: {session!r} is not a string")
        key = None if session is None else str(session)
        new, output = count(path, number, row, "input_tokens"), count(path, number, row, "output_tokens", minimum=0)
        later = key is not None and key in history
        arrival = None if later else seconds(path, number, row, "timestamp")
        think = seconds(path, number, row, "think_time_s") if "think_time_s" in row else 0.0
        turn = turns.get(key, 0) if key is not None else 0
        name = key if key is not None else f"row{number}"
        start = history[key] if later and key is not None else _prefix(path, number, row)
        segments = (*start, (f"s:{name}:{turn}:in", new))
        requests.append(TraceRequest(number, arrival, segments, output, key, turn, think if later else 0.0))
        if key is not None:
            history[key] = (*segments, (f"s:{name}:{turn}:out", output)) if output else segments
            turns[key] = turn + 1
    return requests


def _prefix(path: str, number: int, row: dict[str, Any]) -> tuple[Segment, ...]:
    if "prefix" not in row:
        return ()
    name = row["prefix"]
    if not isinstance(name, str | int):
        raise TraceError(path, number, f"prefix: {name!r} is not a string")
    return ((f"p:{name}", count(path, number, row, "prefix_tokens")),)

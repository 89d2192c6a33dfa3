"""Mooncake's trace format (FAST '25 release; JSONL): `timestamp` (ms), `input_length`, `output_length`,
`hash_ids` (one id per 512-token block of the prompt; rows sharing leading ids share those blocks).

Segments: block i of a row is (m<id>, 512), its last partial block (m<id>:<tokens>, tokens); prompt
tokens beyond the listed ids form a segment of the row's own.
"""

from __future__ import annotations

from traces.fields import count, json_row, seconds
from traces.schema import Segment, TraceError, TraceRequest

BLOCK_TOKENS = 512


def parse_mooncake(path: str, lines: list[str]) -> list[TraceRequest]:
    requests = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        row = json_row(path, number, line)
        arrival = seconds(path, number, row, "timestamp", scale=1e-3)
        prompt, output = count(path, number, row, "input_length"), count(path, number, row, "output_length", minimum=0)
        hashes = row.get("hash_ids", [])
        if not isinstance(hashes, list) or not all(isinstance(h, int) and not isinstance(h, bool) for h in hashes):
            raise TraceError(path, number, f"hash_ids: {hashes!r} is not a list of integers")
        requests.append(TraceRequest(number, arrival, block_segments(hashes, prompt, f"row{number}"), output))
    return requests


def block_segments(hashes: list[int], prompt: int, own: str) -> tuple[Segment, ...]:
    segments: list[Segment] = []
    for i, block in enumerate(hashes):
        tokens = min(BLOCK_TOKENS, prompt - i * BLOCK_TOKENS)
        if tokens <= 0:
            break
        segments.append((f"m{block}" if tokens == BLOCK_TOKENS else f"m{block}:{tokens}", tokens))
    rest = prompt - sum(n for _, n in segments)
    return (*segments, (own, rest)) if rest > 0 else tuple(segments)

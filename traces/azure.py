"""Azure's LLM inference trace (AzurePublicDataset, 2023/2024; CSV): `TIMESTAMP` (e.g. 2023-11-16
18:15:46.6805900), `ContextTokens`, `GeneratedTokens`. No content is shared: each prompt is its own."""

from __future__ import annotations

import csv
from datetime import datetime

from traces.schema import TraceError, TraceRequest

COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


def parse_azure(path: str, lines: list[str]) -> list[TraceRequest]:
    reader = csv.reader(lines)
    header = next(reader, [])
    if [h.strip() for h in header[:3]] != list(COLUMNS):
        raise TraceError(path, 1, f"header {','.join(header)!r}: expected {','.join(COLUMNS)}")
    requests = []
    for number, row in enumerate(reader, 2):
        if not row:
            continue
        if len(row) < 3:
            raise TraceError(path, number, f"{len(row)} columns, expected {len(COLUMNS)}")
        arrival = _timestamp(path, number, row[0])
        prompt, output = (
            _tokens(path, number, COLUMNS[1], row[1], minimum=1),
            _tokens(path, number, COLUMNS[2], row[2], minimum=0),
        )
        requests.append(TraceRequest(number, arrival, ((f"row{number}", prompt),), output))
    return requests


def _timestamp(path: str, number: int, text: str) -> float:
    whole, _, fraction = text.strip().partition(".")
    try:
        return datetime.fromisoformat(whole).timestamp() + (float(f"0.{fraction}") if fraction else 0.0)
    except ValueError:
        raise TraceError(path, number, f"TIMESTAMP: {text!r} is not a date and time") from None


def _tokens(path: str, number: int, name: str, text: str, *, minimum: int) -> int:
    if not text.strip().isdigit() or int(text) < minimum:
        raise TraceError(path, number, f"{name}: {text!r} is not a whole number >= {minimum}")
    return int(text)

"""One row's fields, checked: a wrong or missing one is a TraceError naming file, line and field."""

from __future__ import annotations

import json
from typing import Any

from traces.schema import TraceError


def json_row(path: str, number: int, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TraceError(path, number, f"not JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise TraceError(path, number, "a row must be a JSON object")
    return row


def count(path: str, number: int, row: dict[str, Any], name: str, *, minimum: int = 1) -> int:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < minimum:
        raise TraceError(path, number, f"{name}: {value!r} is not a whole number >= {minimum}")
    return int(value)


def seconds(path: str, number: int, row: dict[str, Any], name: str, *, scale: float = 1.0) -> float:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TraceError(path, number, f"{name}: {value!r} is not a time >= 0")
    return float(value) * scale

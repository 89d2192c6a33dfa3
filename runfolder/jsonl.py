"""The run folder's JSON-lines files: appended a row at a time while a run goes on, so an interrupted
run leaves at most one torn last line, which readers skip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a missing file has none; an undecodable line (a torn write) is skipped."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows

"""The run folder's JSON-lines files: appended a row at a time while a run goes on, so an interrupted
run leaves at most one torn last line, which readers skip. A finished file may be stored gzipped beside
where it was written (runfolder/packed.py: committed GPU runs, whose per-token rows run to megabytes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runfolder.packed import stored_text


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file (or of its .gz); a missing file has none; an undecodable line (a torn write) is
    skipped."""
    text = stored_text(path)
    if text is None:
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows

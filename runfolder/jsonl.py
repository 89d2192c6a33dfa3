"""The run folder's JSON-lines files: appended a row at a time while a run goes on, so an interrupted
run leaves at most one torn last line, which readers skip. A finished file may be stored gzipped beside
where it was written (`requests.jsonl.gz`: committed GPU runs, whose per-token rows run to megabytes)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file (or of its .gz); a missing file has none; an undecodable line (a torn write) is
    skipped."""
    packed = path.with_name(path.name + ".gz")
    if path.exists():
        text = path.read_text()
    elif packed.exists():
        text = gzip.decompress(packed.read_bytes()).decode()
    else:
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

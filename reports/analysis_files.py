"""What an analysis of run folders leaves behind (benchmarks/*.py --out PATH): PATH.json, its data for the
next tool, and PATH.txt, the table it printed, side by side so a README can cite either."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_analysis(out: Path, data: Any, text: str) -> None:
    """PATH.json (indent 1) and PATH.txt beside it, the folder made if missing."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    out.with_suffix(".txt").write_text(text + "\n")

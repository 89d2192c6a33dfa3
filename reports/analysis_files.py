"""An analysis of run folders (benchmarks/*.py RUN... --out PATH): its command line, and what it leaves
behind - PATH.json, its data for the next tool, and PATH.txt, the table it printed, side by side so a
README can cite either."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def write_analysis(out: Path, data: Any, text: str) -> None:
    """PATH.json (indent 1) and PATH.txt beside it, the folder made if missing."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    out.with_suffix(".txt").write_text(text + "\n")


def analysis_arguments(doc: str | None) -> argparse.Namespace:
    """RUN... and --out PATH, the script's docstring's first line (if it has one) as its description."""
    parser = argparse.ArgumentParser(description=(doc or "").partition("\n")[0] or None)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    return parser.parse_args()

"""Where tests find the repository and their recorded data, wherever the test file lives."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"

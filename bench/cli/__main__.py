"""`python -m bench.cli`: the same as the `bench` console script (used where the script is not on PATH)."""

from bench.cli import app

app()

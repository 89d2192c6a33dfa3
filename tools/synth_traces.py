"""Writes the synthetic traces of tests/data/traces/ (seeded; nothing is downloaded), one per format:

- agentic.jsonl (this harness's conversation JSONL): tool-using sessions sharing one 2,048-token prefix
  (system prompt + tool definitions), 4-6 turns each, contexts growing turn by turn, think times;
- mooncake.jsonl (Mooncake's format): requests over a few shared documents (leading hash_ids in common)
  plus blocks of their own;
- azure.csv (Azure's LLM inference format): independent prompts, with one row beyond an 8,192-token
  max_model_len and one asking for no output, which a replay must count rather than drop;
- mooncake_check.jsonl: a heavier Mooncake-style trace from another seed (six documents, 200 requests at
  5 req/s), made after the first GPU runs to check the trace planner on rows it had not seen.

Run: .venv/bin/python tools/synth_traces.py tests/data/traces
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

SEED = 22


def agentic(rng: np.random.Generator, sessions: int = 16, window_s: float = 20.0) -> list[dict]:
    rows = []
    starts = np.sort(rng.uniform(0, window_s, sessions))
    for number, start in enumerate(starts):
        for turn in range(int(rng.integers(4, 7))):
            row = {"session": f"agent-{number}", "input_tokens": int(rng.integers(300, 800)),
                   "output_tokens": int(rng.integers(32, 65))}  # fmt: skip
            if turn == 0:
                row |= {"timestamp": round(float(start), 3), "prefix": "tools", "prefix_tokens": 2048}
            else:
                row["think_time_s"] = round(float(rng.uniform(0.5, 3.0)), 2)
            rows.append(row)
    return rows


def mooncake(rng: np.random.Generator, requests: int = 80, rate: float = 2.0, documents: int = 4) -> list[dict]:
    docs = [list(range(100 * d, 100 * d + int(rng.integers(4, 9)))) for d in range(documents)]
    arrivals = np.cumsum(rng.exponential(1.0 / rate, requests))
    rows, private = [], 10_000
    for arrival in arrivals:
        shared = docs[int(rng.integers(0, len(docs)))]
        own = int(rng.integers(1, 4))
        tail = int(rng.integers(1, 512))
        hashes = shared + list(range(private, private + own))
        private += own
        rows.append({"timestamp": int(arrival * 1000), "input_length": (len(hashes) - 1) * 512 + tail,
                     "output_length": int(rng.integers(16, 65)), "hash_ids": hashes})  # fmt: skip
    return rows


def azure(rng: np.random.Generator, requests: int = 60, rate: float = 2.0) -> str:
    start = datetime(2023, 11, 16, 18, 15, 46)
    arrivals = np.cumsum(rng.exponential(1.0 / rate, requests))
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for number, arrival in enumerate(arrivals):
        prompt, output = int(rng.integers(200, 3000)), int(rng.integers(10, 200))
        prompt, output = (9000, output) if number == 20 else (prompt, 0) if number == 40 else (prompt, output)
        stamp = start + timedelta(seconds=float(arrival))
        lines.append(f"{stamp:%Y-%m-%d %H:%M:%S}.{stamp.microsecond:06d}0,{prompt},{output}")
    return "\n".join(lines) + "\n"


def main(folder: Path) -> None:
    rng = np.random.default_rng(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("agentic.jsonl", agentic(rng)), ("mooncake.jsonl", mooncake(rng))):
        (folder / name).write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "azure.csv").write_text(azure(rng))
    heavy = mooncake(np.random.default_rng(SEED + 1), requests=200, rate=5.0, documents=6)
    (folder / "mooncake_check.jsonl").write_text("".join(json.dumps(row) + "\n" for row in heavy))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

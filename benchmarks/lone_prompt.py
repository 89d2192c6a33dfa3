"""A long prompt alone versus the same prompt beside a decode: what vLLM spends outside its chunk steps.

In a closed loop at c2 with long fixed-length prompts, the measured part starts with a burst: the
first request is prefilled alone (its TTFT: every chunk step of its prompt, plus whatever vLLM does
before and between them), then the second one's chunks run while the first decodes, and each of those
steps shows in the first request's stream as one long inter-token gap. Per level: the first request's
TTFT, the sum of the long gaps in its stream (the second prompt's chunk steps, the same length), and the
difference - time a lone prompt spends outside its chunk steps, which the step model does not have.
Levels: closed loop at concurrency 2 (exactly one other prompt), prompts of at least MIN_PROMPT tokens.
Run: .venv/bin/python benchmarks/lone_prompt.py RUN_DIR... [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.run_data import layout_of, open_runs  # noqa: E402
from runfolder.requests import RequestRecord  # noqa: E402

MIN_PROMPT = 8192  # one full chunk of vLLM's default token budget on these GPUs at least
CHUNK_GAP = 8.0  # a chunk step (165-800 ms) is this many times the stream's median gap (decode steps 5-20 ms)


def lone_row(requests: list[RequestRecord]) -> tuple[float, float, int] | None:
    """(first request's TTFT, sum of the chunk gaps in its stream, how many) in seconds."""
    measured = sorted((r for r in requests if r.ok and not r.warmup and r.ttft_s), key=lambda r: r.sent_s)
    if len(measured) < 2 or measured[1].sent_s - measured[0].sent_s > 0.05:  # not a burst
        return None
    first = min(measured[:2], key=lambda r: r.ttft_s or 0.0)
    median = sorted(first.itl_s)[len(first.itl_s) // 2] if first.itl_s else 0.0
    gaps = [g for g in first.itl_s if g > CHUNK_GAP * median]
    if not gaps or first.ttft_s is None:
        return None
    return first.ttft_s, sum(gaps), len(gaps)


def report(folders: list[Path]) -> str:
    lines = [f"{'run':15} {'layout':7} {'level':10} {'prompt':>7} {'alone TTFT':>10} {'chunks beside a decode':>23} "
             f"{'outside':>8}"]  # fmt: skip
    for run in open_runs(folders):
        for d in run.record.deployments:
            requests = run.requests(d)
            for level in d.levels:
                pair = level.driver.get("concurrency") == 2
                if not pair or not level.input_tokens.isdigit() or int(level.input_tokens) < MIN_PROMPT:
                    continue
                row = lone_row([r for r in requests if r.level == level.name])
                if row:
                    ttft, chunks, n = row
                    lines.append(f"{run.record.run_id[:15]} {layout_of(d).label():7} {level.name:10} "
                                 f"{level.input_tokens:>7} {1e3 * ttft:8.0f} ms {1e3 * chunks:12.0f} ms ({n} steps) "
                                 f"{1e3 * (ttft - chunks):+6.0f} ms")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = report(args.runs)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

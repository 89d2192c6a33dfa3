"""vLLM's engine steps rebuilt from a run's own token timestamps: what the performance model's step cost
(planner/step_cost.py) must match, measured without a profiler.

Every streamed token of a level (send time + TTFT + the running sum of its ITLs) is put on one clock; the
tokens of one engine step come out together, so tokens less than GAP_S apart are one step and the gaps
between steps are step durations. Per level, over the middle 60% of its steps (the first wave and the
drain left out):
- decode steps: steps in which no prompt finished; their median duration and median batch (tokens out);
- prompt steps: the median duration of the level's first-wave steps that finished prompts at once (a
  closed loop's first wave prefills concurrency x prompt tokens in full token-budget steps).
Then per GPU and layout, a least-squares line through the decode steps' (batch, duration) of the levels
at ~1.1K context (1K prompts; three batch sizes at least): intercept = a decode step's fixed cost,
slope = its cost per request.
Run: .venv/bin/python benchmarks/step_timeline.py RUN_DIR... [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.run_data import layout_of, open_runs  # noqa: E402
from runfolder.requests import RequestRecord  # noqa: E402

GAP_S = 0.002  # tokens of one step stream out within ~1 ms of each other; steps are >= 5 ms apart
PROMPT_STEP_S = 0.05  # prompt steps last 80-320 ms; these runs' median decode steps 7-21 ms


def token_events(requests: list[RequestRecord]) -> list[tuple[float, bool]]:
    """(time, is a first token) for every token of the requests, in time order."""
    events = []
    for r in requests:
        if not r.ok or r.ttft_s is None:
            continue
        t = r.sent_s + r.ttft_s
        events.append((t, True))
        for gap in r.itl_s:
            t += gap
            events.append((t, False))
    return sorted(events)


def steps(events: list[tuple[float, bool]]) -> list[tuple[float, int, int]]:
    """(duration since the previous step, tokens out, prompts finished) per step after the first."""
    groups: list[list[tuple[float, bool]]] = [[events[0]]]
    for event in events[1:]:
        if event[0] - groups[-1][-1][0] > GAP_S:
            groups.append([])
        groups[-1].append(event)
    out = []
    for before, group in zip(groups, groups[1:], strict=False):
        out.append((group[-1][0] - before[-1][0], len(group), sum(first for _, first in group)))
    return out


def level_row(name: str, requests: list[RequestRecord]) -> dict | None:
    found = steps(token_events(requests)) if requests else []
    if len(found) < 20:
        return None
    middle = found[len(found) // 5 : 4 * len(found) // 5]
    decode = [(d, n) for d, n, firsts in middle if firsts == 0]
    wave = [d for d, _, firsts in found[: len(found) // 5] if firsts >= 2 and d > PROMPT_STEP_S]
    context = statistics.fmean(r.expected_input_tokens + r.expected_output_tokens / 2 for r in requests)
    return {"level": name, "decode_ms": 1e3 * statistics.median(d for d, _ in decode) if decode else None,
            "batch": statistics.median(n for _, n in decode) if decode else None, "context": context,
            "prompt_step_ms": 1e3 * statistics.median(wave) if wave else None, "prompt_steps": len(wave)}  # fmt: skip


def decode_line(rows: list[dict]) -> tuple[float, float] | None:
    """(fixed ms, ms per request at ~1.1K context) through the decode steps of 1K-prompt levels."""
    points = [(r["batch"], r["decode_ms"]) for r in rows if r["decode_ms"] and 1000 <= r["context"] <= 1300]
    if len({b for b, _ in points}) < 3:  # a line through fewer batch sizes says little
        return None
    slope, intercept = np.polyfit([b for b, _ in points], [d for _, d in points], 1)
    return float(intercept), float(slope)


def report(folders: list[Path]) -> str:
    groups: dict[str, list[dict]] = {}
    for run in open_runs(folders):
        gpu = (run.record.environment.gpus or [{"name": "?"}])[0]["name"]
        for d in run.record.deployments:
            requests = run.requests(d)
            key = f"{gpu} {layout_of(d).label()}"
            for level in d.levels:
                row = level_row(level.name, [r for r in requests if r.level == level.name])
                if row:
                    groups.setdefault(key, []).append({"run": run.record.run_id, **row})
    lines = []
    for key, rows in groups.items():
        lines.append(f"== {key}")
        for r in rows:
            decode = f"{r['decode_ms']:6.1f} ms x{r['batch']:4.0f}" if r["decode_ms"] else "      -       "
            prompt = f"{r['prompt_step_ms']:6.1f} ms ({r['prompt_steps']})" if r["prompt_step_ms"] else "-"
            lines.append(f"{r['run'][:15]} {r['level']:10s} context {r['context']:7.0f}  decode step {decode}  "
                         f"first-wave prompt steps {prompt}")  # fmt: skip
        line = decode_line(rows)
        if line:
            lines.append(f"decode step at ~1.1K context: {line[0]:.2f} ms + {1e3 * line[1]:.0f} us a request")
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

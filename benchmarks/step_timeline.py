"""vLLM's engine steps rebuilt from a run's own token timestamps: what the performance model's step cost
(planner/step_cost.py) must match, measured without a profiler.

Per level, its typical decode step and first-wave prompt step, rebuilt from its tokens' timestamps
(reports/engine_steps.py, which the fit of the factors uses too: reports/perf_fit.py).
Then per GPU and layout, a least-squares line through the decode steps' (batch, duration) of the levels
at ~1.1K context (1K prompts; three batch sizes at least): intercept = a decode step's fixed cost,
slope = its cost per request. Beside each measured step, the step model's price of the same step with
the shipped factors of that GPU (planner/step_cost.py; `model`): a decode step of that batch at that
context, and, where a closed loop's first wave fills the token budget at least twice, a step of whole
prompts filling the budget (prompts of up to the budget).
With --lone, instead: a long prompt alone versus the same prompt beside a decode - what vLLM spends
outside its chunk steps. In a closed loop at c2 with long fixed-length prompts, the measured part starts
with a burst: the first request is prefilled alone (its TTFT: every chunk step of its prompt, plus whatever
vLLM does before and between them), then the second one's chunks run while the first decodes, and each
of those steps shows in the first request's stream as one long inter-token gap. Per level: the first
request's TTFT, the sum of the long gaps in its stream (the second prompt's chunk steps, the same
length), and the difference - time a lone prompt spends outside its chunk steps, which the step model
does not have. Levels: closed loop at concurrency 2, prompts of at least MIN_PROMPT tokens.
With --arrivals: open loops (a request rate), where each arrival's prompt joins a running batch. Per level,
the median over its requests of the longest step between a request's send and its first token (the step that
prefills its prompt beside the batch's decodes), beside the level's median step and median batch, and the
step model's price (shipped factors of that GPU) of that batch's decode step and of the same step holding one
prompt.
With --window LEVEL FROM_MS TO_MS: one run's level as a timeline - each send, and each step's end with the
first tokens and other tokens it put out and its time since the step before.
Run: .venv/bin/python benchmarks/step_timeline.py [--lone | --arrivals | --window LEVEL FROM_MS TO_MS] RUN_DIR...
[--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.calibration import performance_class, shipped_calibration  # noqa: E402
from planner.performance import engine_model  # noqa: E402
from planner.step_cost import PerfFactors, StepShape  # noqa: E402
from reports.engine_steps import (  # noqa: E402
    ArrivalSummary,
    arrival_summary,
    level_row,
    step_groups,
    step_samples,
    token_events,
)
from reports.perf_fit import PerfCase, perf_cases  # noqa: E402
from reports.run_data import RunData, layout_of, open_runs  # noqa: E402
from runfolder.requests import RequestRecord  # noqa: E402

MIN_ARRIVALS = 5  # --arrivals: requests whose prompt step was found, at least
# --lone
MIN_PROMPT = 8192  # one full chunk of vLLM's default token budget on these GPUs at least
CHUNK_GAP = 8.0  # a chunk step (165-800 ms) is this many times the stream's median gap (decode steps 5-20 ms)


def decode_line(rows: list[dict[str, Any]]) -> tuple[float, float] | None:
    """(fixed ms, ms per request at ~1.1K context) through the decode steps of 1K-prompt levels."""
    points = [(r["batch"], r["decode_ms"]) for r in rows if r["decode_ms"] and 1000 <= r["context"] <= 1300]
    if len({b for b, _ in points}) < 3:  # a line through fewer batch sizes says little
        return None
    slope, intercept = np.polyfit([b for b, _ in points], [d for _, d in points], 1)
    return float(intercept), float(slope)


def shipped_factors(case: PerfCase) -> PerfFactors:
    """The shipped factors of the case's GPU and model class."""
    calibration, _ = shipped_calibration(case.plan.server.vllm_version)
    return calibration.performance_factors(case.gpu, performance_class(case.model))[0]


def modelled(case: PerfCase, row: dict[str, Any]) -> dict[str, float | None]:
    """The step model's price (shipped factors of the case's GPU) of the row's decode and prompt steps."""
    factors = shipped_factors(case)
    engine = engine_model(case.model, case.gpu, case.layout, case.plan, factors=factors)
    out: dict[str, float | None] = {"model_decode_ms": None, "model_prompt_ms": None}
    for sample in step_samples(row, case.point.load, token_budget=engine.limits.max_num_batched_tokens):
        shapes = engine_split(sample.shape, case, whole=sample.kind == "prompt")
        out[f"model_{sample.kind}_ms"] = 1e3 * engine.coupled_seconds(shapes)
    return out


def engine_split(shape: StepShape, case: PerfCase, *, whole: bool = False) -> list[StepShape]:
    """A rebuilt step as a MoE model's DP engines ran it together (their tokens come out at one step's end):
    its decodes dealt over the engines, its prompt chunks on the first engine - or (`whole`: a closed loop's
    first wave, which fills every engine's token budget) on each. One engine (or a dense model's): as is."""
    engines = case.layout.coupled_engines(case.model.moe)
    if engines == 1:
        return [shape]
    return [StepShape(decode_contexts=shape.decode_contexts[i::engines],
                      prefills=shape.prefills if whole or i == 0 else ()) for i in range(engines)]  # fmt: skip


def run_rows(run: RunData) -> list[tuple[str, dict[str, Any]]]:
    """(GPU and layout, a row) per level with enough steps."""
    gpu = (run.record.environment.gpus or [{"name": "?"}])[0]["name"]
    cases = {(c.point.deployment, c.point.level): c for c in perf_cases([run])}
    found = []
    for d in run.record.deployments:
        requests = run.requests(d)
        for level in d.levels:
            row = level_row([r for r in requests if r.level == level.name])
            if row and (case := cases.get((d.name, level.name))):
                row |= modelled(case, row)
            if row:
                found.append((f"{gpu} {layout_of(d).label()}", {"run": run.record.run_id, "level": level.name, **row}))
    return found


def _ms(value: float | None) -> str:
    return f"{value:6.1f}" if value is not None else "     -"


def report(folders: list[Path]) -> str:
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in open_runs(folders):
        for key, row in run_rows(run):
            groups.setdefault(key, []).append(row)
    lines = []
    for key, rows in groups.items():
        lines.append(f"== {key}")
        for r in rows:
            decode = f"{r['decode_ms']:6.1f} ms x{r['batch']:4.0f} (model {_ms(r.get('model_decode_ms'))})" if r[
                "decode_ms"] else "      -" + " " * 23  # fmt: skip
            prompt = f"{r['prompt_step_ms']:6.1f} ms ({r['prompt_steps']}; model {_ms(r.get('model_prompt_ms'))})" if r[
                "prompt_step_ms"] else "-"  # fmt: skip
            lines.append(f"{r['run'][:15]} {r['level']:10s} context {r['context']:7.0f}  decode step {decode}  "
                         f"first-wave prompt steps {prompt}")  # fmt: skip
        line = decode_line(rows)
        if line:
            lines.append(f"decode step at ~1.1K context: {line[0]:.2f} ms + {1e3 * line[1]:.0f} us a request")
    return "\n".join(lines)


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


def lone_report(folders: list[Path]) -> str:
    """With --lone: per c2 level with long prompts, a prompt alone vs its chunk steps beside a decode."""
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


def arrivals_report(folders: list[Path]) -> str:
    lines = ["run             gpu   layout level        prompt batch  step  arrival step   model: step  arrival step"]
    for run in open_runs(folders):
        cases = {(c.point.deployment, c.point.level): c for c in perf_cases([run])}
        for d in run.record.deployments:
            for level in d.levels:
                case = cases.get((d.name, level.name))
                mine = [r for r in run.requests(d) if r.level == level.name and not r.warmup]
                found = arrival_summary(mine) if case and case.point.load.request_rate else None
                if case and found and found.arrivals >= MIN_ARRIVALS:
                    lines.append(_arrival_line(case, run.record.run_id, found))
    return "\n".join(lines)


def _arrival_line(case: PerfCase, run_id: str, found: ArrivalSummary) -> str:
    factors = shipped_factors(case)
    price = engine_model(case.model, case.gpu, case.layout, case.plan, factors=factors).coupled_seconds
    prompt = case.point.load.input_tokens
    decodes = (round(found.context),) * max(1, found.batch)
    decode = price(engine_split(StepShape(decode_contexts=decodes), case))
    joined = price(engine_split(StepShape(decode_contexts=decodes, prefills=((prompt, 0),)), case))
    where = f"{run_id[:15]} {case.gpu.name:5s} {case.layout.label():6s} {case.point.level:12s}"
    return (f"{where} {prompt:6d} {found.batch:5d} {1e3 * found.step_s:5.1f} {1e3 * found.arrival_s:8.1f} ms    "
            f"{1e3 * decode:9.1f} {1e3 * joined:9.1f} ms")  # fmt: skip


def window(folder: Path, level: str, start_ms: float, end_ms: float) -> str:
    """With --window: one level's sends and engine steps between two times (ms after its first measured send)."""
    lines = [f"{folder.name} {level}: ms after the first send; a step's tokens come out together"]
    (run,) = open_runs([folder])
    for d in run.record.deployments:
        mine = [r for r in run.requests(d) if r.level == level and not r.warmup]
        if not mine:
            continue
        t0 = min(r.sent_s for r in mine)
        sends = [(r.sent_s, "send") for r in mine]
        groups = step_groups(token_events(mine))
        marks = sorted(sends + [(g[-1][0], f"{sum(f for _, f in g):3d} first, {sum(not f for _, f in g):3d} more")
                                for g in groups])  # fmt: skip
        previous = None
        for at, what in marks:
            ms = 1e3 * (at - t0)
            if start_ms <= ms <= end_ms:
                since = "" if what == "send" or previous is None else f"+{1e3 * (at - previous):6.1f}"
                lines.append(f"  {ms:9.1f} {since:>7} {what}")
            if what != "send":
                previous = at
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--lone", action="store_true", help="a long prompt alone vs beside a decode")
    parser.add_argument("--arrivals", action="store_true", help="open loops: each arrival's prompt step")
    parser.add_argument("--window", nargs=3, metavar=("LEVEL", "FROM_MS", "TO_MS"),
                        help="one run's level: its sends and steps between two times")  # fmt: skip
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.window:
        level, start, end = args.window
        text = window(args.runs[0], level, float(start), float(end))
    elif args.arrivals:
        text = arrivals_report(args.runs)
    else:
        text = lone_report(args.runs) if args.lone else report(args.runs)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

"""Each profiled engine step beside the step model's price of its shape, from each card's shipped factors.

Run from the repository root:
  .venv/bin/python results/perf_model/twenty-sixth/profile_vs_price.py RUN... [--out FILE]
For every profiled level (rank 0's trace), the steps grouped as benchmarks/kernel_profile.py groups them, with
the trace's medians - span (what the engine waited), busy (kernels on the device), idle (span - busy: the host)
- and the price of that shape (planner/step_cost.py engine_pricer) from the H100's and the H200's factors in the
shipped calibration. A step's shape is rebuilt from the trace's counts: its prompt tokens split evenly over its
prompts, each decode at 1,050 tokens of context (the trace names no contexts; scenarios/gpu_moe_profile.yaml's
decodes run 1,024-1,056, over which a decode's price moves <1%).
"""

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from printed import emit  # noqa: E402

from planner import resolve_gpu  # noqa: E402
from planner.calibration import Calibration, performance_class  # noqa: E402
from planner.step_cost import StepShape, engine_pricer, step_model  # noqa: E402
from reports.kernel_profile import level_steps  # noqa: E402
from reports.perf_fit import perf_cases  # noqa: E402
from reports.run_data import open_runs  # noqa: E402

CALIBRATION = Path("planner/calibrations/vllm-0.26.0.json")
CARDS = ("h100", "h200")
DECODE_CONTEXT = 1050  # the profiled scenario's decodes: 1,024-token prompts, <=32 tokens out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    calibration = Calibration.model_validate_json(CALIBRATION.read_text())
    lines = ["$ .venv/bin/python results/perf_model/twenty-sixth/profile_vs_price.py " + " ".join(sys.argv[1:])]
    runs = open_runs(args.runs)
    for run, case in zip(runs, perf_cases(runs), strict=False):
        sm = step_model(
            case.model,
            case.layout,
            kv_cache_dtype=case.plan.kv_cache_dtype,
            graph_tokens=case.plan.server.largest_capture,
            dummy_weights=True,
        )
        pricers = {
            card: engine_pricer(
                sm, case.gpu, calibration.performance_factors(resolve_gpu(card), performance_class(case.model))[0]
            )
            for card in CARDS
        }
        for deployment in run.record.deployments:
            for level in deployment.levels:
                for _trace, steps in level_steps(run.folder, level):
                    lines.append(f"== {run.record.run_id} ({case.gpu.name}) {deployment.name} {level.name}")
                    lines.append(
                        f"{'prompts':>7} {'prompt tok':>10} {'decodes':>7} {'steps':>5} {'span':>8} {'busy':>8} "
                        f"{'idle':>8} " + " ".join(f"{'price ' + c:>10}" for c in CARDS) + "   (medians, ms)"
                    )
                    groups = defaultdict(list)
                    for step in steps:
                        groups[(step.prompts, step.prompt_tokens, step.decodes)].append(step)
                    for (prompts, prompt_tokens, decodes), group in sorted(
                        groups.items(), key=lambda kv: (-kv[0][1], -kv[0][2])
                    ):
                        shape = StepShape(
                            prefills=((prompt_tokens // prompts, 0),) * prompts if prompts else (),
                            decode_contexts=(DECODE_CONTEXT,) * decodes,
                        )
                        eager = shape.uncaptured(sm.graph_tokens)
                        prices = " ".join(f"{1e3 * pricers[c](shape, shape.tokens, eager):>10.1f}" for c in CARDS)
                        med = [
                            statistics.median(getattr(s, f) for s in group) for f in ("span_ms", "busy_ms", "idle_ms")
                        ]
                        lines.append(
                            f"{prompts:>7} {prompt_tokens:>10} {decodes:>7} {len(group):>5} "
                            + " ".join(f"{m:>8.1f}" for m in med)
                            + f" {prices}"
                        )
    emit(lines, args.out)


if __name__ == "__main__":
    main()

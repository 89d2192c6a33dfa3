"""Each closed loop's first-wave token gaps (reports/engine_steps.py steps: time since the step before, tokens out,
prompts finished), the steps that finished prompts, and the shipped sample (the median of those over 50 ms).
Run from the repository root: .venv/bin/python results/perf_model/explored-twenty-fifth/first_wave_gaps.py RUN_DIR..."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from reports.engine_steps import level_row, steps, token_events  # noqa: E402
from reports.run_data import open_runs  # noqa: E402

print("$ .venv/bin/python results/perf_model/explored-twenty-fifth/first_wave_gaps.py " + " ".join(sys.argv[1:]))
for run in open_runs([Path(p) for p in sys.argv[1:]]):
    for d in run.record.deployments:
        requests = run.requests(d)
        for level in ("c16", "c16-prof", "c32", "c64"):
            mine = [r for r in requests if r.level == level]
            if not mine:
                continue
            gaps = [f"{1e3 * gap:.1f} ms ({firsts} first)" for gap, _, firsts in steps(token_events(mine))[:10] if firsts]
            row = level_row(mine)
            sample = row["prompt_step_ms"] if row else None
            print(f"{run.record.run_id} {d.name} {level}: {', '.join(gaps)}; shipped sample {sample and round(sample, 1)}")

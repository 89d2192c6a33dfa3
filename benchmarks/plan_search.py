"""Times the full layout search: catalog GPUs x TP {1,2,4,8,16} x EP on/off x KV dtype, per catalog model.

Target (issue 2): under 100 ms for one model's full search; each row prints its median time as a
ratio of that 100 ms budget, with the per-plan cost for scale.
Run: .venv/bin/python benchmarks/plan_search.py
"""

from __future__ import annotations

import statistics
import time
from itertools import product

from planner import GPU_CATALOG, Layout, LayoutRejected, PlanSettings, catalog_names, load_model, plan_capacity

TPS = (1, 2, 4, 8, 16)
KV_DTYPES = ("auto", "fp8")
TARGET_S = 0.100
REPEATS = 15


def full_search(model) -> tuple[int, int]:
    """Every catalog GPU x TP x EP x KV dtype; returns (valid, rejected)."""
    valid = rejected = 0
    for gpu, tp, ep, kv in product(GPU_CATALOG.values(), TPS, (False, True), KV_DTYPES):
        try:
            plan_capacity(model, gpu, Layout(tp=tp, ep=ep), PlanSettings(kv_cache_dtype=kv, max_model_len=8192))
            valid += 1
        except LayoutRejected:
            rejected += 1
    return valid, rejected


def main() -> None:
    print(f"{'model':<16}{'plans':>7}{'valid':>7}{'median ms':>11}{'us/plan':>9}{'vs 100 ms target':>18}")
    worst = 0.0
    for name in catalog_names():
        model = load_model(name)
        full_search(model)  # warm caches outside the timing
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            valid, rejected = full_search(model)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        worst = max(worst, median)
        plans = valid + rejected
        print(
            f"{name:<16}{plans:>7}{valid:>7}{median * 1e3:>11.2f}{median / plans * 1e6:>9.1f}"
            f"{median / TARGET_S:>17.2f}x"
        )
    print(
        f"slowest full search: {worst * 1e3:.2f} ms = {worst / TARGET_S:.2f} x the 100 ms target -> "
        f"{'PASS' if worst < TARGET_S else 'FAIL'}"
    )


if __name__ == "__main__":
    main()

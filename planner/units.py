"""Units every room shares (planner, reports and bench import them from here)."""

GIB = 1 << 30  # bytes per GiB: vLLM and torch report memory in GiB

"""Report figures (matplotlib, Agg): each function returns PNG bytes, or None when there is no data."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from planner.units import GIB


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=96)
    plt.close(fig)
    return buffer.getvalue()


def latency_vs_throughput(levels: pd.DataFrame) -> bytes | None:
    """Median and p99 TTFT and TPOT against output throughput, one line per deployment."""
    if levels.empty:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for (deployment,), group in levels.sort_values("output_throughput").groupby(["deployment"]):
        for ax, metric in zip(axes, ("ttft", "tpot"), strict=True):
            ax.plot(group["output_throughput"], group[f"median_{metric}_ms"], "o-", label=f"{deployment} median")
            ax.plot(group["output_throughput"], group[f"p99_{metric}_ms"], "x--", label=f"{deployment} p99")
            for _, row in group.iterrows():
                ax.annotate(row["level"], (row["output_throughput"], row[f"median_{metric}_ms"]), fontsize=7)
    for ax, metric in zip(axes, ("TTFT", "TPOT"), strict=True):
        ax.set(xlabel="output throughput (tok/s)", ylabel=f"{metric} (ms)", title=f"{metric} vs throughput")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return png(fig)


def latency_percentiles(levels: pd.DataFrame) -> bytes | None:
    """p50 / p90 / p99 of TTFT, TPOT and ITL for every (deployment, level)."""
    if levels.empty:
        return None
    labels = [f"{d}\n{lvl}" for d, lvl in zip(levels["deployment"], levels["level"], strict=True)]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    width = 0.27
    for ax, metric in zip(axes, ("ttft", "tpot", "itl"), strict=True):
        for i, p in enumerate((50, 90, 99)):
            ax.bar([x + (i - 1) * width for x in range(len(labels))], levels[f"p{p}_{metric}_ms"], width, label=f"p{p}")
        ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=30, ha="right")
        ax.set(ylabel="ms", title=metric.upper())
        ax.legend(fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    return png(fig)


def goodput(levels: pd.DataFrame) -> bytes | None:
    """Request throughput and goodput (requests meeting every SLO) per level."""
    if levels.empty or "request_goodput" not in levels:
        return None
    labels = [f"{d}\n{lvl}" for d, lvl in zip(levels["deployment"], levels["level"], strict=True)]
    fig, ax = plt.subplots(figsize=(max(6, len(labels) * 1.1), 3.6))
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], levels["request_throughput"], 0.4, label="request throughput")
    ax.bar([i + 0.2 for i in x], levels["request_goodput"], 0.4, label="goodput (meets SLO)")
    ax.set_xticks(list(x), labels, fontsize=7, rotation=30, ha="right")
    ax.set(ylabel="requests/s", title="goodput against the SLO")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return png(fig)


def telemetry(series: dict[str, pd.DataFrame]) -> bytes | None:
    """KV-cache usage, running/waiting requests and memory over time, per deployment."""
    series = {name: frame for name, frame in series.items() if not frame.empty}
    if not series:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for name, frame in series.items():
        if "kv_cache_usage" in frame:
            axes[0].plot(frame["t"], frame["kv_cache_usage"] * 100, label=name)
        for column, style in (("running", "-"), ("waiting", ":")):
            if column in frame:
                axes[1].plot(frame["t"], frame[column], style, label=f"{name} {column}")
        for label, values in _memory(frame).items():
            axes[2].plot(frame["t"], values / GIB, label=f"{name} {label}")
    titles = ("KV-cache usage (%)", "requests in the engine", "memory (GiB)")
    for ax, title in zip(axes, titles, strict=True):
        ax.set(xlabel="time (s)", title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return png(fig)


def _memory(frame: pd.DataFrame) -> dict[str, pd.Series]:
    if "gpus" in frame:
        count = max(len(g) for g in frame["gpus"] if isinstance(g, list))
        return {
            f"GPU{i}": frame["gpus"].map(lambda g, i=i: g[i]["memory_used_bytes"] if isinstance(g, list) else None)
            for i in range(count)
        }
    if "server_rss_bytes" in frame:
        return {"server RSS": frame["server_rss_bytes"]}
    return {}

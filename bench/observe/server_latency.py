"""vLLM's own latency histograms from /metrics, per level: the server's view beside the client's.

vLLM measures each request from its arrival in the API server to its first token
(`vllm:time_to_first_token_seconds`), between output tokens (`vllm:inter_token_latency_seconds`), to
its end (`vllm:e2e_request_latency_seconds`), and its time queued, in prefill and in decode. A level's
share of each histogram is its counts at the end minus those at the measured start (warm-ups
excluded), summed over label sets (engines, models). Per metric:

- mean = delta sum / delta count (exact);
- median, p99 = Prometheus' histogram_quantile over the delta buckets (linear within a bucket, so only
  as fine as vLLM's bucket edges: e.g. 100-250 ms for TTFT).

The client's TTFT adds what the server does not see: the network, the HTTP server's framing and the
client's own parsing. `compare` flags a level whose mean client TTFT differs from the server's by more
than CLIENT_GAP_MS + CLIENT_GAP_FRACTION x the client's mean, or is below it (the client cannot see a
token before the server made it): timing that one side mis-measures.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

SERVER_LATENCY = {  # vLLM histogram -> the key stem its figures are written under (milliseconds)
    "vllm:time_to_first_token_seconds": "ttft",
    "vllm:inter_token_latency_seconds": "itl",
    "vllm:e2e_request_latency_seconds": "e2el",
    "vllm:request_queue_time_seconds": "queue",
    "vllm:request_prefill_time_seconds": "prefill",
    "vllm:request_decode_time_seconds": "decode",
}
CLIENT_GAP_MS = 10.0
CLIENT_GAP_FRACTION = 0.10

Histograms = dict[str, dict[str, float]]  # stem -> {"sum", "count", "le=<edge>": cumulative count}


def histograms(metrics_text: str) -> Histograms:
    """The latency histograms of one /metrics scrape, summed over label sets."""
    found: Histograms = {}
    for family in text_string_to_metric_families(metrics_text):
        stem = SERVER_LATENCY.get(family.name)
        if stem is None:
            continue
        totals = found.setdefault(stem, {})
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                key = f"le={float(sample.labels['le'])}"
            elif sample.name.endswith("_sum") or sample.name.endswith("_count"):
                key = sample.name.rsplit("_", 1)[1]
            else:
                continue
            totals[key] = totals.get(key, 0.0) + sample.value
    return found


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile: `buckets` = (upper edge, cumulative count), ascending, +Inf last."""
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for edge, cumulative in buckets:
        if cumulative >= rank:
            if edge == float("inf"):
                return lower  # beyond the last finite edge: its edge is all a histogram can say
            inside = cumulative - below
            return lower + (edge - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = edge, cumulative
    return lower


def level_figures(before: Histograms, after: Histograms) -> dict[str, float | None]:
    """`server_mean_ttft_ms`, `server_median_ttft_ms`, `server_p99_ttft_ms`, ... for one level."""
    figures: dict[str, float | None] = {}
    for stem, end in after.items():
        start = before.get(stem, {})
        count = end.get("count", 0.0) - start.get("count", 0.0)
        if count <= 0:
            continue
        buckets = sorted(
            (float(key[3:]), value - start.get(key, 0.0)) for key, value in end.items() if key.startswith("le=")
        )
        median, p99 = quantile(0.5, buckets), quantile(0.99, buckets)
        figures[f"server_mean_{stem}_ms"] = (end.get("sum", 0.0) - start.get("sum", 0.0)) / count * 1e3
        figures[f"server_median_{stem}_ms"] = median * 1e3 if median is not None else None
        figures[f"server_p99_{stem}_ms"] = p99 * 1e3 if p99 is not None else None
        figures[f"server_{stem}_count"] = count
    return figures


def compare(server: dict[str, float | None], client_mean_ttft_ms: float | None) -> str | None:
    """A warning when the client's and the server's mean TTFT disagree beyond transport and parsing."""
    theirs = server.get("server_mean_ttft_ms")
    if theirs is None or client_mean_ttft_ms is None:
        return None
    gap = client_mean_ttft_ms - theirs
    if gap < 0 or gap > CLIENT_GAP_MS + CLIENT_GAP_FRACTION * client_mean_ttft_ms:
        return (
            f"client mean TTFT {client_mean_ttft_ms:.1f} ms vs the server's {theirs:.1f} ms ({gap:+.1f} ms): "
            "beyond network and client overhead"
        )
    return None

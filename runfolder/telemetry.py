"""`deployments/NAME/telemetry.jsonl`: one sample per interval while a deployment's levels run.

Keys of a sample (absent when the source had no value):
- t: seconds since sampling began;
- vLLM's engine series from /metrics, summed over label sets: kv_cache_usage (fraction), running,
  waiting, preemptions, prefix_cache_queries, prefix_cache_hits, prompt_tokens, generation_tokens
  (the last five are counters);
- gpus: per GPU {index, memory_used_bytes, utilization_pct, power_w} where NVML sees this server's GPUs;
- server_rss_bytes: resident memory of a local server's whole process session otherwise (CPU backend).
"""

from __future__ import annotations

# vLLM's metric name -> the sample key it is written under
ENGINE_SERIES = {
    "vllm:kv_cache_usage_perc": "kv_cache_usage",
    "vllm:num_requests_running": "running",
    "vllm:num_requests_waiting": "waiting",
    "vllm:num_preemptions_total": "preemptions",
    "vllm:prefix_cache_queries_total": "prefix_cache_queries",
    "vllm:prefix_cache_hits_total": "prefix_cache_hits",
    "vllm:prompt_tokens_total": "prompt_tokens",
    "vllm:generation_tokens_total": "generation_tokens",
}
TIME, GPUS, SERVER_RSS = "t", "gpus", "server_rss_bytes"

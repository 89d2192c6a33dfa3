"""Watching a server: vLLM's /metrics (one parser), what a server reports of itself over HTTP, NVML per
GPU, and the telemetry sampler that writes telemetry.jsonl."""

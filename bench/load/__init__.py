"""The load generator: a workload turned into requests (workload, prompts, arrivals), sent over HTTP and
timed the way `vllm bench serve` times them (stream_client), a level driven in one process or several
(level_runner, workers, level) and summarized with vLLM's metric names (serving_metrics)."""

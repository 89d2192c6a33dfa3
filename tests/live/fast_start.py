"""How tests launch CPU vLLM: eager, so start-up skips torch.compile and the warm-up pass (about 21 s
instead of 41 s on 2 cores). The KV capacity under test is unaffected: the CPU backend's budget is
VLLM_CPU_KVCACHE_SPACE, fixed, not profiled. Tests about the compiled server's speed don't use it."""

EAGER = ["--enforce-eager"]

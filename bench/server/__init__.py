"""A vLLM server: its command line and environment (argv), its life (vllm_server, launch/), what its
start-up log says, synthetic models, the API key, the host's CPU, and Kubernetes manifests."""

# Sourced on the GPU machine: vLLM from /tmp/site, the harness's wheels, the harness from the checkout.
export PYTHONPATH=/tmp/site:/tmp/site2:$PWD
export VLLM_USE_FLASHINFER_SAMPLER=0 VLLM_NO_USAGE_STATS=1 HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1

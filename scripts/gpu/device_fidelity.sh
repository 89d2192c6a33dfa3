#!/usr/bin/env bash
# On the GPU machine (after device_setup.sh): benchmarks/fidelity.py against scenarios/gpu_fidelity.yaml's
# server, the named workloads only (one call cannot hold all five with the server's start-up). The
# result is rewritten under $OUT after each workload, so a call cut at its limit keeps what finished.
#   usage: device_fidelity.sh WORKLOADS [SATURATION_REQ_PER_S] [SECONDS]
#   e.g.   device_fidelity.sh short-c16,long-c8,ctx32k-c2        then
#          device_fidelity.sh poisson-half,poisson-near 4.1      (short-c16's vLLM request throughput)
#   env: DEPLOYMENT (default compiled), REPS (default 3), CONTROL=1 (vllm bench serve on both sides)
set -uo pipefail
cd "$(dirname "$0")/../.."
workloads=${1:?workloads}; saturation=${2:-}; limit=${3:-570}
source scripts/gpu/device_env.sh
out=${OUT:-/tmp/out}; mkdir -p "$out"
name=gpu-${DEPLOYMENT:-compiled}-$(echo "$workloads" | tr "," "_")${CONTROL:+-control}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/$name.gpu.txt"
lscpu | grep -E "Model name|^CPU\(s\)" >> "$out/$name.gpu.txt"
# SIGINT, not SIGTERM: the benchmark stops its server and keeps the workloads it finished
timeout -s INT "$limit" python3 benchmarks/fidelity.py --scenario scenarios/gpu_fidelity.yaml --deployment "${DEPLOYMENT:-compiled}" \
    --reps "${REPS:-3}" --only "$workloads" ${saturation:+--saturation "$saturation"} ${CONTROL:+--control} \
    --out "$out/$name.json" \
    > "$out/$name.stdout.txt" 2>&1
echo "exit $?" >> "$out/$name.stdout.txt"
tail -20 "$out/$name.stdout.txt"

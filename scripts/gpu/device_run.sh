#!/usr/bin/env bash
# On the GPU machine (after device_setup.sh): run one deployment of a scenario and pack the run
# folder into $OUT (the device tool returns files at most two folders deep, so it travels as a tarball).
#   usage: device_run.sh SCENARIO DEPLOYMENT [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.."
scenario=${1:?scenario}; deployment=${2:?deployment}; limit=${3:-560}
source scripts/gpu/device_env.sh
out=${OUT:-/tmp/out}; mkdir -p "$out"
# SIGINT, not SIGTERM: bench stops the server and keeps what was measured on Ctrl-C.
timeout -s INT "$limit" python3 -m bench.cli run "$scenario" --deployment "$deployment" --out /tmp/runs \
    2>&1 | tee "$out/bench-$deployment.txt"
run=$(ls -dt /tmp/runs/*/ | head -1)
cp "$run/deployments/$deployment/server.log" "$out/server-$deployment.log" 2>/dev/null || true
bash scripts/gpu/pack_run.sh "$run"  # packed as committed (runfolder/packed.py)
tar -C "$(dirname "$run")" -czf "$out/run-$deployment.tar.gz" "$(basename "$run")"
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv >> "$out/bench-$deployment.txt"
ls -la "$out"

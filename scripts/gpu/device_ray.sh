#!/usr/bin/env bash
# On the GPU machine (after device_setup.sh, with the Ray chunks in /tmp/raychunks): install Ray into
# /tmp/site3, start a one-node Ray cluster owning the GPU, and run SCENARIO against it (its deployment
# names ray.address 127.0.0.1:6379). The run folder comes back as a tarball under $OUT.
#   usage: device_ray.sh SCENARIO [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.."
scenario=${1:?scenario}; limit=${2:-540}
source scripts/gpu/device_env.sh
export PYTHONPATH=/tmp/site3:$PYTHONPATH
out=${OUT:-/tmp/out}; mkdir -p "$out"
if [ ! -f /tmp/site3/.installed ]; then
    cat /tmp/raychunks/chunk-* | tar -xf - -C /tmp
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site3 /tmp/whl/*.whl && touch /tmp/site3/.installed
fi
python3 -m ray.scripts.scripts start --head --port 6379 --num-gpus 1 --num-cpus 8 --resources '{"head": 1}' \
    --disable-usage-stats --include-dashboard false > "$out/ray-start.txt" 2>&1
timeout -s INT "$limit" python3 -m bench.cli run "$scenario" --out /tmp/runs 2>&1 | tee "$out/bench-ray.txt"
run=$(ls -dt /tmp/runs/*/ | head -1)
tar -C "$(dirname "$run")" -czf "$out/run-ray.tar.gz" "$(basename "$run")"
ps -eo pid,cmd | grep -c "[v]llm.entrypoints" | sed 's/^/vllm processes left: /' >> "$out/bench-ray.txt"
python3 -m ray.scripts.scripts stop --force >> "$out/ray-start.txt" 2>&1
ls -la "$out"

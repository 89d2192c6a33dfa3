#!/usr/bin/env bash
# On the GPU machine (after device_setup.sh): run several deployments of a scenario in turn within one
# device call, each into its own run folder, appended to $OUT/runs.tar as soon as it ends (a call cut
# at its limit still returns every deployment that finished; one archive, because the device tool
# returns at most a few files per call). A deployment starts only if SECONDS_LEFT allows
# a whole one (PER_DEPLOYMENT_S, default 240 s); vLLM's torch.compile cache is shared between them.
#   usage: device_runs.sh SCENARIO SECONDS NAME...
set -uo pipefail
cd "$(dirname "$0")/../.."
scenario=${1:?scenario}; budget=${2:?seconds}; shift 2
source scripts/gpu/device_env.sh
out=${OUT:-/tmp/out}; mkdir -p "$out"
end=$(( $(date +%s) + budget )); per=${PER_DEPLOYMENT_S:-240}
for name in "$@"; do
    left=$(( end - $(date +%s) ))
    if [ "$left" -lt "$per" ]; then echo "skipped $name: ${left}s left" | tee -a "$out/skipped.txt"; continue; fi
    rm -rf /tmp/runs-one && mkdir -p /tmp/runs-one
    # SIGINT, not SIGTERM: bench stops the server and keeps what was measured
    timeout -s INT "$(( left - 15 ))" python3 -m bench.cli run "$scenario" --deployment "$name" --out /tmp/runs-one \
        > "$out/bench-$name.txt" 2>&1
    echo "exit $? after $(( $(date +%s) - end + budget ))s" >> "$out/bench-$name.txt"
    run=$(ls -d /tmp/runs-one/*/ | head -1)
    [ -n "$run" ] && cp "$out/bench-$name.txt" "$run" && tar -C /tmp/runs-one -rf "$out/runs.tar" "$(basename "$run")"
    rm -f "$out/bench-$name.txt"
done
nvidia-smi --query-gpu=name,memory.total --format=csv
tar -tf "$out/runs.tar" | grep -c server.log

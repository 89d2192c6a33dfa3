#!/usr/bin/env bash
# Pack finished run folders for committing (runfolder/packed.py): gzip their request and telemetry rows, server
# logs and served tokenizers in place (readers take NAME or NAME.gz). The repository travels whole to the GPU
# machine with every device call, beside one part of vLLM (64 MiB in all): what it does not carry, a part can.
#   usage: scripts/gpu/pack_run.sh RUN_DIR...
set -euo pipefail
for run in "$@"; do
    find "$run" -type f \( -name requests.jsonl -o -name telemetry.jsonl -o -name server.log -o -name tokenizer.json \) \
        -exec gzip -9 -n {} +
done

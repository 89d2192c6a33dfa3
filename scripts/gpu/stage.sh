#!/usr/bin/env bash
# Here (with PyPI): build everything the GPU machine needs into .gpu/ (git-ignored):
#   .gpu/parts/part-0N, SHA256SUMS  vLLM 0.26.0's wheelhouse (../shared/tools/gpu-wheels) re-cut into 6 MiB (a call carries the tree with one part: 64 MiB in all; docs/gpu.md says when to cut smaller)
#                                   parts: a call carries the checkout too (~5 MB), and 64 MiB in all
#   .gpu/ray/chunk-0N               Ray and the dependencies the GPU image lacks, in 27 MiB chunks
#   .gpu/install.sh                 a copy of its installer (../shared does not travel to the device)
#   .gpu/harness/*.whl              the harness's own dependencies the GPU image lacks (Python 3.12)
# docs/gpu.md lists the device calls that carry them over and run a scenario.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools=../shared/tools/gpu-wheels
mkdir -p .gpu/harness
if [ ! -f .gpu/parts/SHA256SUMS ]; then
    bash "$tools/stage.sh" .gpu/staged
    mkdir -p .gpu/parts && cat .gpu/staged/part-* | split -b 6M -d - .gpu/parts/part-
    (cd .gpu/parts && sha256sum part-* > SHA256SUMS) && rm -rf .gpu/staged
fi
cp "$tools/install.sh" .gpu/install.sh
PIP_CONSTRAINT= python3 -m pip download -q --isolated --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .gpu/harness \
    typer==0.29.2 click==8.3.1 shellingham==1.5.4 rich==15.0.0 markdown-it-py==4.0.0 mdurl==0.1.2 \
    pygments==2.19.2 orjson==3.13.0 nvidia-ml-py==13.580.82
if [ ! -f .gpu/ray/chunk-00 ]; then
    PIP_CONSTRAINT= python3 -m pip download -q --isolated --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux2014_x86_64 -d .gpu/ray/whl \
        ray==2.60.0 msgpack==1.2.4 jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 \
        rpds-py==2026.9.1 attrs==26.1.0
    tar -C .gpu/ray -cf - whl | split -b 27M -d - .gpu/ray/chunk-
fi
ls -la .gpu/parts .gpu/harness .gpu/ray

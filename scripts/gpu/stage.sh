#!/usr/bin/env bash
# Here (with PyPI): build everything the GPU machine needs into .gpu/ (git-ignored):
#   .gpu/parts/part-0N, SHA256SUMS  vLLM 0.26.0's wheelhouse in <= 60 MiB parts (../shared/tools/gpu-wheels)
#   .gpu/install.sh                 a copy of its installer (../shared does not travel to the device)
#   .gpu/harness/*.whl              the harness's own dependencies the GPU image lacks (Python 3.12)
# docs/gpu.md lists the device calls that carry them over and run a scenario.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools=../shared/tools/gpu-wheels
mkdir -p .gpu/harness
[ -f .gpu/parts/SHA256SUMS ] || bash "$tools/stage.sh" .gpu/parts
cp "$tools/install.sh" .gpu/install.sh
PIP_CONSTRAINT= python3 -m pip download -q --isolated --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .gpu/harness \
    typer==0.29.2 click==8.3.1 shellingham==1.5.4 rich==15.0.0 markdown-it-py==4.0.0 mdurl==0.1.2 \
    pygments==2.19.2 orjson==3.13.0 nvidia-ml-py==13.580.82
ls -la .gpu/parts .gpu/harness

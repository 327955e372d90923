#!/usr/bin/env bash
# Builds the llama.cpp peer for `twin bench generate` into Benchmarks/generate/.venv-generate.
# llama-cpp-python compiles llama.cpp from source: several minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv-generate
CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} .venv-generate/bin/pip install "llama-cpp-python==0.3.36" numpy
echo "peer ready: $(pwd)/.venv-generate/bin/python"

#!/usr/bin/env bash
# Creates Benchmarks/train/.venv-train with the peer: PyTorch (CPU build) + transformers + PEFT.
# The CPU wheel avoids the multi-GB CUDA dependencies of the default PyPI torch wheel; pip finds it in a
# local wheel folder (find-links) when one is configured, otherwise on PyPI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-train"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet "torch==2.13.0+cpu" || "$venv/bin/pip" install --quiet torch
"$venv/bin/pip" install --quiet "transformers>=4.45" "peft>=0.13" "gguf>=0.10" numpy
"$venv/bin/python" -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"

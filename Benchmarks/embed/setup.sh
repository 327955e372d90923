#!/usr/bin/env bash
# Sets up the peer of `twin bench embed` in Benchmarks/embed/.venv-embed: sentence-transformers 6.2 on torch CPU.
# Prefers the CPU-only torch wheel (a local wheel directory configured for pip, if any, is searched first);
# falls back to PyPI's default torch build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-embed"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import sentence_transformers, torch" 2>/dev/null; then
    "$venv/bin/pip" install --quiet "torch==2.13.0+cpu" || "$venv/bin/pip" install --quiet torch
    "$venv/bin/pip" install --quiet "sentence-transformers==6.2.0"
fi
"$venv/bin/python" -c "import sentence_transformers, torch; print('peer ready:', sentence_transformers.__version__, torch.__version__)"
echo "$venv/bin/python"

#!/usr/bin/env bash
# Creates the Python peers' venv (Dramatiq and RQ from PyPI) next to this script.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../../.venv-queue"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "dramatiq[redis]==2.2.1" "rq==2.12.0" "redis>=5"
fi
echo "$venv/bin/python"

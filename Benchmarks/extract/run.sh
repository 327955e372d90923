#!/usr/bin/env bash
# Extraction benchmark: twin's extractor and trafilatura on the same pages, in the same run.
# Usage: Benchmarks/extract/run.sh [DATA_DIR] [REPEAT]   (default: /work/shared/data/extraction-dev, 3)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${1:-/work/shared/data/extraction-dev}"
repeat="${2:-3}"
venv="$here/.venv-trafilatura"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "trafilatura==2.0.0" lxml_html_clean
fi
twin="$root/.build/release/twin"
[ -x "$twin" ] || (cd "$root" && swift build -c release --product twin)
"$twin" bench extract --data "$data" --repeat "$repeat"
"$venv/bin/python" "$here/trafilatura_peer.py" "$data" --repeat "$repeat"

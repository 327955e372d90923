#!/usr/bin/env bash
# Crawl throughput: twin crawl jobs through the queue with N twin-worker processes, and a plain Python
# crawler (urllib + trafilatura, N processes, no queue or database) on the same loopback corpus, in the
# same run. Needs Redis and PostgreSQL (eval "$(ops/services env)") and a release build.
# Usage: Benchmarks/extract/crawl.sh [WORKERS] [LINKS]   (default: 1,2,4 and 480); run from anywhere.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
workers="${1:-1,2,4}"
links="${2:-480}"
venv="$here/.venv-trafilatura"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "trafilatura==2.0.0" lxml_html_clean
fi
bin="$(cd "$root" && swift build -c release --show-bin-path)"
[ -x "$bin/twin" ] && [ -x "$bin/twin-worker" ] || (cd "$root" && swift build -c release --product twin && swift build -c release --product twin-worker)
cd "$root"
"$bin/twin" bench extract --crawl --workers "$workers" --links "$links" --corpus demo/corpus
"$venv/bin/python" "$here/crawl_peer.py" demo/corpus --workers "$workers" --links "$links"

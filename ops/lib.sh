# Shared settings for the ops scripts. Sourced, never run.
set -euo pipefail
TWIN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TWIN_STATE="${TWIN_STATE:-$TWIN_ROOT/.twin}"
TWIN_REDIS_PORT="${TWIN_REDIS_PORT:-16379}"
TWIN_PG_PORT="${TWIN_PG_PORT:-15432}"
TWIN_PG_DB="${TWIN_PG_DB:-twin}"
TWIN_PG_USER="${TWIN_PG_USER:-twin}"
export TWIN_MODELS_DIR="${TWIN_MODELS_DIR:-$TWIN_ROOT/models}"
# One build configuration for tests, demo and benchmarks: optimised (the neural code is unusable
# unoptimised) with testing enabled so the test targets can use @testable imports.
SWIFT_BUILD_FLAGS=(-c release -Xswiftc -enable-testing)
export PATH="/opt/swift/usr/bin:$PATH"

log() { printf '\033[1m[twin]\033[0m %s\n' "$*" >&2; }

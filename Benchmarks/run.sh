#!/usr/bin/env bash
# Builds the release binaries and runs every benchmark (see BENCHMARKS.md).
#
#   Benchmarks/run.sh --quick        # under 3 minutes once built
#   Benchmarks/run.sh                # the full set
#   Benchmarks/run.sh --only sync --sync-sizes 1000x10000
#
# Benchmarks print numbers; they never fail on speed. Everything runs on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk is not installed: apt-get update && apt-get install -y wrk (the webhook throughput columns need it)" >&2
fi

swift build -c release --product shiftgate
swift build -c release --product shiftgate-bench
# The postgres section needs a server: SHIFTGATE_BENCH_POSTGRES_URL (and PGPASSWORD) if set, else a
# private cluster started here and removed at the end (when PostgreSQL is installed).
if [ -z "${SHIFTGATE_BENCH_POSTGRES_URL:-}" ]; then
    source .ci/private-postgres.sh
    if start_private_postgres; then
        trap stop_private_postgres EXIT
        export SHIFTGATE_BENCH_POSTGRES_URL="$PRIVATE_POSTGRES_URL" PGPASSWORD="$PRIVATE_POSTGRES_PASSWORD"
    fi
fi
.build/release/shiftgate-bench --shiftgate .build/release/shiftgate --wrk "$(command -v wrk || echo /usr/bin/wrk)" "$@"

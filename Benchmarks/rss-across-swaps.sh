#!/usr/bin/env bash
# The webhook's RSS across many snapshot swaps (see BENCHMARKS.md, "Server RSS across many swaps").
#
#   Benchmarks/rss-across-swaps.sh [SYNCS]
#   MALLOC_ARENA_MAX=2 Benchmarks/rss-across-swaps.sh 30
#
# Runs the simulator (10,000 users, 1,000 schedules, no rate limit), `shiftgate serve` over a fresh
# cache, and an unthrottled `shiftgate sync` every ~4.5 s; prints serve's VmRSS (kB) at start and
# 2.5 s after each sync, then its VmHWM. Loopback only; everything is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
syncs=${1:-12}
swift build -c release --product shiftgate >&2
swift build -c release --product pagerduty-simulator >&2
bin=.build/release
work=$(mktemp -d)
database=$work/cache.sqlite
simulator_port=18091
serve_port=18092

$bin/pagerduty-simulator --port $simulator_port --users 10000 --schedules 1000 --seed 7 --v3-share 0 \
    --rate-limit 100000000 --api-key bench-key >/dev/null 2>&1 &
simulator=$!
trap 'kill $simulator ${server:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sleep 3

sync_once() {
    PAGERDUTY_KEY=bench-key $bin/shiftgate sync --database "$database" --api-url http://127.0.0.1:$simulator_port \
        --rate-limit 1000000 --timeout 5m >/dev/null 2>&1
}
rss() { awk '/^VmRSS/ {print $2}' /proc/$server/status; }

sync_once
INDENT_WEBHOOK_SECRET=bench-secret AUTO_APPROVAL_PAGERDUTY_SCHEDULES=P0LWOLF $bin/shiftgate serve --database "$database" \
    --port $serve_port --max-staleness 24h >/dev/null 2>&1 &
server=$!
sleep 3
printf 'MALLOC_ARENA_MAX=%s: start %s' "${MALLOC_ARENA_MAX:-unset}" "$(rss)"
for _ in $(seq 1 "$syncs"); do
    sync_once
    sleep 2.5
    printf ' %s' "$(rss)"
done
printf ' hwm %s kB\n' "$(awk '/^VmHWM/ {print $2}' /proc/$server/status)"

#!/usr/bin/env bash
# Checks every systemd unit in cron/ and deploy/ with `systemd-analyze verify`, against a built
# shiftgate binary, and fails on any message about those units.
#
# Usage: deploy/verify-units.sh PATH/TO/shiftgate
#   e.g. deploy/verify-units.sh .build/release/shiftgate   (as cron/README.md's common setup builds it)
#
# `verify` checks that every ExecStart= binary exists, so the units are copied to a temporary
# directory with /usr/local/bin/shiftgate rewritten to the given binary; nothing is installed.
# It needs systemd-analyze (Debian package `systemd`), not a running systemd.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 PATH/TO/shiftgate" >&2
    exit 64
fi
if [ ! -x "$1" ] || [ -d "$1" ]; then
    echo "$0: $1 is not an executable shiftgate binary (build it with: swift build -c release --static-swift-stdlib --product shiftgate)" >&2
    exit 66
fi
binary="$(realpath "$1")"
case "$binary" in
    *[[:space:]#\\%\$\"\']*)
        echo "$0: $binary: put the binary in a path without spaces or #\\%\$\"' (unit files would need quoting)" >&2
        exit 64 ;;
esac

if ! command -v systemd-analyze >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "systemd-analyze is missing; installing the Debian package systemd" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd >&2 \
            || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd >&2; }
    else
        echo "$0: systemd-analyze is missing: apt-get install -y systemd" >&2
        exit 69
    fi
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

shopt -s nullglob
units=()
for source in "$root"/cron/*.service "$root"/cron/*.timer "$root"/deploy/*.service "$root"/deploy/*.timer; do
    name="$(basename "$source")"
    if [ -e "$work/$name" ]; then
        echo "$0: two units named $name in cron/ and deploy/" >&2
        exit 1
    fi
    sed "s#/usr/local/bin/shiftgate#$binary#g" "$source" > "$work/$name"
    units+=("$work/$name")
done
if [ ${#units[@]} -eq 0 ]; then
    echo "$0: no unit files found in $root/cron or $root/deploy" >&2
    exit 1
fi

failed=0

# verify does not complain about an OnFailure= unit that does not exist: check those here.
for unit in "${units[@]}"; do
    while IFS= read -r target; do
        template="$(printf '%s\n' "$target" | sed -E 's/@[^.]*\.(service|timer)$/@.\1/')"
        if [ ! -e "$work/$target" ] && [ ! -e "$work/$template" ]; then
            echo "$(basename "$unit"): OnFailure=$target names no unit in cron/ or deploy/" >&2
            failed=1
        fi
    done < <(sed -n -E 's/^OnFailure=//p' "$unit" | tr ' ' '\n' | grep -v '^$' || true)
done

# Nor about a timer whose service is missing.
for unit in "${units[@]}"; do
    case "$unit" in *.timer) ;; *) continue ;; esac
    target="$(sed -n -E 's/^Unit=//p' "$unit" | tail -n 1)"
    [ -n "$target" ] || target="$(basename "$unit" .timer).service"
    if [ ! -e "$work/$target" ]; then
        echo "$(basename "$unit"): starts $target, which is not in cron/ or deploy/" >&2
        failed=1
    fi
done

# --recursive-errors=no: the exit status is about the given files only, not the host's units they
# pull in (network-online.target and the like). Messages about the given files name their path or
# their unit name (a template is checked as instance "i"); any other line is the host's and is only shown.
status=0
output="$(cd "$work" && systemd-analyze verify --man=no --recursive-errors=no "${units[@]}" 2>&1)" || status=$?
names="$(for unit in "${units[@]}"; do basename "$unit" | sed -E 's/\.(service|timer)$//'; done)"
while IFS= read -r line; do
    [ -n "$line" ] || continue
    ours=0
    case "$line" in *"$work"*) ours=1 ;; esac
    while IFS= read -r name; do
        case "$line" in *"$name"*) ours=1 ;; esac
    done <<< "$names"
    if [ $ours -eq 1 ]; then
        echo "${line//$work\//}" >&2
        failed=1
    else
        echo "(host, ignored) $line" >&2
    fi
done <<< "$output"
if [ $status -ne 0 ] && [ $failed -eq 0 ]; then
    echo "systemd-analyze verify exited $status" >&2
    failed=1
fi

if [ $failed -ne 0 ]; then
    echo "verify-units: FAILED" >&2
    exit 1
fi
echo "verify-units: ${#units[@]} units OK ($(cd "$work" && echo *))"

#!/usr/bin/env bash
# Stop a Prosody started by start.sh, by the PID in its pid file.
# Usage: stop.sh [DIR]     (default: $PROSODY_DIR)
#        KEEP_DIR=0 also removes DIR afterwards (default: keep it, logs stay).
# Exit 0 when it is stopped (or was not running).
set -euo pipefail

dir="${1:-${PROSODY_DIR:-}}"
if [ -z "$dir" ]; then
    echo "usage: stop.sh DIR (or set PROSODY_DIR)" >&2
    exit 2
fi
pidfile="$dir/prosody.pid"
timeout="${STOP_TIMEOUT:-10}"

pid=""
[ -s "$pidfile" ] && pid="$(cat "$pidfile")"
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(date +%s) + timeout ))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "stop-test-prosody: $pid still running after ${timeout}s; sending KILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
fi
rm -f "$pidfile"

if [ "${KEEP_DIR:-1}" = 0 ]; then
    rm -rf "$dir"
fi

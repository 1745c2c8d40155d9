#!/usr/bin/env bash
# scripts/prosody/stop.sh: stop a Prosody that start.sh started.
#
#   scripts/prosody/stop.sh [DIR]      DIR defaults to $PROSODY_DIR
#
# Sends SIGTERM to the pid in DIR/prosody.pid, waits up to STOP_TIMEOUT
# seconds (default 10), then SIGKILL. Exits 0 once it is gone, or when it
# was not running. DIR is kept (logs stay) unless KEEP_DIR=0.
set -euo pipefail

run_dir="${1:-${PROSODY_DIR:-}}"
if [ -z "$run_dir" ]; then
    echo "usage: scripts/prosody/stop.sh DIR   (or set PROSODY_DIR)" >&2
    exit 2
fi
stop_timeout="${STOP_TIMEOUT:-10}"
pid_file="$run_dir/prosody.pid"

pid=""
[ -s "$pid_file" ] && pid="$(cat "$pid_file")"
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(date +%s) + stop_timeout ))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "prosody/stop.sh: $pid did not stop within ${stop_timeout}s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
fi
rm -f "$pid_file"

if [ "${KEEP_DIR:-1}" = 0 ]; then
    rm -rf "$run_dir"
fi

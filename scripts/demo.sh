#!/usr/bin/env bash
# scripts/demo.sh: the focus doing its main job, to watch.
#
# Starts a private Prosody shaped like a docker-jitsi-meet deployment on
# loopback, writes a jicofo.conf like docker-jitsi-meet's for it (with Octo
# and region-based bridge selection), and runs the focus with it: the focus
# logs in with STARTTLS and SCRAM as focus@auth.meet.jitsi and serves its
# REST API on 127.0.0.1:$REST_PORT. Two bridge emulators (regions us-east
# and eu-west) join its brewery; then simulated participants
# (tests/src/bin/demo-participants.rs: real XMPP clients behaving like
# lib-jitsi-meet) join a few conferences, share a screen, leave and come
# back, while a live view (conferences, participants, bridges, relays,
# sources) is printed every 2 s; a summary ends it. Then everything stops.
# Exit status 0 only when the participants saw no problem and every check
# passed, the focus stayed healthy, stopped cleanly and logged no ERROR.
# Ctrl-C stops early.
#
# Environment (optional):
#   RUNTIME=tokio|async-std   which binary (focus / focus-async-std)
#   PROFILE=dev|release       cargo profile of the build (default dev)
#   FOCUS_BIN                 run this binary instead of building one
#   XMPP_PORT=25222 HTTP_PORT=25280 REST_PORT=8888
#   DEMO_SECONDS              how long the participants run (default 90)
#   DEMO_CONFERENCES=3 DEMO_PARTICIPANTS=8
#                             rooms and participants
#   DEMO_SEED                 seed of the participants' schedule (default:
#                             from the clock; the summary prints it)
#   DEMO_VERBOSE=1            keep showing every log line of the focus and
#                             the bridges during the live view (by default
#                             only their WARN and ERROR lines)
#   DEMO_DIR                  where config and logs go (default: a new
#                             temporary directory, kept afterwards)
#   RUST_LOG                  the focus's log filter (default info)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNTIME="${RUNTIME:-tokio}"
PROFILE="${PROFILE:-dev}"
XMPP_PORT="${XMPP_PORT:-25222}"
HTTP_PORT="${HTTP_PORT:-25280}"
REST_PORT="${REST_PORT:-8888}"
DEMO_SECONDS="${DEMO_SECONDS:-90}"
DEMO_CONFERENCES="${DEMO_CONFERENCES:-3}"
DEMO_PARTICIPANTS="${DEMO_PARTICIPANTS:-8}"
DEMO_SEED="${DEMO_SEED:-}"
DEMO_VERBOSE="${DEMO_VERBOSE:-}"
demo_dir="${DEMO_DIR:-}"

say() { printf '\033[1mdemo:\033[0m %s\n' "$*" >&2; }
[ -t 2 ] || say() { printf 'demo: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

# --- cleanup: each step registers how to undo itself; run in reverse -------
cleanups=()
on_exit() { cleanups+=("$1"); }
run_cleanups() {
    local status=$? i
    trap - EXIT INT TERM
    for (( i=${#cleanups[@]}-1; i>=0; i-- )); do
        eval "${cleanups[$i]}" || true
    done
    [ -n "$demo_dir" ] && say "config and logs are in $demo_dir"
    exit "$status"
}
trap run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Copies a log stream (stdin) to file $2 and to stderr prefixed with [$1];
# while the live view runs ($demo_dir/quiet exists) only WARN and ERROR
# lines reach the terminal. Ignores Ctrl-C to outlive its process.
show_log() {
    trap '' INT
    local line
    while IFS= read -r line; do
        printf '%s\n' "$line" >>"$2"
        if [ ! -e "$demo_dir/quiet" ] || [[ "$line" == *WARN* || "$line" == *ERROR* ]]; then
            printf '  [%s] %s\n' "$1" "$line" >&2
        fi
    done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# GET $1 from the REST API; prints "STATUS BODY" (bash only, no curl).
rest_get() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$REST_PORT" || exit 1
        printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' \
            "$1" "$REST_PORT" >&3
        response="$(timeout 5 cat <&3 | tr -d '\r')" || true
        status="$(head -n1 <<<"$response" | cut -d' ' -f2)"
        [ -n "$status" ] || exit 1
        printf '%s %s\n' "$status" "${response#*$'\n\n'}"
    ) 2>/dev/null
}

# --- steps -------------------------------------------------------------------
install_deps() {
    say "checking dependencies (Prosody, openssl)"
    scripts/install-deps.sh >&2
}

build_focus() {
    if [ -n "${FOCUS_BIN:-}" ]; then
        focus_bin="$FOCUS_BIN"
        [ -x "$focus_bin" ] || fail "FOCUS_BIN=$focus_bin is not an executable"
        return
    fi
    local name=focus dir=debug
    case "$RUNTIME" in
        tokio) ;;
        async-std) name=focus-async-std ;;
        *) fail "RUNTIME must be tokio or async-std" ;;
    esac
    [ "$PROFILE" = dev ] || dir="$PROFILE"
    say "building the focus binaries ($PROFILE profile; the first build takes a few minutes)"
    # Both binaries, as the end-to-end tests build them: one shared cache.
    cargo build --profile "$PROFILE" -p runtime-tokio -p runtime-async-std --bins >&2 ||
        fail "the build failed"
    focus_bin="${CARGO_TARGET_DIR:-target}/$dir/$name"
    [ -x "$focus_bin" ] || fail "no binary at $focus_bin"
}

make_demo_dir() {
    if [ -z "$demo_dir" ]; then
        demo_dir="$(mktemp -d -t focus-demo.XXXXXX)"
    fi
    mkdir -p "$demo_dir"
    demo_dir="$(cd "$demo_dir" && pwd)"
}

start_prosody() {
    say "starting Prosody on 127.0.0.1 (c2s $XMPP_PORT, BOSH/websocket $HTTP_PORT)"
    local vars
    vars="$(XMPP_PORT="$XMPP_PORT" HTTP_PORT="$HTTP_PORT" scripts/prosody/start.sh "$demo_dir/prosody")" ||
        fail "Prosody did not start (another demo running? set XMPP_PORT/HTTP_PORT)"
    eval "$vars"   # PROSODY_DIR, PROSODY_CA_CERT, FOCUS_JID, ... (see start.sh)
    # shellcheck disable=SC2016 # expanded when the cleanup runs
    on_exit 'say "stopping Prosody"; scripts/prosody/stop.sh "$PROSODY_DIR"'
    # shellcheck disable=SC2153 # FOCUS_JID comes from the eval above
    say "Prosody is up: domain $XMPP_DOMAIN, focus account $FOCUS_JID, CA $PROSODY_CA_CERT"
}

write_focus_config() {
    focus_conf="$demo_dir/jicofo.conf"
    cat >"$focus_conf" <<CONF
# jicofo.conf for the demo, as docker-jitsi-meet writes it for Jicofo.
jicofo {
  xmpp {
    client {
      hostname = "127.0.0.1"
      port = $XMPP_PORT
      domain = "$XMPP_AUTH_DOMAIN"
      xmpp-domain = "$XMPP_DOMAIN"
      username = "focus"
      password = "$JICOFO_AUTH_PASSWORD"
      client-proxy = "$FOCUS_DOMAIN"
      conference-muc-jid = "$XMPP_MUC_DOMAIN"
    }
    trusted-domains = []
  }
  bridge {
    brewery-jid = "jvbbrewery@$XMPP_INTERNAL_MUC_DOMAIN"
    # The demo's bridges are in two regions: participants go to the bridge
    # of their region, and a conference across regions is relayed (Octo).
    selection-strategy = RegionBasedBridgeSelectionStrategy
  }
  octo {
    enabled = true
  }
  rest {
    port = $REST_PORT
  }
}
CONF
    say "wrote $focus_conf"
}

start_focus() {
    if port_open "$REST_PORT"; then
        fail "port $REST_PORT is in use (another focus or Jicofo?); set REST_PORT"
    fi
    say "starting $focus_bin --config $focus_conf (trusting the Prosody CA via SSL_CERT_FILE)"
    # Its log goes to the terminal, prefixed, and to focus.log (show_log).
    env -u SSL_CERT_DIR SSL_CERT_FILE="$PROSODY_CA_CERT" RUST_LOG="${RUST_LOG:-info}" \
        "$focus_bin" --config "$focus_conf" \
        > >(show_log focus "$demo_dir/focus.log") 2>&1 &
    focus_pid=$!
    on_exit 'stop_focus'
}

stop_focus() {
    kill -0 "$focus_pid" 2>/dev/null || return 0
    say "stopping the focus (SIGTERM)"
    kill -TERM "$focus_pid" 2>/dev/null || true
    local status=0
    wait "$focus_pid" || status=$?
    say "the focus exited with status $status"
    return "$status"
}

wait_healthy() {
    say "waiting for GET http://127.0.0.1:$REST_PORT/about/health to answer 200"
    local deadline=$(( $(date +%s) + 60 )) answer
    while :; do
        kill -0 "$focus_pid" 2>/dev/null || fail "the focus exited; see $demo_dir/focus.log"
        answer="$(rest_get /about/health || true)"
        [ "${answer%% *}" = 200 ] && break
        [ "$(date +%s)" -lt "$deadline" ] ||
            fail "not healthy after 60 s (last answer: ${answer:-none})"
        sleep 0.5
    done
    say "GET /about/health  -> $answer"
    say "GET /about/version -> $(rest_get /about/version || echo 'no answer')"
}

# Later steps plug in here, each registering its own cleanup with on_exit:
# bridge emulators joining the brewery, then simulated participants asking
# focus.meet.jitsi for a conference.

# Two emulated Jitsi Videobridges (tests/src/bin/bridge-emulator.rs) log in
# as the jvb account and join jvbbrewery@$XMPP_INTERNAL_MUC_DOMAIN: the
# focus's bridge pool. Their log goes to the terminal and to
# bridge-NICK.log; SIGTERM makes them leave the brewery cleanly.
start_bridges() {
    local dir=debug
    [ "$PROFILE" = dev ] || dir="$PROFILE"
    say "building the bridge emulator and the demo participants"
    cargo build --profile "$PROFILE" -p focus-tests \
        --bin bridge-emulator --bin demo-participants >&2 ||
        fail "the bridge emulator build failed"
    bridge_bin="${CARGO_TARGET_DIR:-target}/$dir/bridge-emulator"
    participants_bin="${CARGO_TARGET_DIR:-target}/$dir/demo-participants"
    [ -x "$bridge_bin" ] || fail "no binary at $bridge_bin"
    [ -x "$participants_bin" ] || fail "no binary at $participants_bin"
    bridge_pids=()
    local spec nick region relay seed
    for spec in "jvb-us-east us-east relay-us-east 1" "jvb-eu-west eu-west relay-eu-west 2"; do
        read -r nick region relay seed <<<"$spec"
        say "starting bridge emulator $nick (region $region, relay id $relay)"
        # stdin from /dev/null: at its end the emulator keeps running.
        JVB_AUTH_PASSWORD="$JVB_AUTH_PASSWORD" "$bridge_bin" \
            --port "$XMPP_PORT" --ca-cert "$PROSODY_CA_CERT" \
            --domain "$XMPP_AUTH_DOMAIN" --user jvb \
            --brewery "jvbbrewery@$XMPP_INTERNAL_MUC_DOMAIN" \
            --nick "$nick" --region "$region" --relay-id "$relay" --seed "$seed" \
            </dev/null > >(show_log "$nick" "$demo_dir/bridge-$nick.log") 2>&1 &
        bridge_pids+=("$!")
    done
    on_exit 'stop_bridges'
}

stop_bridges() {
    local pid
    for pid in "${bridge_pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || continue
        kill -TERM "$pid" 2>/dev/null || true
    done
    say "stopping the bridge emulators (SIGTERM: they leave the brewery)"
    for pid in "${bridge_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}

# Waits until the focus sees both bridges operational in its brewery.
wait_bridges() {
    say "waiting for both bridges in the focus's pool (GET /debug)"
    local deadline=$(( $(date +%s) + 30 )) answer count
    while :; do
        answer="$(rest_get /debug || true)"
        count="$(grep -o '"operational":true' <<<"$answer" | wc -l)"
        [ "$count" -ge 2 ] && break
        [ "$(date +%s)" -lt "$deadline" ] ||
            fail "the focus sees $count operational bridges after 30 s"
        sleep 0.5
    done
    say "the focus has $count operational bridges"
}

# The simulated participants (tests/src/bin/demo-participants.rs) for
# DEMO_SECONDS: the live view and the summary go to the terminal and to
# participants.log. Their exit status is the demo's verdict.
run_participants() {
    say "the focus is connected to Prosody as $FOCUS_JID; Prosody's log: $PROSODY_LOG"
    say "try meanwhile: curl -s http://127.0.0.1:$REST_PORT/debug/conferences-full"
    say "$DEMO_PARTICIPANTS participants in $DEMO_CONFERENCES conferences for $DEMO_SECONDS s (Ctrl-C stops early)"
    [ -n "$DEMO_VERBOSE" ] || : >"$demo_dir/quiet"
    local status=0
    "$participants_bin" \
        --port "$XMPP_PORT" --ca-cert "$PROSODY_CA_CERT" \
        --domain "$XMPP_DOMAIN" --muc "$XMPP_MUC_DOMAIN" \
        --focus-domain "$FOCUS_DOMAIN" --focus-jid "$FOCUS_JID" \
        --rest "http://127.0.0.1:$REST_PORT" \
        --conferences "$DEMO_CONFERENCES" --participants "$DEMO_PARTICIPANTS" \
        --regions us-east,eu-west --seconds "$DEMO_SECONDS" \
        ${DEMO_SEED:+--seed "$DEMO_SEED"} \
        | (trap '' INT; exec tee -a "$demo_dir/participants.log") || status=$?
    rm -f "$demo_dir/quiet"
    # Ctrl-C: the participants caught it and printed their summary (bash
    # does not act on a SIGINT its child handled); the rest stopped too.
    [ "$status" -ne 130 ] || exit 130
    participants_status=$status
}

# The verdict: participants, the focus's health, its exit, its log.
finish() {
    local ok=1 answer errors
    if [ "$participants_status" -ne 0 ]; then
        say "demo-participants reported a failure (status $participants_status)"
        ok=0
    fi
    answer="$(rest_get /about/health || true)"
    say "GET /about/health  -> ${answer:-no answer}"
    [ "${answer%% *}" = 200 ] || { say "the focus is not healthy at the end"; ok=0; }
    kill -0 "$focus_pid" 2>/dev/null || { say "the focus exited unexpectedly"; ok=0; }
    stop_focus || { say "the focus did not stop cleanly"; ok=0; }
    errors="$(grep -cE '(^|[[:space:]])ERROR[[:space:]]' "$demo_dir/focus.log" || true)"
    if [ "${errors:-0}" -gt 0 ]; then
        say "the focus logged $errors ERROR lines:"
        grep -E '(^|[[:space:]])ERROR[[:space:]]' "$demo_dir/focus.log" | head -n 20 >&2
        ok=0
    else
        say "the focus logged no ERROR line"
    fi
    [ "$ok" = 1 ] || fail "the demo FAILED"
    say "the demo went well"
}

# --- main ----------------------------------------------------------------
install_deps
build_focus
make_demo_dir
start_prosody
write_focus_config
start_focus
start_bridges
wait_healthy
wait_bridges
run_participants
finish

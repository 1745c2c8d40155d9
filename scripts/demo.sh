#!/usr/bin/env bash
# scripts/demo.sh: the focus doing its main job, to watch.
#
# Starts a private Prosody shaped like a docker-jitsi-meet deployment on
# loopback, writes a jicofo.conf like docker-jitsi-meet's for it, and runs the
# focus with it: the focus logs in with STARTTLS and SCRAM as
# focus@auth.meet.jitsi and serves its REST API on 127.0.0.1:$REST_PORT.
# Runs until Ctrl-C, or for DEMO_SECONDS seconds; then stops everything
# (exit status 0 when the focus was healthy and stopped cleanly).
#
# Environment (optional):
#   RUNTIME=tokio|async-std   which binary (focus / focus-async-std)
#   PROFILE=dev|release       cargo profile of the build (default dev)
#   FOCUS_BIN                 run this binary instead of building one
#   XMPP_PORT=25222 HTTP_PORT=25280 REST_PORT=8888
#   DEMO_SECONDS              stop after this many seconds
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
DEMO_SECONDS="${DEMO_SECONDS:-}"
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
    # Its log goes to the terminal, prefixed, and to focus.log. The log
    # pipeline ignores Ctrl-C so that it outlives the focus's shutdown.
    env -u SSL_CERT_DIR SSL_CERT_FILE="$PROSODY_CA_CERT" RUST_LOG="${RUST_LOG:-info}" \
        "$focus_bin" --config "$focus_conf" \
        > >(trap '' INT; tee -a "$demo_dir/focus.log" | sed -u 's/^/  [focus] /' >&2) 2>&1 &
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
    say "building the bridge emulator"
    cargo build --profile "$PROFILE" -p focus-tests --bin bridge-emulator >&2 ||
        fail "the bridge emulator build failed"
    bridge_bin="${CARGO_TARGET_DIR:-target}/$dir/bridge-emulator"
    [ -x "$bridge_bin" ] || fail "no binary at $bridge_bin"
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
            </dev/null \
            > >(trap '' INT; tee -a "$demo_dir/bridge-$nick.log" | sed -u "s/^/  [$nick] /" >&2) 2>&1 &
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

run_until_stopped() {
    say "the focus is connected to Prosody as $FOCUS_JID."
    say "try: curl -s http://127.0.0.1:$REST_PORT/about/health ; Prosody's log: $PROSODY_LOG"
    if [ -n "$DEMO_SECONDS" ]; then
        say "running for $DEMO_SECONDS s (DEMO_SECONDS)"
        local end=$(( $(date +%s) + DEMO_SECONDS ))
        while [ "$(date +%s)" -lt "$end" ]; do
            kill -0 "$focus_pid" 2>/dev/null || fail "the focus exited unexpectedly"
            sleep 1
        done
        local answer
        answer="$(rest_get /about/health || true)"
        say "GET /about/health  -> ${answer:-no answer}"
        [ "${answer%% *}" = 200 ] || fail "the focus is not healthy at the end"
        stop_focus
    else
        say "press Ctrl-C to stop"
        local status=0
        wait "$focus_pid" || status=$?
        fail "the focus exited by itself with status $status"
    fi
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
run_until_stopped

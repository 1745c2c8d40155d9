#!/usr/bin/env bash
# Start an isolated Prosody shaped like a docker-jitsi-meet deployment, for
# tests and demos. Loopback only, runs as the current user, touches nothing
# under /etc/prosody or /var/lib/prosody.
#
# Usage: start.sh [DIR]
#   DIR: a fresh or empty directory for config, certs, data, pid and log
#        (default: a new temporary directory).
# Prints KEY=value lines on stdout; use:  eval "$(start.sh)"
# Diagnostics go to stderr. Stop with stop.sh DIR.
#
# Environment (all optional):
#   XMPP_PORT=5222          c2s (STARTTLS offered)
#   COMPONENT_PORT=5347     XEP-0114 external components (listens only when
#                           FOCUS_MODE=component or EXT_COMPONENTS is set)
#   HTTP_PORT=5280          BOSH (/http-bind) and websocket (/xmpp-websocket)
#   XMPP_DOMAIN=meet.jitsi  the other host names derive from it:
#     auth.<d>, muc.<d>, internal-muc.<d>, focus.<d>
#   JICOFO_AUTH_PASSWORD    password of focus@auth.<d> (default: focuspass)
#   JVB_AUTH_PASSWORD       password of jvb@auth.<d>   (default: jvbpass)
#   EXTRA_USERS             more auth-host accounts, "user:password ..."
#   FOCUS_MODE=client       client: focus.<d> is a client_proxy component in
#                             front of focus@auth.<d> (docker-jitsi-meet)
#                           component: focus.<d> is an external component
#                             (secret FOCUS_COMPONENT_SECRET, default focussecret)
#   EXT_COMPONENTS          more external components, "host:secret ..."
#   C2S_REQUIRE_ENCRYPTION=true   false lets plain TCP clients log in
#   C2S_RATE_LIMIT          e.g. "10kb/s": enable mod_limits for c2s, with
#                           focus and jvb unlimited (as docker-jitsi-meet)
#   PROSODY_LOG_LEVEL=info  debug logs every stanza
#   PROSODY_BIN=prosody, PROSODYCTL_BIN=prosodyctl
#   START_TIMEOUT=20        seconds to wait for the ports
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:-}"
if [ -z "$dir" ]; then
    dir="$(mktemp -d -t test-prosody.XXXXXX)"
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
if [ -e "$dir/prosody.pid" ] && kill -0 "$(cat "$dir/prosody.pid" 2>/dev/null)" 2>/dev/null; then
    echo "start-test-prosody: a Prosody is already running for $dir" >&2
    exit 1
fi

XMPP_PORT="${XMPP_PORT:-5222}"
COMPONENT_PORT="${COMPONENT_PORT:-5347}"
HTTP_PORT="${HTTP_PORT:-5280}"
XMPP_DOMAIN="${XMPP_DOMAIN:-meet.jitsi}"
XMPP_AUTH_DOMAIN="auth.$XMPP_DOMAIN"
XMPP_MUC_DOMAIN="muc.$XMPP_DOMAIN"
XMPP_INTERNAL_MUC_DOMAIN="internal-muc.$XMPP_DOMAIN"
FOCUS_DOMAIN="focus.$XMPP_DOMAIN"
JICOFO_AUTH_PASSWORD="${JICOFO_AUTH_PASSWORD:-focuspass}"
JVB_AUTH_PASSWORD="${JVB_AUTH_PASSWORD:-jvbpass}"
FOCUS_MODE="${FOCUS_MODE:-client}"
FOCUS_COMPONENT_SECRET="${FOCUS_COMPONENT_SECRET:-focussecret}"
EXT_COMPONENTS="${EXT_COMPONENTS:-}"
EXTRA_USERS="${EXTRA_USERS:-}"
C2S_REQUIRE_ENCRYPTION="${C2S_REQUIRE_ENCRYPTION:-true}"
C2S_RATE_LIMIT="${C2S_RATE_LIMIT:-}"
PROSODY_LOG_LEVEL="${PROSODY_LOG_LEVEL:-info}"
PROSODY_BIN="${PROSODY_BIN:-prosody}"
PROSODYCTL_BIN="${PROSODYCTL_BIN:-prosodyctl}"
START_TIMEOUT="${START_TIMEOUT:-20}"

case "$FOCUS_MODE" in client|component) ;; *)
    echo "start-test-prosody: FOCUS_MODE must be client or component" >&2; exit 2;;
esac
case "$C2S_REQUIRE_ENCRYPTION" in 1|true|yes) C2S_REQUIRE_ENCRYPTION=true;; *) C2S_REQUIRE_ENCRYPTION=false;; esac

for tool in "$PROSODY_BIN" "$PROSODYCTL_BIN" openssl; do
    command -v "$tool" >/dev/null || { echo "start-test-prosody: $tool not found (apt-get install prosody openssl)" >&2; exit 1; }
done

for port in "$XMPP_PORT" "$COMPONENT_PORT" "$HTTP_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "start-test-prosody: port $port on 127.0.0.1 is already in use" >&2
        exit 1
    fi
done

mkdir -p "$dir/data" "$dir/certs" "$dir/plugins"
cp "$here"/plugins/*.lua "$dir/plugins/"

# --- TLS: a throwaway CA and one server certificate for every host --------
# A separate CA (instead of one self-signed leaf) lets strict verifiers such
# as rustls/webpki trust the chain: they refuse a CA certificate as the
# server's end-entity certificate.
if [ ! -s "$dir/certs/server.crt" ]; then
    (
        cd "$dir/certs"
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
            -subj "/CN=Test CA for $XMPP_DOMAIN" \
            -keyout ca.key -out ca.crt \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        cat > server.ext <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$XMPP_DOMAIN,DNS:*.$XMPP_DOMAIN,DNS:localhost,IP:127.0.0.1
EOF
        openssl req -newkey rsa:2048 -nodes -subj "/CN=$XMPP_DOMAIN" \
            -keyout server.key -out server.csr 2>/dev/null
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
            -days 30 -extfile server.ext -out server.crt 2>/dev/null
        cat server.crt ca.crt > server-chain.crt
        rm -f server.csr ca.srl
        chmod 600 ca.key server.key
    )
fi

unlimited_block=""
limits_module=""
if [ -n "$C2S_RATE_LIMIT" ]; then
    limits_module='"limits";'
    unlimited_block="limits = { c2s = { rate = \"$C2S_RATE_LIMIT\" } }
unlimited_jids = { \"focus@$XMPP_AUTH_DOMAIN\"; \"jvb@$XMPP_AUTH_DOMAIN\" }"
fi

if [ "$FOCUS_MODE" = client ]; then
    focus_block="-- Clients send conference requests to $FOCUS_DOMAIN; this proxy hands
-- them to the focus, which is logged in as focus@$XMPP_AUTH_DOMAIN.
Component \"$FOCUS_DOMAIN\" \"client_proxy\"
    target_address = \"focus@$XMPP_AUTH_DOMAIN\""
else
    focus_block="-- The focus connects itself as an XEP-0114 component.
Component \"$FOCUS_DOMAIN\"
    component_secret = \"$FOCUS_COMPONENT_SECRET\""
fi

ext_block=""
for entry in $EXT_COMPONENTS; do
    ext_block="$ext_block
Component \"${entry%%:*}\"
    component_secret = \"${entry#*:}\""
done

# Prosody opens the component port only when an external component exists.
has_components=""
if [ "$FOCUS_MODE" = component ] || [ -n "$EXT_COMPONENTS" ]; then has_components=1; fi

run_as_root="false"
[ "$(id -u)" = 0 ] && run_as_root="true"

cat > "$dir/prosody.cfg.lua" <<EOF
-- Generated by start.sh. Loopback only, isolated in $dir.
run_as_root = $run_as_root
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
plugin_paths = { "$dir/plugins" }
log = { { levels = { min = "$PROSODY_LOG_LEVEL" }, to = "file", filename = "$dir/prosody.log" } }

admins = { "focus@$XMPP_AUTH_DOMAIN"; "jvb@$XMPP_AUTH_DOMAIN" }
component_admins_as_room_owners = true
$unlimited_block

modules_enabled = {
    "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix"; "version";
    "bosh"; "websocket"; $limits_module
}
modules_disabled = { "s2s"; "offline"; "register" }
allow_registration = false

interfaces = { "127.0.0.1" }
c2s_ports = { $XMPP_PORT }
c2s_interfaces = { "127.0.0.1" }
component_ports = { $COMPONENT_PORT }
component_interfaces = { "127.0.0.1" }
http_ports = { $HTTP_PORT }
http_interfaces = { "127.0.0.1" }
https_ports = { }
s2s_ports = { }
http_default_host = "$XMPP_DOMAIN"
consider_bosh_secure = true
consider_websocket_secure = true

c2s_require_encryption = $C2S_REQUIRE_ENCRYPTION
s2s_require_encryption = false
ssl = {
    certificate = "$dir/certs/server-chain.crt";
    key = "$dir/certs/server.key";
}
storage = "internal"

-- Participants: anonymous login, as docker-jitsi-meet without ENABLE_AUTH.
VirtualHost "$XMPP_DOMAIN"
    authentication = "anonymous"
    main_muc = "$XMPP_MUC_DOMAIN"

-- Focus, bridges and other services log in here with passwords (SCRAM).
VirtualHost "$XMPP_AUTH_DOMAIN"
    authentication = "internal_hashed"

-- Bridge brewery (JvbBrewery@$XMPP_INTERNAL_MUC_DOMAIN). Only admins
-- (focus, jvb) may create rooms.
Component "$XMPP_INTERNAL_MUC_DOMAIN" "muc"
    storage = "memory"
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public_jids = true
    muc_room_cache_size = 1000
    muc_tombstones = false
    muc_room_allow_persistent = false

-- Conference rooms. Only admins (the focus) may create them; participants
-- join rooms the focus created.
Component "$XMPP_MUC_DOMAIN" "muc"
    storage = "memory"
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public_jids = true
    muc_room_cache_size = 10000
    muc_tombstones = false
    muc_room_allow_persistent = false

$focus_block
$ext_block
EOF

"$PROSODYCTL_BIN" --config "$dir/prosody.cfg.lua" check config >"$dir/check.log" 2>&1 || {
    echo "start-test-prosody: config check failed:" >&2; cat "$dir/check.log" >&2; exit 1; }

register() { # user password
    "$PROSODYCTL_BIN" --config "$dir/prosody.cfg.lua" register "$1" "$XMPP_AUTH_DOMAIN" "$2" \
        >>"$dir/register.log" 2>&1 || {
        echo "start-test-prosody: registering $1@$XMPP_AUTH_DOMAIN failed:" >&2
        cat "$dir/register.log" >&2; exit 1; }
}
register focus "$JICOFO_AUTH_PASSWORD"
register jvb "$JVB_AUTH_PASSWORD"
for entry in $EXTRA_USERS; do
    register "${entry%%:*}" "${entry#*:}"
done

# Foreground mode (-F) in its own session, so that a terminal's Ctrl-C or the
# caller's process group does not reach it. Prosody writes its own PID to
# prosody.pid (mod_posix); that file is what stop.sh uses.
setsid "$PROSODY_BIN" --config "$dir/prosody.cfg.lua" -F >"$dir/prosody.stdout" 2>&1 </dev/null &
launcher=$!

alive() { # is the launched process (or the PID in the pid file) running?
    kill -0 "$launcher" 2>/dev/null && return 0
    [ -s "$dir/prosody.pid" ] && kill -0 "$(cat "$dir/prosody.pid")" 2>/dev/null
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

deadline=$(( $(date +%s) + START_TIMEOUT ))
ready=""
while [ "$(date +%s)" -lt "$deadline" ]; do
    if ! alive; then
        echo "start-test-prosody: prosody exited early; output follows" >&2
        cat "$dir/prosody.stdout" "$dir/prosody.log" >&2 2>/dev/null || true
        exit 1
    fi
    if [ -s "$dir/prosody.pid" ] && port_open "$XMPP_PORT" && port_open "$HTTP_PORT" &&
       { [ -z "$has_components" ] || port_open "$COMPONENT_PORT"; }; then
        ready=1
        break
    fi
    sleep 0.2
done
if [ -z "$ready" ]; then
    echo "start-test-prosody: not ready after ${START_TIMEOUT}s; stopping it" >&2
    kill "$launcher" 2>/dev/null || true
    cat "$dir/prosody.stdout" "$dir/prosody.log" >&2 2>/dev/null || true
    exit 1
fi
pid="$(cat "$dir/prosody.pid")"

emit() { printf '%s=%q\n' "$1" "$2"; }
emit PROSODY_PID "$pid"
emit PROSODY_DIR "$dir"
emit PROSODY_CONFIG "$dir/prosody.cfg.lua"
emit PROSODY_LOG "$dir/prosody.log"
emit PROSODY_CA_CERT "$dir/certs/ca.crt"
emit XMPP_HOST 127.0.0.1
emit XMPP_PORT "$XMPP_PORT"
if [ -n "$has_components" ]; then
    emit COMPONENT_PORT "$COMPONENT_PORT"
fi
emit HTTP_PORT "$HTTP_PORT"
emit BOSH_URL "http://127.0.0.1:$HTTP_PORT/http-bind"
emit WEBSOCKET_URL "ws://127.0.0.1:$HTTP_PORT/xmpp-websocket"
emit XMPP_DOMAIN "$XMPP_DOMAIN"
emit XMPP_AUTH_DOMAIN "$XMPP_AUTH_DOMAIN"
emit XMPP_MUC_DOMAIN "$XMPP_MUC_DOMAIN"
emit XMPP_INTERNAL_MUC_DOMAIN "$XMPP_INTERNAL_MUC_DOMAIN"
emit FOCUS_DOMAIN "$FOCUS_DOMAIN"
emit FOCUS_MODE "$FOCUS_MODE"
emit FOCUS_JID "focus@$XMPP_AUTH_DOMAIN"
emit JICOFO_AUTH_PASSWORD "$JICOFO_AUTH_PASSWORD"
emit JVB_JID "jvb@$XMPP_AUTH_DOMAIN"
emit JVB_AUTH_PASSWORD "$JVB_AUTH_PASSWORD"
if [ "$FOCUS_MODE" = component ]; then
    emit FOCUS_COMPONENT_SECRET "$FOCUS_COMPONENT_SECRET"
fi

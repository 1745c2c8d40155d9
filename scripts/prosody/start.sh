#!/usr/bin/env bash
# scripts/prosody/start.sh: run a private Prosody laid out like a
# docker-jitsi-meet deployment, for the end-to-end tests and the demo.
#
#   eval "$(XMPP_PORT=25222 HTTP_PORT=25280 scripts/prosody/start.sh [DIR])"
#   ...
#   scripts/prosody/stop.sh "$PROSODY_DIR"
#
# DIR holds everything (config, certificates, accounts, pid file, log); it is
# created when missing, and a new temporary directory is used when omitted.
# Starting again on a DIR that was stopped reuses its CA and certificate.
# The server listens on 127.0.0.1 only, runs as the calling user and never
# reads or writes /etc/prosody or /var/lib/prosody.
#
# stdout: shell-quoted KEY=value lines (see print_result); stderr: diagnostics.
# Exits non-zero (with Prosody's log) when it is not up after START_TIMEOUT s.
#
# Knobs (environment, all optional):
#   XMPP_PORT (5222)          c2s, STARTTLS offered (and required by default)
#   HTTP_PORT (5280)          BOSH /http-bind and websocket /xmpp-websocket
#   COMPONENT_PORT (5347)     XEP-0114; opened only when a component needs it
#   XMPP_DOMAIN (meet.jitsi)  auth.<d>, muc.<d>, internal-muc.<d>, focus.<d>
#   JICOFO_AUTH_PASSWORD (focuspass), JVB_AUTH_PASSWORD (jvbpass)
#   EXTRA_USERS               more accounts on auth.<d>: "user:pass ..."
#   FOCUS_MODE (client)       client: focus@auth.<d> behind the focus.<d>
#                             client_proxy; component: focus.<d> is an
#                             external component (FOCUS_COMPONENT_SECRET)
#   EXT_COMPONENTS            more external components: "host:secret ..."
#   C2S_REQUIRE_ENCRYPTION (true)   false: plain-TCP clients may log in
#   C2S_RATE_LIMIT            e.g. 10kb/s (mod_limits; focus and jvb exempt)
#   PROSODY_LOG_LEVEL (info)  debug logs every stanza to prosody.log
#   PROSODY_NAGLE (true)      false: TCP_NODELAY on Prosody's sockets
#                             (network_settings.nagle; Prosody's default
#                             is Nagle on, which with delayed ACKs costs
#                             ~40 ms when it sends several stanzas at once)
#   PROSODY_BIN (prosody), PROSODYCTL_BIN (prosodyctl), START_TIMEOUT (20)
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
case "${PROSODY_NAGLE:-true}" in
    true|false) ;;
    *) echo "prosody/start.sh: PROSODY_NAGLE must be true or false" >&2; exit 1 ;;
esac
me="prosody/start.sh"

die() { echo "$me: $*" >&2; exit 1; }

# --- settings -------------------------------------------------------------
domain="${XMPP_DOMAIN:-meet.jitsi}"
auth_domain="auth.$domain"
muc_domain="muc.$domain"
internal_muc_domain="internal-muc.$domain"
focus_domain="focus.$domain"
xmpp_port="${XMPP_PORT:-5222}"
http_port="${HTTP_PORT:-5280}"
component_port="${COMPONENT_PORT:-5347}"
focus_password="${JICOFO_AUTH_PASSWORD:-focuspass}"
jvb_password="${JVB_AUTH_PASSWORD:-jvbpass}"
extra_users="${EXTRA_USERS:-}"
focus_mode="${FOCUS_MODE:-client}"
focus_secret="${FOCUS_COMPONENT_SECRET:-focussecret}"
ext_components="${EXT_COMPONENTS:-}"
rate_limit="${C2S_RATE_LIMIT:-}"
log_level="${PROSODY_LOG_LEVEL:-info}"
prosody_bin="${PROSODY_BIN:-prosody}"
prosodyctl_bin="${PROSODYCTL_BIN:-prosodyctl}"
start_timeout="${START_TIMEOUT:-20}"

case "${C2S_REQUIRE_ENCRYPTION:-true}" in
    1|true|yes) require_encryption=true ;;
    *) require_encryption=false ;;
esac
case "$focus_mode" in
    client|component) ;;
    *) echo "$me: FOCUS_MODE must be 'client' or 'component'" >&2; exit 2 ;;
esac
# Prosody opens its component port only when some external component exists.
with_components=false
if [ "$focus_mode" = component ] || [ -n "$ext_components" ]; then
    with_components=true
fi

# --- helpers ----------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

listened_ports() {
    echo "$xmpp_port" "$http_port"
    if $with_components; then echo "$component_port"; fi
}

prepare_dir() {
    run_dir="${1:-}"
    if [ -z "$run_dir" ]; then
        run_dir="$(mktemp -d -t focus-prosody.XXXXXX)"
    fi
    mkdir -p "$run_dir"
    run_dir="$(cd "$run_dir" && pwd)"
    local old_pid=""
    [ -s "$run_dir/prosody.pid" ] && old_pid="$(cat "$run_dir/prosody.pid")"
    if [ -n "$old_pid" ] && kill -0 "$old_pid" 2>/dev/null; then
        die "Prosody $old_pid is already running in $run_dir (stop it with stop.sh)"
    fi
    rm -f "$run_dir/prosody.pid"
    mkdir -p "$run_dir/data" "$run_dir/certs" "$run_dir/plugins"
    cp "$script_dir"/plugins/*.lua "$run_dir/plugins/"
}

check_tools() {
    local tool
    for tool in "$prosody_bin" "$prosodyctl_bin" openssl; do
        command -v "$tool" >/dev/null ||
            die "$tool is not installed (scripts/install-deps.sh, or apt-get install prosody openssl)"
    done
}

check_ports() {
    local port
    for port in $(listened_ports); do
        if port_open "$port"; then
            die "port $port on 127.0.0.1 is already in use"
        fi
    done
}

# A throwaway CA, and a server certificate it signed for every host name the
# tests use. rustls refuses a CA certificate as the end-entity certificate,
# hence two certificates rather than one self-signed leaf.
make_certificates() {
    local certs="$run_dir/certs"
    [ -s "$certs/server.crt" ] && [ -s "$certs/ca.crt" ] && return 0
    (
        cd "$certs"
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
            -subj "/CN=Throwaway test CA for $domain" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -keyout ca.key -out ca.crt 2>/dev/null
        printf '%s\n' \
            "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth" \
            "subjectAltName=DNS:$domain,DNS:*.$domain,DNS:localhost,IP:127.0.0.1" \
            >server.ext
        openssl req -newkey rsa:2048 -nodes -subj "/CN=$domain" \
            -keyout server.key -out server.csr 2>/dev/null
        openssl x509 -req -days 30 -in server.csr -CA ca.crt -CAkey ca.key \
            -CAcreateserial -extfile server.ext -out server.crt 2>/dev/null
        cat server.crt ca.crt >server-chain.crt
        rm -f server.csr ca.srl
        chmod 600 ca.key server.key
    ) || die "making the test certificates with openssl failed"
}

# A MUC component block; $1 host, $2 room cache size.
muc_component() {
    cat <<EOF
Component "$1" "muc"
    storage = "memory"
    restrict_room_creation = true -- only admins (the focus, jvb) create rooms
    muc_room_locking = false
    muc_room_default_public_jids = true
    muc_room_cache_size = $2
    muc_tombstones = false
    muc_room_allow_persistent = false
EOF
}

write_config() {
    local cfg="$run_dir/prosody.cfg.lua" extra_modules="" entry
    if [ -n "$rate_limit" ]; then extra_modules='"limits";'; fi
    {
        cat <<EOF
-- Written by scripts/prosody/start.sh. Loopback only; everything in $run_dir.
run_as_root = $([ "$(id -u)" = 0 ] && echo true || echo false)
pidfile = "$run_dir/prosody.pid"
data_path = "$run_dir/data"
plugin_paths = { "$run_dir/plugins" }
log = { { levels = { min = "$log_level" }, to = "file", filename = "$run_dir/prosody.log" } }

-- Admins own every room (component_admins_as_room_owners), as in
-- docker-jitsi-meet.
admins = { "focus@$auth_domain"; "jvb@$auth_domain" }
component_admins_as_room_owners = true

modules_enabled = {
    "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix"; "version";
    "bosh"; "websocket"; $extra_modules
}
modules_disabled = { "s2s"; "offline"; "register" }
allow_registration = false

interfaces = { "127.0.0.1" }
network_settings = { nagle = ${PROSODY_NAGLE:-true} }
c2s_interfaces = { "127.0.0.1" }
c2s_ports = { $xmpp_port }
component_interfaces = { "127.0.0.1" }
component_ports = { $component_port }
http_interfaces = { "127.0.0.1" }
http_ports = { $http_port }
https_ports = { }
s2s_ports = { }
http_default_host = "$domain"
consider_bosh_secure = true
consider_websocket_secure = true

c2s_require_encryption = $require_encryption
s2s_require_encryption = false
ssl = { certificate = "$run_dir/certs/server-chain.crt"; key = "$run_dir/certs/server.key" }
storage = "internal"
EOF
        if [ -n "$rate_limit" ]; then
            cat <<EOF

limits = { c2s = { rate = "$rate_limit" } }
unlimited_jids = { "focus@$auth_domain"; "jvb@$auth_domain" }
EOF
        fi
        cat <<EOF

-- Participants log in anonymously (docker-jitsi-meet without ENABLE_AUTH).
VirtualHost "$domain"
    authentication = "anonymous"
    main_muc = "$muc_domain"

-- The focus, bridges and other services log in with passwords (SCRAM).
VirtualHost "$auth_domain"
    authentication = "internal_hashed"

-- Brewery rooms (jvbbrewery@$internal_muc_domain).
EOF
        muc_component "$internal_muc_domain" 1000
        echo
        echo "-- Conference rooms."
        muc_component "$muc_domain" 10000
        echo
        if [ "$focus_mode" = client ]; then
            cat <<EOF
-- Conference requests to $focus_domain reach focus@$auth_domain.
Component "$focus_domain" "client_proxy"
    target_address = "focus@$auth_domain"
EOF
        else
            cat <<EOF
-- The focus connects as an external component (XEP-0114).
Component "$focus_domain"
    component_secret = "$focus_secret"
EOF
        fi
        for entry in $ext_components; do
            printf '\nComponent "%s"\n    component_secret = "%s"\n' "${entry%%:*}" "${entry#*:}"
        done
    } >"$cfg"
    "$prosodyctl_bin" --config "$cfg" check config >"$run_dir/check.log" 2>&1 || {
        echo "$me: Prosody rejects the generated configuration:" >&2
        cat "$run_dir/check.log" >&2
        exit 1
    }
}

add_account() { # user password
    "$prosodyctl_bin" --config "$run_dir/prosody.cfg.lua" register "$1" "$auth_domain" "$2" \
        >>"$run_dir/register.log" 2>&1 || {
        echo "$me: cannot create $1@$auth_domain:" >&2
        cat "$run_dir/register.log" >&2
        exit 1
    }
}

add_accounts() {
    local entry
    : >"$run_dir/register.log"
    add_account focus "$focus_password"
    add_account jvb "$jvb_password"
    for entry in $extra_users; do
        add_account "${entry%%:*}" "${entry#*:}"
    done
}

dump_logs() {
    cat "$run_dir/prosody.stdout" "$run_dir/prosody.log" >&2 2>/dev/null || true
}

# Prosody runs in the foreground (-F) of a new session, so the caller's
# terminal or process group signals do not reach it; it writes its own pid
# to prosody.pid (mod_posix), which is what stop.sh uses.
launch_and_wait() {
    setsid "$prosody_bin" --config "$run_dir/prosody.cfg.lua" -F \
        >"$run_dir/prosody.stdout" 2>&1 </dev/null &
    local child=$! deadline=$(( $(date +%s) + start_timeout )) port up
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if ! kill -0 "$child" 2>/dev/null &&
           ! { [ -s "$run_dir/prosody.pid" ] && kill -0 "$(cat "$run_dir/prosody.pid")" 2>/dev/null; }; then
            echo "$me: Prosody exited during start-up; its output:" >&2
            dump_logs
            exit 1
        fi
        # Prosody carries on without a port it could not bind; that port
        # may then answer for someone else, so treat it as busy.
        if grep -q "Failed to open server port" "$run_dir/prosody.log" 2>/dev/null; then
            kill "$child" 2>/dev/null || true
            grep "Failed to open server port" "$run_dir/prosody.log" >&2
            die "a port is already in use (Prosody could not bind it)"
        fi
        up=true
        [ -s "$run_dir/prosody.pid" ] || up=false
        for port in $(listened_ports); do
            $up && { port_open "$port" || up=false; }
        done
        if $up; then
            prosody_pid="$(cat "$run_dir/prosody.pid")"
            return 0
        fi
        sleep 0.2
    done
    echo "$me: Prosody is not listening after ${start_timeout}s; stopping it" >&2
    kill "$child" 2>/dev/null || true
    dump_logs
    exit 1
}

print_result() {
    kv() { printf '%s=%q\n' "$1" "$2"; }
    kv PROSODY_PID "$prosody_pid"
    kv PROSODY_DIR "$run_dir"
    kv PROSODY_CONFIG "$run_dir/prosody.cfg.lua"
    kv PROSODY_LOG "$run_dir/prosody.log"
    kv PROSODY_CA_CERT "$run_dir/certs/ca.crt"
    kv XMPP_HOST 127.0.0.1
    kv XMPP_PORT "$xmpp_port"
    if $with_components; then kv COMPONENT_PORT "$component_port"; fi
    kv HTTP_PORT "$http_port"
    kv BOSH_URL "http://127.0.0.1:$http_port/http-bind"
    kv WEBSOCKET_URL "ws://127.0.0.1:$http_port/xmpp-websocket"
    kv XMPP_DOMAIN "$domain"
    kv XMPP_AUTH_DOMAIN "$auth_domain"
    kv XMPP_MUC_DOMAIN "$muc_domain"
    kv XMPP_INTERNAL_MUC_DOMAIN "$internal_muc_domain"
    kv FOCUS_DOMAIN "$focus_domain"
    kv FOCUS_MODE "$focus_mode"
    kv FOCUS_JID "focus@$auth_domain"
    kv JICOFO_AUTH_PASSWORD "$focus_password"
    kv JVB_JID "jvb@$auth_domain"
    kv JVB_AUTH_PASSWORD "$jvb_password"
    if [ "$focus_mode" = component ]; then kv FOCUS_COMPONENT_SECRET "$focus_secret"; fi
}

# --- main -----------------------------------------------------------------
check_tools
prepare_dir "${1:-}"
check_ports
make_certificates
write_config
add_accounts
launch_and_wait
print_result

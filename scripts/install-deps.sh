#!/usr/bin/env bash
# scripts/install-deps.sh: install what the tests and the demo need besides
# Rust: Prosody (the XMPP server the end-to-end tests and the demo run on
# loopback) and openssl (their throwaway certificates). Debian/Ubuntu only.
#
# Does nothing when both are present. Runs apt-get directly as root, through
# sudo otherwise. Debian's prosody package starts a system Prosody on
# 5222/5280; this script stops and disables that service again: the tests
# and the demo run their own instances on other ports.
set -euo pipefail

me="install-deps.sh"
missing=()
command -v prosody >/dev/null && command -v prosodyctl >/dev/null || missing+=(prosody)
command -v openssl >/dev/null || missing+=(openssl)
if [ "${#missing[@]}" -eq 0 ]; then
    echo "$me: prosody and openssl are installed"
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "$me: apt-get not found; install ${missing[*]} by hand" >&2
    exit 1
fi
if [ "$(id -u)" = 0 ]; then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo)
else
    echo "$me: need root (or sudo) to install ${missing[*]}" >&2
    exit 1
fi
apt_get() { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }

echo "$me: installing ${missing[*]}"
# Refresh the package lists only when apt does not know the packages yet
# (a fresh container has no lists at all).
need_update=false
for pkg in "${missing[@]}"; do
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then need_update=true; fi
done
if $need_update; then
    apt_get update
fi
if ! apt_get install -y "${missing[@]}"; then
    echo "$me: install failed; refreshing the package lists and retrying" >&2
    apt_get update
    apt_get install -y "${missing[@]}"
fi

# The package may have started the system service (port 5222/5280); stop it
# and keep it from starting at boot. systemd may be absent (containers).
if [[ " ${missing[*]} " == *" prosody "* ]]; then
    "${as_root[@]}" service prosody stop >/dev/null 2>&1 || true
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        "${as_root[@]}" systemctl disable --now prosody >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null; then
        "${as_root[@]}" update-rc.d prosody disable >/dev/null 2>&1 || true
    fi
    echo "$me: the system Prosody service is stopped and disabled (the tests run their own)"
fi

for tool in prosody prosodyctl openssl; do
    command -v "$tool" >/dev/null || { echo "$me: $tool is still missing" >&2; exit 1; }
done
echo "$me: done"

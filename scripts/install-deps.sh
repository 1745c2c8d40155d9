#!/usr/bin/env bash
# Installs what the demo and the tests need on Debian: Prosody and OpenSSL.
# Safe to run again; does nothing when both are present.
set -euo pipefail

need=()
command -v prosody >/dev/null || need+=(prosody)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${need[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "install-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
# The package starts a system-wide Prosody on the default ports; the demo and
# tests run their own on other ports, so stop it to keep the machine quiet.
$sudo service prosody stop >/dev/null 2>&1 || true
$sudo systemctl disable --now prosody >/dev/null 2>&1 || true
pkill -u prosody -x lua5.4 >/dev/null 2>&1 || true

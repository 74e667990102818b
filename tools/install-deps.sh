#!/bin/sh
# Installs what mqttpki needs on Debian 12, from Debian's packages only.
#   tools/install-deps.sh          build dependencies
#   tools/install-deps.sh --test   also the real peers the interop tests talk to
# Works as root, or as a normal user with sudo.
set -eu
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
PKGS="build-essential cmake pkg-config libssl-dev openssl libcli11-dev libfmt-dev libasio-dev nlohmann-json3-dev libsqlite3-dev catch2"
if [ "${1:-}" = "--test" ]; then
  PKGS="$PKGS mosquitto mosquitto-clients python3 python3-paho-mqtt gnutls-bin curl faketime easy-rsa"
  # Node.js peers (MQTT.js, Node-RED): Debian's nodejs unless a Node.js is already installed.
  command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
if [ "${1:-}" = "--test" ]; then
  # MQTT.js 5 and Node-RED 4 at the versions in package-lock.json, from the npm registry.
  (cd "$(dirname "$0")/../tests/interop/node" && npm ci --no-audit --no-fund --loglevel=error)
fi

#!/usr/bin/env bash
# mqttpki quickstart: from nothing to a verified mutual-TLS MQTT link, in seconds.
#
#   examples/quickstart.sh [--dir DIR] [--keep]
#
# Makes, in DIR (default: a temporary folder, removed at the end unless --keep):
#   pki/            the CA folder (pki/ca.crt, pki/private/ca.key, pki/issued/, pki/ca.db)
#   server/         the broker's key and certificate for localhost / 127.0.0.1
#   pi1/            the device's key and certificate (client pi1)
#   node-red/       ca_cert.pem, pi1_cert.pem, pi1_key.pem as Node-RED's TLS config wants them
# then proves them: `mqttpki verify`, and a publish/subscribe round trip through the bundled broker on
# 127.0.0.1 with mutual TLS and full verification. Uses $MQTTPKI, else ./build/apps/mqttpki/mqttpki, else
# `mqttpki` on PATH.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
MQTTPKI=${MQTTPKI:-}
if [ -z "$MQTTPKI" ]; then
  if [ -x "$here/build/apps/mqttpki/mqttpki" ]; then MQTTPKI="$here/build/apps/mqttpki/mqttpki"
  elif command -v mqttpki >/dev/null 2>&1; then MQTTPKI=$(command -v mqttpki)
  else echo "quickstart: mqttpki not found; build it first (see README.md) or set MQTTPKI" >&2; exit 1
  fi
fi

W="" keep=0 given_dir=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) W=$2; given_dir=1; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "quickstart: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$W" ]; then
  W=$(mktemp -d "${TMPDIR:-/tmp}/mqttpki-quickstart.XXXXXX")
  [ "$keep" = 1 ] || trap 'kill "${broker_pid:-}" 2>/dev/null || true; rm -rf "$W"' EXIT
else
  mkdir -p "$W"
  trap 'kill "${broker_pid:-}" 2>/dev/null || true' EXIT
fi
if [ -e "$W/pki/ca.crt" ]; then
  echo "quickstart: $W/pki already holds a CA; pick an empty --dir" >&2; exit 1
fi

n=0
step() { n=$((n + 1)); printf '\n[%d/8] %s\n' "$n" "$*"; }
run() { printf '  $ %s\n' "$(echo "$*" | sed "s|$MQTTPKI|mqttpki|g; s|$W/||g")"; "$@" 2>&1 | sed 's/^/    /'; return "${PIPESTATUS[0]}"; }
export MQTTPKI_DIR="$W/pki"
cd "$W"
mkdir -p -m 700 server pi1  # key folders: 0700, as keys are 0600

step "Create the CA (P-256, 10 years; private key 0600 in pki/private/)"
run "$MQTTPKI" init-ca --cn "mqttpki quickstart CA" --org "Quickstart"

step "Server: key and CSR on the server, certificate signed on the CA host (SAN localhost, 127.0.0.1)"
run "$MQTTPKI" csr --new-key server/server.key --cn localhost --san DNS:localhost --san IP:127.0.0.1 --out server/server.csr
run "$MQTTPKI" sign server/server.csr --profile server --name server --out server/server.crt

step "Client pi1 (the Raspberry Pi): its CN is its MQTT identity"
run "$MQTTPKI" csr --new-key pi1/pi1.key --cn pi1 --out pi1/pi1.csr
run "$MQTTPKI" sign pi1/pi1.csr --profile client --name pi1 --out pi1/pi1.crt

step "Files for Node-RED's TLS configuration"
run "$MQTTPKI" export-pem --bundle node-red --name pi1 --key pi1/pi1.key --out-dir node-red

step "Check the set end to end (chain, validity, EKU, SAN, keys, live mutual-TLS round trip)"
run "$MQTTPKI" verify --server server --server-key server/server.key --client pi1 --client-key pi1/pi1.key --host localhost

step "Start the bundled broker on 127.0.0.1 with mutual TLS (ephemeral port)"
"$MQTTPKI" broker --port 0 --bind 127.0.0.1 --cafile pki/ca.crt --certfile server/server.crt \
  --keyfile server/server.key --require-certificate --use-identity-as-username >broker.out 2>broker.log &
broker_pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) (tls).*/\1/p' broker.out 2>/dev/null | head -n 1 || true)
  [ -n "$port" ] && break
  kill -0 "$broker_pid" 2>/dev/null || { cat broker.log >&2; exit 1; }
  sleep 0.05
done
[ -n "$port" ] || { echo "quickstart: the broker did not start within 10 s" >&2; cat broker.log >&2; exit 1; }
echo "  broker listening on 127.0.0.1:$port (tls, require_certificate)"

step "pi1 publishes a retained reading with the Node-RED files, verifying the server as 'localhost'"
tls=(--cafile node-red/ca_cert.pem --cert node-red/pi1_cert.pem --key node-red/pi1_key.pem)
run "$MQTTPKI" pub -h localhost -p "$port" "${tls[@]}" -i pi1 -q 1 -r -t sensors/pi1/temperature -m 21.5

step "A subscriber receives it over mutual TLS"
got=$("$MQTTPKI" sub -h localhost -p "$port" "${tls[@]}" -i pi1-sub -t 'sensors/#' -v -C 1 -W 10 2>sub.log)
echo "    $got"
if [ "$got" != "sensors/pi1/temperature 21.5" ]; then
  echo "quickstart: FAILED: expected 'sensors/pi1/temperature 21.5'" >&2; cat broker.log >&2; exit 1
fi
kill "$broker_pid" 2>/dev/null || true
wait "$broker_pid" 2>/dev/null || true
broker_pid=""

printf '\nPASS: a CA, a server and a client certificate, and a verified mutual-TLS MQTT link.\n'
if [ "$keep" = 1 ] || [ "$given_dir" = 1 ]; then
  printf 'Files are in %s. Next: `mqttpki template mosquitto-tls` and `mqttpki template node-red-tls`.\n' "$W"
fi

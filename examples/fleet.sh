#!/usr/bin/env bash
# mqttpki fleet example: certificates for 100 devices from CSRs, then the list.
#
#   examples/fleet.sh [--dir DIR] [--count N]
#
# Each device makes its own key and CSR (here simulated in DIR/devices/NAME/; on a real fleet this runs on
# each device and only the CSR travels), the CA host signs every CSR with the client profile, and
# `mqttpki list` shows the fleet. Uses $MQTTPKI, else ./build/apps/mqttpki/mqttpki, else `mqttpki` on PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
MQTTPKI=${MQTTPKI:-}
if [ -z "$MQTTPKI" ]; then
  if [ -x "$here/build/apps/mqttpki/mqttpki" ]; then MQTTPKI="$here/build/apps/mqttpki/mqttpki"
  else MQTTPKI=$(command -v mqttpki) || { echo "fleet: mqttpki not found; build it or set MQTTPKI" >&2; exit 1; }
  fi
fi
W="" count=100
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) W=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "fleet: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$W" ]; then W=$(mktemp -d "${TMPDIR:-/tmp}/mqttpki-fleet.XXXXXX"); trap 'rm -rf "$W"' EXIT; fi
export MQTTPKI_DIR="$W/pki"

"$MQTTPKI" init-ca --cn "Fleet CA" --org "Example Fleet" >/dev/null
start=$(date +%s.%N)
for i in $(seq -f '%03g' 1 "$count"); do
  name="sensor-$i"
  # On the device: key + CSR (the key never leaves it).
  mkdir -p -m 700 "$W/devices/$name"
  "$MQTTPKI" csr --new-key "$W/devices/$name/$name.key" --cn "$name" --out "$W/devices/$name/$name.csr" >/dev/null
  # On the CA host: sign it.
  "$MQTTPKI" sign "$W/devices/$name/$name.csr" --profile client --out "$W/devices/$name/$name.crt" >/dev/null
done
end=$(date +%s.%N)
"$MQTTPKI" list
echo
printf '%d device certificates issued in %.1f s (CLI process per step, key generation included).\n' \
  "$count" "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')"
"$MQTTPKI" list --expiring 400d --json >"$W/expiring.json"
echo "JSON for scripts: mqttpki list --json (here $(grep -c '"serial"' "$W/expiring.json") entries)"

#!/usr/bin/env bash
# mqttpki renewal walkthrough: what the daily cron job (`mqttpki template cron-renew`) does, step by step.
#
#   examples/renew.sh [--keep]
#
# In a temporary folder (removed at the end unless --keep): a CA, a device certificate that lives only 10
# days, `renew --within 5d` doing nothing (not due yet), `renew --within 30d` renewing it with the same key
# and running a deploy hook, then `list`. Also shows revocation and the CRL, which the same cron run keeps
# fresh. Uses $MQTTPKI, else ./build/apps/mqttpki/mqttpki, else `mqttpki` on PATH.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
MQTTPKI=${MQTTPKI:-}
if [ -z "$MQTTPKI" ]; then
  if [ -x "$here/build/apps/mqttpki/mqttpki" ]; then MQTTPKI="$here/build/apps/mqttpki/mqttpki"
  elif command -v mqttpki >/dev/null 2>&1; then MQTTPKI=$(command -v mqttpki)
  else echo "renew.sh: mqttpki not found; build it first (see README.md) or set MQTTPKI" >&2; exit 1
  fi
fi
keep=0
case "${1:-}" in
  --keep) keep=1 ;;
  -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
  "") ;;
  *) echo "renew.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac

W=$(mktemp -d "${TMPDIR:-/tmp}/mqttpki-renew.XXXXXX")
if [ "$keep" = 1 ]; then echo "# working in $W (kept)"; else trap 'rm -rf "$W"' EXIT; fi
cd "$W"
export MQTTPKI_DIR="$W/pki"  # every command below uses this CA folder
# The CA key passphrase comes from a file (never from the command line). Cron would use the same file.
umask 077
echo "an example passphrase, use your own" >ca-pass
umask 022

step() { printf '\n### %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }
m() { "$MQTTPKI" "$@"; }

step "A CA (its key encrypted with the passphrase file)" \
  m init-ca --cn "Example Home CA" --org Home --passphrase-file ca-pass
step "The device makes its key and CSR (the key never leaves the device)" \
  m csr --new-key pi1.key --cn pi1 --out pi1.csr
step "The CA signs it for only 10 days (short on purpose, to show renewal)" \
  m sign pi1.csr --profile client --days 10 --passphrase-file ca-pass
serial_before=$(openssl x509 -in pki/issued/pi1.crt -noout -serial 2>/dev/null | cut -d= -f2 || true)

step "Cron runs this daily; 10 days left is not within 5 days: nothing happens (exit 0)" \
  m renew --all --within 5d
step "With --quiet (as in the cron line) a no-op prints nothing at all, and needs no passphrase" \
  m renew --all --within 5d --quiet

# The deploy hook gets MQTTPKI_NAME, MQTTPKI_CERT, MQTTPKI_CA and MQTTPKI_SERIAL; in real life it copies
# the certificate to the device or reloads the broker.
hook='echo "deploy hook: copy $MQTTPKI_CERT (serial $MQTTPKI_SERIAL) to device $MQTTPKI_NAME"'
step "10 days left is within 30 days: renewed, same key, new serial; the hook runs" \
  m renew --all --within 30d --days 90 --passphrase-file ca-pass --deploy-hook "$hook"
step "Run again: the fresh certificate is not due" \
  m renew --all --within 30d --quiet
if command -v openssl >/dev/null; then
  printf '\n# serial %s -> %s; the device key still matches: ' "$serial_before" \
    "$(openssl x509 -in pki/issued/pi1.crt -noout -serial | cut -d= -f2)"
  if [ "$(openssl pkey -in pi1.key -pubout)" = "$(openssl x509 -in pki/issued/pi1.crt -noout -pubkey)" ]; then
    echo yes
  else
    echo NO
    exit 1
  fi
fi
step "The index keeps both: the old certificate superseded (it still works until it expires)" \
  m list

step "A lost device: revoke every certificate of its name" \
  m revoke pi1 --reason keyCompromise
step "The daily run publishes it: a revoked certificate missing from DIR/crl.pem (init-ca wrote an empty one) makes the CRL due; it is also re-issued once less than half its life remains (\`mqttpki crl\` does it by hand)" \
  m renew --all --within 30d --passphrase-file ca-pass

printf '\n# Install the daily job with: mqttpki template cron-renew   (or systemd-renew.service + .timer)\n'

#!/usr/bin/env bash
# README's "ten commands" run exactly as printed (the first sh block after its heading), as three hosts (the
# folders ca/, server/, pi/): keys stay in the folder that made them; then real Mosquitto runs the rendered
# template with the files `deploy` installed, and `mqttpki sub` and `mosquitto_sub` on the Pi side reach it
# as mqtt.example.com with verification on. The name resolves through a private /etc/hosts in a mount
# namespace of this test only (unshare -m), so no system file changes.
if [ -z "${MQTTPKI_IN_NS:-}" ]; then
  command -v unshare >/dev/null && unshare -m true 2>/dev/null || { echo "SKIP: unshare -m not permitted"; exit 77; }
  exec unshare -m env MQTTPKI_IN_NS=1 bash "$0" "$@"
fi
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQUITTO" ] && command -v mosquitto_sub >/dev/null || skip "mosquitto / mosquitto-clients not installed"
unset MQTTPKI_DIR MQTTPKI_PASSPHRASE
mkdir -p "$T/bin" && ln -s "$MQTTPKI" "$T/bin/mqttpki"
export PATH="$T/bin:$PATH"

awk '/^## Ten commands/{f=1} f&&/^```sh$/{b=1;next} b&&/^```$/{exit} b' "$MQTTPKI_SOURCE_DIR/README.md" >"$T/readme.sh"
expect_eq "README block: ten commands after mkdir" 10 "$(grep -vcE '^(#|mkdir |$)' "$T/readme.sh")"
mkdir "$T/hosts" && cd "$T/hosts"
expect_ok "README commands as printed" bash -euo pipefail "$T/readme.sh"

# Keys never left the host that made them.
keys_in() { grep -rl "PRIVATE KEY" "$1" | sort | xargs; }
expect_eq "CA host holds only the CA key" "ca/pki/private/ca.key" "$(keys_in ca)"
expect_eq "server holds only its key" "server/certs/server.key server/server.key" "$(keys_in server)"
expect_eq "Pi holds only its key" "pi/certs/pi1_key.pem pi/pi1.key" "$(keys_in pi)"
expect_eq "same server key installed" "$(cat server/server.key | openssl pkey | md5sum)" "$(openssl pkey <server/certs/server.key | md5sum)"

# Mosquitto with the rendered template: test ports on loopback, this user, a log file.
PLAIN=$(free_port)
TLS=$(free_port)
sed -e "s/^listener 8883\$/listener $TLS 127.0.0.1/" -e "s/^listener 1883 /listener $PLAIN /" server/mqttpki-tls.conf >server/test.conf
printf 'user %s\nlog_dest file %s\n' "$(id -un)" "$T/mosquitto.log" >>server/test.conf
expect_match "crlfile on, from deploy" "^crlfile $T/hosts/server/certs/crl.pem$" server/test.conf
"$MOSQUITTO" -c server/test.conf &
track_pid $!
wait_port "$TLS" 10 || { fail "mosquitto did not start: $(tail -5 "$T/mosquitto.log")"; finish; }
hosts=$(mktemp)
{ echo "127.0.0.1 mqtt.example.com"; cat /etc/hosts; } >"$hosts"
mount --bind "$hosts" /etc/hosts

P=(--cafile pi/certs/ca_cert.pem --cert pi/certs/pi1_cert.pem --key pi/certs/pi1_key.pem)
expect_ok "Pi publishes (retained)" "$MQTTPKI" pub -h mqtt.example.com -p "$TLS" "${P[@]}" -t home/hello -m from-pi -r -q 1
expect_ok "mqttpki sub on the Pi side" "$MQTTPKI" sub -h mqtt.example.com -p "$TLS" "${P[@]}" -t home/hello -C 1 -W 10
expect_eq "mqttpki sub got it" "from-pi" "$(cat "$T/.out")"
expect_ok "mosquitto_sub with the Pi's files" timeout 15 mosquitto_sub -h mqtt.example.com -p "$TLS" "${P[@]}" -t home/hello -C 1 -W 10
expect_eq "mosquitto_sub got it" "from-pi" "$(cat "$T/.out")"
expect_fail "a wrong host name is refused (verification is on)" "." \
  "$MQTTPKI" sub -h 127.0.0.1 -p "$TLS" "${P[@]}" -t home/hello -C 1 -W 5
# The CA host's view: Mosquitto (mutual TLS required) serves the current server certificate.
expect_ok "status --broker against Mosquitto" "$MQTTPKI" status --dir ca/pki --within 5d --broker "mqtt.example.com:$TLS" --cafile ca/pki/ca.crt
expect_match "serves the current one" "^ok +broker .*serves server serial .* \(the current one\)" "$T/.out"
umount /etc/hosts
rm -f "$hosts"
finish

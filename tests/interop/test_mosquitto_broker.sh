#!/bin/bash
# OUR pub/sub against a real Mosquitto 2.0 configured like the seed guide's TLSconfig.conf (listeners on
# free ports bound to 127.0.0.1), and the same config file loaded by OUR broker.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQUITTO" ] || skip "mosquitto not installed"
sh "$MQTTPKI_SOURCE_DIR/tests/interop/make_test_certs.sh" "$T/c" >/dev/null
C=$T/c
# Mosquitto started as root switches to the user named by 'user' (default 'mosquitto', who could not
# read files in our 0700 temp folder); 'user <ourselves>' keeps the current user (a no-op when not root).
ME=$(id -un)

# seed_config PLAIN_PORT TLS_PORT: the guide's file, paths and listener addresses adapted
seed_config() {
  cat <<CONF
# Local MQTT
listener $1 127.0.0.1

# Secure MQTT
listener $2 127.0.0.1
## This is standard and should always be this
cafile   $C/ca.crt
## These are from your installation of LE
certfile $C/server.crt
keyfile  $C/server.key
## Forces use of modern version of TLS to avoid security issues
tls_version tlsv1.2
## Force all clients in this listener to provide a valid certificate
require_certificate true
## Stop all unauthorised connections
#allow_anonymous false
## Use password file
#password_file /etc/mosquitto/passwordfile
CONF
}

PLAIN=$(free_port)
TLSP=$(free_port)
{
  echo "user $ME"
  echo "log_dest stderr"
  echo "log_type all"
  seed_config "$PLAIN" "$TLSP"
  # Mosquitto 2.0 still wants a username on a require_certificate listener: take it from the CN.
  echo "use_identity_as_username true"
} >"$T/mosquitto.conf"
"$MOSQUITTO" -c "$T/mosquitto.conf" >"$T/mosquitto.log" 2>&1 &
track_pid $!
wait_port "$TLSP" 10 || { cat "$T/mosquitto.log"; fail "mosquitto did not listen on $TLSP"; finish; exit 1; }

TLS=(-h localhost -p "$TLSP" --cafile "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key")
timeout 10 "$MQTTPKI" sub "${TLS[@]}" -t 'seed/#' -q 2 -v -C 3 >"$T/sub.out" 2>"$T/sub.err" &
sub=$!
track_pid $sub
for _ in $(seq 200); do grep -qs "subscribed to" "$T/sub.err" && break; sleep 0.05; done
expect_match "our sub subscribed on mosquitto" "subscribed to seed/# \(QoS 2\)" "$T/sub.err"
for q in 0 1 2; do
  expect_ok "our pub QoS $q to mosquitto" timeout 10 "$MQTTPKI" pub "${TLS[@]}" -t "seed/q$q" -m "m$q" -q "$q"
done
wait $sub || fail "our sub on mosquitto: $(cat "$T/sub.err")"
expect_eq "our sub got all three" "$(printf 'seed/q0 m0\nseed/q1 m1\nseed/q2 m2')" "$(cat "$T/sub.out")"

# retained, and -l (one message per line)
expect_ok "retained publish" timeout 10 "$MQTTPKI" pub "${TLS[@]}" -t seed/status -m up -r -q 1
expect_ok "retained received" timeout 10 "$MQTTPKI" sub "${TLS[@]}" -t seed/status -C 1 -W 5
expect_eq "retained payload" "up" "$(cat "$T/.out")"
printf 'a\nb\n' | timeout 10 "$MQTTPKI" pub "${TLS[@]}" -t seed/lines -l -q 1 2>"$T/lines.err" ||
  fail "pub -l: $(cat "$T/lines.err")"
expect_match "pub -l counted" "published 2 messages" "$T/lines.err"

# refused cases, with our client's explanations
expect_fail "client cert from another CA" "broker refused our client certificate: unknown CA" \
  timeout 10 "$MQTTPKI" pub -h localhost -p "$TLSP" --cafile "$C/ca.crt" --cert "$C/other-client.crt" \
  --key "$C/other-client.key" -t x -m y -q 1
expect_fail "no client certificate" "requires a client certificate|refused our client certificate" \
  timeout 10 "$MQTTPKI" pub -h localhost -p "$TLSP" --cafile "$C/ca.crt" -t x -m y -q 1
expect_fail "mosquitto's certificate against the wrong CA" "server certificate 'localhost' is not signed by" \
  timeout 10 "$MQTTPKI" pub -h localhost -p "$TLSP" --cafile "$C/other-ca.crt" --cert "$C/client.crt" \
  --key "$C/client.key" -t x -m y
expect_fail "anonymous on the plain listener (Mosquitto 2.0 default)" "not authorised \(CONNACK 5\)" \
  timeout 10 "$MQTTPKI" pub -h 127.0.0.1 -p "$PLAIN" -t x -m y
expect_ok "--insecure skips verification" timeout 10 "$MQTTPKI" pub -h 127.0.0.1 -p "$TLSP" --insecure \
  --cert "$C/client.crt" --key "$C/client.key" -t x -m y -q 1

# OUR broker loads the same seed file as is (ports aside)
P2=$(free_port)
T2=$(free_port)
seed_config "$P2" "$T2" >"$T/TLSconfig.conf"
"$MQTTPKI" broker --config "$T/TLSconfig.conf" >"$T/ours.out" 2>"$T/ours.log" &
track_pid $!
wait_port "$T2" 10 || fail "our broker did not start from the seed config: $(cat "$T/ours.log")"
expect_match "plain listener" "^listening on 127\.0\.0\.1:$P2 \(plain\)$" "$T/ours.out"
expect_match "tls listener" "^listening on 127\.0\.0\.1:$T2 \(tls\)$" "$T/ours.out"
expect_ok "our pub to our broker from the seed config" timeout 10 "$MQTTPKI" pub -h localhost -p "$T2" \
  --cafile "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key" -t s -m y -q 2
# the plain listener is on loopback and allow_anonymous is unset: anonymous allowed (see broker --help)
expect_ok "anonymous on our loopback plain listener" timeout 10 "$MQTTPKI" pub -h 127.0.0.1 -p "$P2" -t s -m y -q 1

# an unsupported directive is a one-line error with the line number
printf 'listener 1883\nauth_plugin /usr/lib/auth.so\n' >"$T/bad.conf"
expect_fail "unsupported directive" "bad\.conf:2: unsupported directive 'auth_plugin'" \
  timeout 10 "$MQTTPKI" broker --config "$T/bad.conf"
finish

#!/usr/bin/env bash
# Lifecycle simulation: Mosquitto, the daily cron line and the Pi's client all run under libfaketime with one
# shared clock offset, moved forward DAYS simulated days (one day per step). 30-day leaves, a 7-day CRL. Each
# simulated day: the cron line (`renew --all --within 10d` with a `deploy` hook that SIGHUPs Mosquitto), then
# the Pi connects (mosquitto_pub, verification on), the server certificate Mosquitto serves is compared with
# the index's current one, and a device revoked on day REVOKE_DAY must be refused from the next day on.
# Prints the simulated days and the outages; passes with zero outages.
# LIFECYCLE_RENEWAL=mqtt (test_lifecycle_mqtt.sh): the devices renew themselves over MQTT instead: `mqttpki agent`
# on the CA host (same clock), the Pis' daily `renew --via ... --within 10d` through Mosquitto, and the broker
# host's `crl --via` keeping Mosquitto's crlfile fresh; the CA's cron line then only renews the server (window 5d,
# so the devices, at 10d, always ask first) and re-issues the CRL.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
FAKELIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1 || true)
[ -n "$FAKELIB" ] || skip "libfaketime not installed (apt-get install faketime)"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQUITTO" ] && command -v mosquitto_pub >/dev/null || skip "mosquitto / mosquitto-clients not installed"
DAYS=${LIFECYCLE_DAYS:-400}
REVOKE_DAY=100
unset MQTTPKI_PASSPHRASE
export MQTTPKI_DIR="$T/ca/pki"
mkdir -p "$T/ca" "$T/srv" "$T/pi1" "$T/bad"

# One clock for every process: FAKETIME_TIMESTAMP_FILE is re-read on every time call (no cache).
echo "+0d" >"$T/clock"
fake() { LD_PRELOAD=$FAKELIB FAKETIME_TIMESTAMP_FILE="$T/clock" FAKETIME_NO_CACHE=1 "$@"; }

expect_ok "init-ca" fake "$MQTTPKI" init-ca --cn "Lifecycle CA" --crl-days 7
expect_ok "server csr" "$MQTTPKI" csr --new-key "$T/srv/server.key" --cn localhost --san DNS:localhost --out "$T/srv/server.csr"
expect_ok "pi csr" "$MQTTPKI" csr --new-key "$T/pi1/pi1.key" --cn pi1 --out "$T/pi1/pi1.csr"
expect_ok "bad csr" "$MQTTPKI" csr --new-key "$T/bad/bad.key" --cn bad --out "$T/bad/bad.csr"
expect_ok "sign server" fake "$MQTTPKI" sign "$T/srv/server.csr" --name server --profile server --days 30
expect_ok "sign pi1" fake "$MQTTPKI" sign "$T/pi1/pi1.csr" --name pi1 --profile client --days 30
expect_ok "sign bad" fake "$MQTTPKI" sign "$T/bad/bad.csr" --name bad --profile client --days 30
D=$MQTTPKI_DIR
expect_ok "deploy server" fake "$MQTTPKI" deploy --to "$T/srv/etc" --cafile "$D/ca.crt" --cert "$D/issued/server.crt" --key "$T/srv/server.key" --crl "$D/crl.pem"
expect_ok "deploy pi1" fake "$MQTTPKI" deploy --to "$T/pi1/certs" --cafile "$D/ca.crt" --cert "$D/issued/pi1.crt" --key "$T/pi1/pi1.key"
expect_ok "deploy bad" fake "$MQTTPKI" deploy --to "$T/bad/certs" --cafile "$D/ca.crt" --cert "$D/issued/bad.crt" --key "$T/bad/bad.key"
VIA=${LIFECYCLE_RENEWAL:-hooks}
if [ "$VIA" = mqtt ]; then
  # The agent's and the broker host's identities (client certificates, long-lived; keys made where they are used).
  expect_ok "agent csr" "$MQTTPKI" csr --new-key "$T/ca/agent.key" --cn ca-agent --out "$T/ca/agent.csr"
  expect_ok "sign agent" fake "$MQTTPKI" sign "$T/ca/agent.csr" --name ca-agent --profile client --days 800
  expect_ok "broker host csr" "$MQTTPKI" csr --new-key "$T/srv/host.key" --cn broker-host --out "$T/srv/host.csr"
  expect_ok "sign broker host" fake "$MQTTPKI" sign "$T/srv/host.csr" --name broker-host --profile client --days 800 \
    --out "$T/srv/host.crt"
fi

PLAIN=$(free_port)
TLS=$(free_port)
expect_ok "template" "$MQTTPKI" template mosquitto-tls --set cert_dir="$T/srv/etc" --set server_name=server \
  --set plain_port="$PLAIN" --set tls_port="$TLS" --out "$T/srv/mosquitto.conf"
sed -i "s/^listener $TLS\$/listener $TLS 127.0.0.1/" "$T/srv/mosquitto.conf"
printf 'user %s\nlog_dest file %s\n' "$(id -un)" "$T/srv/mosquitto.log" >>"$T/srv/mosquitto.conf"
# Started directly (not through the `fake` function, whose subshell would get the SIGHUPs instead).
LD_PRELOAD=$FAKELIB FAKETIME_TIMESTAMP_FILE="$T/clock" FAKETIME_NO_CACHE=1 "$MOSQUITTO" -c "$T/srv/mosquitto.conf" &
MOSQ_PID=$!
track_pid "$MOSQ_PID"
wait_port "$TLS" 10 || { fail "mosquitto did not start: $(tail -5 "$T/srv/mosquitto.log")"; finish; }

# The cron line of `mqttpki template cron-renew`, with the test's folders and a SIGHUP as the reload.
hook="$MQTTPKI deploy --to $T/srv/etc --name server --reload 'kill -HUP $MOSQ_PID'; $MQTTPKI deploy --to $T/pi1/certs --name pi1; $MQTTPKI deploy --to $T/bad/certs --name bad"
WINDOW=10d
if [ "$VIA" = mqtt ]; then
  hook="$MQTTPKI deploy --to $T/srv/etc --name server --reload 'kill -HUP $MOSQ_PID'"
  WINDOW=5d
  LD_PRELOAD=$FAKELIB FAKETIME_TIMESTAMP_FILE="$T/clock" FAKETIME_NO_CACHE=1 "$MQTTPKI" agent --broker "localhost:$TLS" \
    --cafile "$D/ca.crt" --cert "$D/issued/ca-agent.crt" --key "$T/ca/agent.key" 2>"$T/agent.log" &
  track_pid $!
fi
# The Pi's cron line (mqtt mode): renew over MQTT when 10 days are left.
device_renews() {
  local c="$T/$1/certs"
  fake timeout 60 "$MQTTPKI" renew --via "localhost:$TLS" --cafile "$c/ca.crt" --cert "$c/$1.crt" --key "$c/$1.key" \
    --within 10d --quiet --wait 20 >>"$T/devices.log" 2>&1
}
# The broker host's cron line (mqtt mode), run until it holds the CA's current CRL (the agent publishes a new
# one within a second or two of the CA's cron run; a real host just gets it on its next run).
broker_host_crl() {
  local want i
  want=$(openssl crl -in "$D/crl.pem" -noout -crlnumber | cut -d= -f2)
  for ((i = 0; i < 100; i++)); do
    fake "$MQTTPKI" crl --via "localhost:$TLS" --cafile "$T/srv/etc/ca.crt" --cert "$T/srv/host.crt" --key "$T/srv/host.key" \
      --out "$T/srv/etc/crl.pem" --deploy-hook "kill -HUP $MOSQ_PID" >>"$T/crl.log" 2>&1 || true
    [ "$(openssl crl -in "$T/srv/etc/crl.pem" -noout -crlnumber | cut -d= -f2)" = "$want" ] && return 0
    sleep 0.1
  done
  return 1
}
connects() {  # DEVICE: one publish with the device's certificate, verification on, bounded
  local c="$T/$1/certs"
  fake timeout 10 mosquitto_pub -h localhost -p "$TLS" --cafile "$c/ca.crt" --cert "$c/$1.crt" --key "$c/$1.key" \
    -t "lifecycle/$1" -m x -q 1 >/dev/null 2>&1
}
served_serial() {
  fake timeout 10 openssl s_client -connect "127.0.0.1:$TLS" -servername localhost -cert "$T/pi1/certs/pi1.crt" \
    -key "$T/pi1/certs/pi1.key" </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
outages=0 wrong_served=0 bad_accepted=0 cron_failures=0
for ((day = 1; day <= DAYS; day++)); do
  echo "+${day}d" >"$T/clock"
  if ! fake "$MQTTPKI" renew --all --within "$WINDOW" --quiet --deploy-hook "$hook" >"$T/cron.day" 2>&1; then
    cron_failures=$((cron_failures + 1))
    echo "day $day: the cron run failed: $(tail -c 600 "$T/cron.day")" >&2
  fi
  cat "$T/cron.day" >>"$T/cron.log"
  if [ "$VIA" = mqtt ]; then
    device_renews pi1 || { cron_failures=$((cron_failures + 1)); echo "day $day: pi1's renewal over MQTT failed" >&2; }
    [ "$day" -le "$REVOKE_DAY" ] && { device_renews bad || { cron_failures=$((cron_failures + 1)); echo "day $day: bad's renewal failed" >&2; }; }
    broker_host_crl || { cron_failures=$((cron_failures + 1)); echo "day $day: the broker host's CRL is not the CA's" >&2; }
  fi
  connects pi1 || { outages=$((outages + 1)); echo "day $day: pi1 could not connect" >&2; }
  [ "$(served_serial)" = "$(openssl x509 -in "$D/issued/server.crt" -noout -serial | cut -d= -f2)" ] ||
    { wrong_served=$((wrong_served + 1)); echo "day $day: Mosquitto serves an old certificate" >&2; }
  if [ "$day" -le "$REVOKE_DAY" ]; then
    connects bad || { outages=$((outages + 1)); echo "day $day: bad could not connect before its revocation" >&2; }
    [ "$day" = "$REVOKE_DAY" ] && fake "$MQTTPKI" revoke bad --reason keyCompromise >/dev/null 2>&1
  elif connects bad; then
    bad_accepted=$((bad_accepted + 1)); echo "day $day: the revoked device was accepted" >&2
  fi
done
if [ "$VIA" = mqtt ]; then
  renewed=$(grep -c "^renewed pi1" "$T/devices.log" || true)
  echo "pi1 renewed itself over MQTT $renewed times"
  [ "$renewed" -ge $((DAYS / 30)) ] && pass || fail "pi1 renewed over MQTT only $renewed times in $DAYS days"
  expect_eq "the CA's cron line never renewed pi1" 0 "$(grep -c "pi1" "$T/cron.log" || true)"
fi
echo "renewal: $VIA; simulated days: $DAYS; outages: $outages; revoked device accepted: $bad_accepted day(s); old server certificate served: $wrong_served day(s); failed cron runs: $cron_failures"
expect_eq "zero outages" 0 "$outages"
expect_eq "revoked device refused from the day after" 0 "$bad_accepted"
expect_eq "Mosquitto serves the current certificate" 0 "$wrong_served"
expect_eq "every cron run succeeded" 0 "$cron_failures"
[ "${KEEP_LOG:-}" ] && { cat "$T/cron.log"; tail -20 "$T/srv/mosquitto.log"; cat "$T/agent.log" "$T/devices.log" 2>/dev/null; }
finish

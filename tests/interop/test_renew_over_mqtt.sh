#!/usr/bin/env bash
# Renewal over MQTT (issue 12, docs/renewal-over-mqtt.md) across three hosts, as three folders: ca/ (the CA and
# its `mqttpki agent`), srv/ (the broker host) and dev/ (the Pis). Every key is made where it is used; only CSRs
# and certificates travel. With real Mosquitto as the broker, then with ours:
#   a device renews (same key) and re-keys; not due is a silent no-op; with the agent stopped a device's request
#   is queued (exit 5) and the next run after the agent started installs the retained answer; the broker host's
#   CRL copy (`crl --via`) follows a revocation.
# Then, through our broker, the refusals: each leaves nothing issued and one log line with its reason.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"  # run_broker
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQUITTO" ] || skip "mosquitto not installed"
command -v mosquitto_pub >/dev/null || skip "mosquitto-clients not installed"
unset MQTTPKI_PASSPHRASE
CA=$T/ca SRV=$T/srv DEV=$T/dev
mkdir -p -m 700 "$CA" "$SRV" "$DEV"
export MQTTPKI_DIR=$CA/pki
LOG=$T/agent.log
: >"$LOG"
PREFIX=mqttpki/v1

# ---- the hosts' keys and certificates: key and CSR on the host, signed on the CA, certificate carried back
expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Renewal CA"
issue() {  # issue HOSTDIR NAME PROFILE [csr args...]
  local dir=$1 name=$2 profile=$3; shift 3
  mkdir -p -m 700 "$dir"
  "$MQTTPKI" csr --new-key "$dir/$name.key" --cn "$name" "$@" --out "$dir/$name.csr" >/dev/null &&
    "$MQTTPKI" sign "$dir/$name.csr" --profile "$profile" --name "$name" --out "$dir/$name.crt" >/dev/null "${SIGN_ARGS[@]}"
}
SIGN_ARGS=()
expect_ok "server" issue "$SRV" server server --san DNS:localhost --san IP:127.0.0.1
expect_ok "broker host's client identity" issue "$SRV" broker-host client
expect_ok "agent identity" issue "$CA" ca-agent client
for n in pi1 pi2 pi3 pi4 gone; do expect_ok "device $n" issue "$DEV/$n" "$n" client; done
SIGN_ARGS=(--days 1)
expect_ok "device pi5 (one day)" issue "$DEV/pi5" pi5 client
SIGN_ARGS=()
cp "$CA/pki/ca.crt" "$SRV/ca.crt"
cp "$CA/pki/ca.crt" "$DEV/ca.crt"
cp "$DEV/pi1/pi1.crt" "$T/pi1-first.crt"

sha() { sha256sum "$1" | cut -d' ' -f1; }
count() { grep -cE -- "$1" "$LOG" || true; }
issued_count() { ca_records "$CA/pki" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]))'; }

# wait_log PATTERN [N]: until the agent log has at least N (default 1) lines matching PATTERN (10 s at most).
wait_log() {
  local i
  for ((i = 0; i < 200; i++)); do
    [ "$(count "$1")" -ge "${2:-1}" ] && return 0
    sleep 0.05
  done
  fail "agent log never showed /$1/ x${2:-1}: $(tail -n 5 "$LOG")"
  return 1
}
AGENT_PID=""
agent_up() {  # agent_up PORT [ARGS...]; the agent of the CA host
  local port=$1; shift
  local before
  before=$(count "waiting for requests")
  ${AGENT_WRAP:-} "$MQTTPKI" agent --broker "127.0.0.1:$port" --cafile "$CA/pki/ca.crt" --cert "$CA/ca-agent.crt" \
    --key "$CA/ca-agent.key" "$@" 2>>"$LOG" &
  AGENT_PID=$!
  track_pid "$AGENT_PID"
  wait_log "waiting for requests" $((before + 1))
}
stop_agent() {
  kill -TERM "$AGENT_PID" 2>/dev/null
  local rc=0
  wait "$AGENT_PID" || rc=$?
  expect_eq "the agent stops cleanly on SIGTERM" 0 $rc
}
device() {  # device PORT NAME [ARGS...]: the Pi's cron line
  local port=$1 name=$2; shift 2
  "$MQTTPKI" renew --via "127.0.0.1:$port" --cafile "$DEV/ca.crt" --cert "$DEV/$name/$name.crt" \
    --key "$DEV/$name/$name.key" "$@"
}
key_of_cert() { openssl x509 -in "$1" -noout -pubkey; }
key_of_key() { openssl pkey -in "$1" -pubout; }

# ---- the renewal flows, through one broker
flows() {
  local label=$1 port=$2
  agent_up "$port"
  # Same key.
  local old_serial old_key
  old_serial=$(openssl x509 -in "$DEV/pi1/pi1.crt" -noout -serial)
  old_key=$(sha "$DEV/pi1/pi1.key")
  expect_ok "$label: pi1 renews over MQTT" device "$port" pi1 --wait 15
  expect_match "$label: says what it renewed" "renewed pi1: serial" "$T/.out"
  [ "$(openssl x509 -in "$DEV/pi1/pi1.crt" -noout -serial)" != "$old_serial" ] && pass || fail "$label: pi1.crt not replaced"
  expect_eq "$label: pi1 keeps its key" "$old_key" "$(sha "$DEV/pi1/pi1.key")"
  expect_ok "$label: openssl verifies the new pi1.crt as a TLS client" \
    openssl verify -x509_strict -purpose sslclient -CAfile "$DEV/ca.crt" "$DEV/pi1/pi1.crt"
  # Re-key: the new key is made on the device and never leaves it.
  old_key=$(sha "$DEV/pi2/pi2.key")
  cp "$DEV/pi2/pi2.crt" "$T/pi2-old.crt"
  cp "$DEV/pi2/pi2.key" "$T/pi2-old.key"
  expect_ok "$label: pi2 re-keys over MQTT" device "$port" pi2 --rekey --wait 15
  [ "$(sha "$DEV/pi2/pi2.key")" != "$old_key" ] && pass || fail "$label: pi2.key not replaced"
  expect_eq "$label: pi2's certificate carries its new key" "$(key_of_key "$DEV/pi2/pi2.key")" "$(key_of_cert "$DEV/pi2/pi2.crt")"
  [ ! -e "$DEV/pi2/pi2.key.next" ] && pass || fail "$label: pi2.key.next left behind"
  expect_eq "$label: the new key is 0600" 600 "$(file_mode "$DEV/pi2/pi2.key")"
  # Not due: a silent no-op for cron.
  local before
  before=$(sha "$DEV/pi1/pi1.crt")
  expect_ok "$label: pi1 not due" device "$port" pi1 --within 30d --wait 15
  expect_eq "$label: not due prints nothing" "" "$(cat "$T/.out" "$T/.err")"
  expect_eq "$label: not due changes nothing" "$before" "$(sha "$DEV/pi1/pi1.crt")"
  # The agent is offline: the request waits in the broker (persistent session), the answer is retained.
  stop_agent
  before=$(sha "$DEV/pi1/pi1.crt")
  rc=0
  device "$port" pi1 --wait 2 >"$T/.out" 2>"$T/.err" || rc=$?
  expect_eq "$label: agent offline: exit 5 (queued)" 5 $rc
  expect_match "$label: says the request is queued" "queued on $PREFIX/renew/pi1/request" "$T/.err"
  expect_eq "$label: nothing installed while queued" "$before" "$(sha "$DEV/pi1/pi1.crt")"
  local renewed
  renewed=$(count "renewed pi1 ")
  agent_up "$port"
  wait_log "renewed pi1 " $((renewed + 1))
  expect_ok "$label: the next run installs the retained answer" device "$port" pi1 --wait 15
  [ "$(sha "$DEV/pi1/pi1.crt")" != "$before" ] && pass || fail "$label: retained answer not installed"
  expect_eq "$label: no second issuance for it" $((renewed + 1)) "$(count "renewed pi1 ")"
  # The broker host's CRL follows a revocation.
  local published
  published=$(count "published CRL")
  expect_ok "$label: revoke gone" "$MQTTPKI" revoke gone
  expect_ok "$label: crl" "$MQTTPKI" crl
  wait_log "published CRL" $((published + 1))
  expect_ok "$label: broker host installs the CRL" "$MQTTPKI" crl --via "127.0.0.1:$port" --cafile "$SRV/ca.crt" \
    --cert "$SRV/broker-host.crt" --key "$SRV/broker-host.key" --out "$SRV/crl.pem" --deploy-hook "echo reloaded >$T/hook"
  local gone_serial
  gone_serial=$(openssl x509 -in "$DEV/gone/gone.crt" -noout -serial | cut -d= -f2)
  openssl crl -in "$SRV/crl.pem" -noout -text | grep -q "$gone_serial" && pass || fail "$label: gone not in srv/crl.pem"
  expect_eq "$label: CRL hook ran" reloaded "$(cat "$T/hook" 2>/dev/null)"
  rm -f "$T/hook"
  expect_ok "$label: an up-to-date CRL is left alone" "$MQTTPKI" crl --via "127.0.0.1:$port" --cafile "$SRV/ca.crt" \
    --cert "$SRV/broker-host.crt" --key "$SRV/broker-host.key" --out "$SRV/crl.pem" --deploy-hook "echo reloaded >$T/hook"
  [ ! -e "$T/hook" ] && pass || fail "$label: hook ran for an unchanged CRL"
  stop_agent
}

# ---- Mosquitto (the settings of our mosquitto-tls template's TLS listener)
MOSQ_PORT=$(free_port)
cat >"$SRV/mosquitto.conf" <<EOF
per_listener_settings true
listener $MOSQ_PORT 127.0.0.1
cafile $SRV/ca.crt
certfile $SRV/server.crt
keyfile $SRV/server.key
tls_version tlsv1.2
require_certificate true
use_identity_as_username true
allow_anonymous false
user $(id -un)
log_dest stderr
EOF
"$MOSQUITTO" -c "$SRV/mosquitto.conf" >"$SRV/mosquitto.log" 2>&1 &
track_pid $!
wait_port "$MOSQ_PORT" 10 || fail "mosquitto did not start: $(cat "$SRV/mosquitto.log")"
flows mosquitto "$MOSQ_PORT"

# ---- our broker; it also trusts a second CA, so a stranger's device can reach the agent
OTHER=$T/other
expect_ok "a foreign CA" "$MQTTPKI" init-ca --cn "Renewal CA" --dir "$OTHER/pki"
mkdir -p -m 700 "$DEV/stranger"
expect_ok "stranger csr" "$MQTTPKI" csr --new-key "$DEV/stranger/pi3.key" --cn pi3 --out "$DEV/stranger/pi3.csr"
expect_ok "stranger sign" "$MQTTPKI" sign "$DEV/stranger/pi3.csr" --profile client --dir "$OTHER/pki" --out "$DEV/stranger/pi3.crt"
cat "$SRV/ca.crt" "$OTHER/pki/ca.crt" >"$SRV/trust.pem"
run_broker "$SRV/our-broker" --cafile "$SRV/trust.pem" --certfile "$SRV/server.crt" --keyfile "$SRV/server.key" \
  --require-certificate --use-identity-as-username || exit 1
OUR=$BROKER_PORT
flows ours "$OUR"

# ---- refusals (our broker): nothing issued, one log line each
pub() {  # pub TOPIC ARGS...: as pi3 (no ACL on this broker)
  local topic=$1; shift
  mosquitto_pub -h 127.0.0.1 -p "$OUR" --cafile "$SRV/ca.crt" --cert "$DEV/pi3/pi3.crt" --key "$DEV/pi3/pi3.key" \
    -q 1 -t "$topic" "$@"
}
agent_up "$OUR" --per-name-per-hour 1
# SIGHUP: the agent reconnects with its TLS files and the CA read again, and keeps serving.
waiting=$(count "waiting for requests")
kill -HUP "$AGENT_PID"
wait_log "reloaded the CA and the TLS files" && wait_log "waiting for requests" $((waiting + 1)) && pass
n=$(issued_count)
# Revoked signer.
expect_ok "revoke pi4" "$MQTTPKI" revoke pi4
expect_fail "revoked pi4 is refused" "refused: the signer certificate .* is revoked" device "$OUR" pi4 --wait 15
# Superseded signer: pi2's certificate and key from before its re-key.
expect_fail "superseded signer is refused" "superseded by serial" \
  "$MQTTPKI" renew --via "127.0.0.1:$OUR" --cafile "$DEV/ca.crt" --cert "$T/pi2-old.crt" --key "$T/pi2-old.key" --wait 15
rc=0
# A stranger: same CN and CA name, another CA. Not answered (it proves nothing), so the device hears nothing.
"$MQTTPKI" renew --via "127.0.0.1:$OUR" --cafile "$DEV/ca.crt" --cert "$DEV/stranger/pi3.crt" \
  --key "$DEV/stranger/pi3.key" --wait 2 >"$T/.out" 2>"$T/.err" || rc=$?
expect_eq "a foreign certificate gets no answer (exit 5)" 5 $rc
wait_log "refused pi3 .*not issued by this CA"
# Garbage and oversized payloads.
expect_ok "publish garbage" pub "$PREFIX/renew/pi3/request" -m garbage
wait_log "refused pi3 .*not a signed request"
head -c 20000 /dev/urandom >"$T/big"
expect_ok "publish 20 kB" pub "$PREFIX/renew/pi3/request" -f "$T/big"
wait_log "refused pi3 .*oversized request: 20000 bytes"
expect_eq "refusals so far issued nothing" "$n" "$(issued_count)"
# Over the rate (1 per hour here), then the same request replayed, captured off the wire by a listener.
expect_ok "pi3 renews (its one per hour)" device "$OUR" pi3 --wait 15
n=$(issued_count)
# A listener with a persistent session (-c): subscribed first (-E exits once it is), so the broker keeps the
# request for it.
listen() { mosquitto_sub -h 127.0.0.1 -p "$OUR" --cafile "$SRV/ca.crt" --cert "$DEV/pi1/pi1.crt" --key "$DEV/pi1/pi1.key" \
  -c -i eavesdropper -q 1 -t "$PREFIX/renew/pi3/request" "$@"; }
expect_ok "a listener subscribes" listen -E
expect_fail "pi3 over the rate" "over the limit of 1 requests per hour" device "$OUR" pi3 --wait 15
listen -C 1 -N -W 10 >"$T/captured.der" 2>/dev/null
[ -s "$T/captured.der" ] && pass || fail "no request captured"
expect_ok "replay the captured request" pub "$PREFIX/renew/pi3/request" -f "$T/captured.der"
wait_log "refused pi3 .*replayed request"
# A request of pi3's sent on pi1's topic.
expect_ok "pi3's request on pi1's topic" pub "$PREFIX/renew/pi1/request" -f "$T/captured.der"
wait_log "refused pi1 .*is pi3's, not pi1's"
expect_eq "refusals issued nothing" "$n" "$(issued_count)"
stop_agent

# Expired signer and stale request: the agent's clock three days ahead (libfaketime).
FAKELIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1 || true)
if [ -n "$FAKELIB" ]; then
  device "$OUR" pi3 --wait 1 >/dev/null 2>&1 || true  # queued: signed now, handled three days later
  AGENT_WRAP="env LD_PRELOAD=$FAKELIB FAKETIME=+3d" agent_up "$OUR"
  wait_log "refused pi3 .*stale request"
  expect_fail "expired pi5 is refused" "expired on" device "$OUR" pi5 --wait 15
  stop_agent
  expect_eq "expired and stale issued nothing" "$n" "$(issued_count)"
else
  echo "libfaketime not installed: expired/stale cases skipped"
fi

# ---- device side: forged retained answers install nothing (the agent is stopped)
before_crt=$(sha "$DEV/pi1/pi1.crt")
before_key=$(sha "$DEV/pi1/pi1.key")
openssl ecparam -name prime256v1 -genkey -noout -out "$T/evil.key" 2>/dev/null
openssl req -new -key "$T/evil.key" -subj /CN=pi1 -out "$T/evil.csr" 2>/dev/null
openssl x509 -req -in "$T/evil.csr" -CA "$CA/pki/ca.crt" -CAkey "$CA/pki/private/ca.key" -days 800 \
  -set_serial 0x1234 -out "$T/otherkey.crt" 2>/dev/null
openssl x509 -req -in "$T/evil.csr" -CA "$OTHER/pki/ca.crt" -CAkey "$OTHER/pki/private/ca.key" -days 800 \
  -set_serial 0x1235 -out "$T/otherca.crt" 2>/dev/null
answer() { python3 -c 'import json,sys; print(json.dumps({"version":1,"request_id":"x","certificate":open(sys.argv[1]).read()}))' "$1"; }
for forged in otherkey otherca old garbage; do
  case $forged in
    otherkey) answer "$T/otherkey.crt" >"$T/forged" ;;
    otherca) answer "$T/otherca.crt" >"$T/forged" ;;
    old) answer "$T/pi1-first.crt" >"$T/forged" ;;  # pi1's own first certificate: an old answer
    garbage) printf 'not json' >"$T/forged" ;;
  esac
  expect_ok "publish a forged answer ($forged)" pub "$PREFIX/renew/pi1/response" -r -f "$T/forged"
  rc=0
  device "$OUR" pi1 --wait 1 >"$T/.out" 2>"$T/.err" || rc=$?
  expect_eq "forged ($forged): not installed, request queued (exit 5)" 5 $rc
  expect_match "forged ($forged): says why it ignored it" "ignored an answer" "$T/.err"
done
expect_eq "forged answers left pi1.crt alone" "$before_crt" "$(sha "$DEV/pi1/pi1.crt")"
expect_eq "forged answers left pi1.key alone" "$before_key" "$(sha "$DEV/pi1/pi1.key")"
# The CMS request is readable by standard tools.
if [ -s "$T/captured.der" ]; then
  openssl cms -verify -noverify -inform DER -in "$T/captured.der" -binary -out "$T/content.der" 2>/dev/null &&
    openssl req -inform DER -in "$T/content.der" -noout -subject | grep -q "CN = pi3" && pass ||
    fail "openssl cms cannot read the request"
fi
finish

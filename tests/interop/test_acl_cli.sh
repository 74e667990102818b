#!/bin/bash
# `mqttpki pub/sub/verify` with user names and passwords (-u, -P, --pw-file, $MQTTPKI_MQTT_PASSWORD) and
# `verify --topic`, against OUR broker loading a password_file made by the real mosquitto_passwd and the
# rendered mosquitto-acl template, on a plain password listener and a mutual-TLS listener where the
# certificate CN is the user name (per_listener_settings, as the mosquitto-tls template does).
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v mosquitto_passwd >/dev/null || skip "mosquitto_passwd not installed"
sh "$MQTTPKI_SOURCE_DIR/tests/interop/make_test_certs.sh" "$T/c" >/dev/null
C=$T/c
mosquitto_passwd -c -b "$T/pw" pi1 'pi1 secret' >/dev/null
mosquitto_passwd -b "$T/pw" logger logger-pw >/dev/null
printf 'pi1 secret\n' >"$T/pi1.pass"
"$MQTTPKI" template mosquitto-acl >"$T/acl"
printf '\nuser pi1\ntopic readwrite echo/pi1\nuser pi2\ntopic read sensors/pi1/#\ntopic read commands/pi1/#\n' >>"$T/acl"

PLAIN=$(free_port)
TLSP=$(free_port)
cat >"$T/broker.conf" <<CONF
per_listener_settings true
listener $PLAIN 127.0.0.1
password_file $T/pw
acl_file $T/acl
listener $TLSP 127.0.0.1
cafile $C/ca.crt
certfile $C/server.crt
keyfile $C/server.key
require_certificate true
use_identity_as_username true
acl_file $T/acl
CONF
"$MQTTPKI" broker --config "$T/broker.conf" >"$T/broker.out" 2>"$T/broker.log" &
track_pid $!
wait_port "$TLSP" 10 || { fail "broker did not start: $(cat "$T/broker.log")"; finish; exit 1; }
P=(-h 127.0.0.1 -p "$PLAIN")
TLS=(-h localhost -p "$TLSP" --cafile "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key")

# logins
expect_ok "pub with --pw-file" timeout 10 "$MQTTPKI" pub "${P[@]}" -u pi1 --pw-file "$T/pi1.pass" -t sensors/pi1/a -m 1 -q 1
expect_ok "pub with \$MQTTPKI_MQTT_PASSWORD" env MQTTPKI_MQTT_PASSWORD='pi1 secret' timeout 10 "$MQTTPKI" pub "${P[@]}" \
  -u pi1 -t sensors/pi1/a -m 1 -q 1
expect_ok "pub with -P" timeout 10 "$MQTTPKI" pub "${P[@]}" -u logger -P logger-pw -t probe -m 1 -q 1
expect_fail "wrong password" "bad user name or password" timeout 10 "$MQTTPKI" pub "${P[@]}" -u pi1 -P nope -t x -m 1
expect_fail "unknown user" "bad user name or password" timeout 10 "$MQTTPKI" pub "${P[@]}" -u eve -P x -t x -m 1
expect_fail "anonymous refused" "not authori[sz]ed" timeout 10 "$MQTTPKI" pub "${P[@]}" -t x -m 1
expect_fail "password without user" "a password needs a user name" "$MQTTPKI" pub "${P[@]}" -P x -t x -m 1
if grep -q 'pi1 secret\|logger-pw\|nope' "$T/broker.log"; then fail "a password reached the broker log"; else pass; fi

# the logger reads what pi1 (by certificate) writes; retained, so no race with the subscription
expect_ok "pi1 by certificate writes its reading" timeout 10 "$MQTTPKI" pub "${TLS[@]}" -t sensors/pi1/temp -m 21 -q 1 -r
expect_ok "pi1 forges pi2's reading (acknowledged)" timeout 10 "$MQTTPKI" pub "${TLS[@]}" -t sensors/pi2/temp -m 99 \
  -q 1 -r
expect_ok "logger reads sensors/#" timeout 10 "$MQTTPKI" sub "${P[@]}" -u logger -P logger-pw -t sensors/# -C 1 -v -W 5
expect_eq "only pi1's own reading was kept" "sensors/pi1/temp 21" "$(cat "$T/.out")"

# verify --topic, as the device (certificate identity)
expect_ok "verify --topic: read and write" timeout 20 "$MQTTPKI" verify --broker "localhost:$TLSP" --cafile "$C/ca.crt" \
  --cert "$C/client.crt" --key "$C/client.key" --topic echo/pi1
expect_match "verify says pi1 may publish" "\[ ok \] may publish to 'echo/pi1'" "$T/.out"
expect_fail "verify --topic: write-only topic" "check\(s\) failed" timeout 20 "$MQTTPKI" verify --broker "localhost:$TLSP" \
  --cafile "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key" --topic sensors/pi1/temp --timeout 2
expect_match "verify reports the read refusal" "\[FAIL\] may read 'sensors/pi1/temp'" "$T/.out"
# with a reader (pi2 may read pi1's topics), a write-only topic and a read-only one are told apart
READER=(--reader-cert "$C/client2.crt" --reader-key "$C/client2.key")
expect_fail "verify --topic with a reader: write-only topic" "check\(s\) failed" timeout 20 "$MQTTPKI" verify \
  --broker "localhost:$TLSP" --cafile "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key" "${READER[@]}" \
  --topic sensors/pi1/temp --timeout 2
expect_match "the reader shows pi1 may publish" "\[ ok \] may publish to 'sensors/pi1/temp': the reader received" "$T/.out"
expect_fail "verify --topic with a reader: read-only topic" "check\(s\) failed" timeout 20 "$MQTTPKI" verify \
  --broker "localhost:$TLSP" --cafile "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key" "${READER[@]}" \
  --topic commands/pi1/x --timeout 2
expect_match "the reader shows pi1 may not publish" "\[FAIL\] may publish to 'commands/pi1/x'" "$T/.out"
expect_fail "verify --topic: a filter is refused" "is not a topic name" "$MQTTPKI" verify --broker "localhost:$TLSP" \
  --cafile "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key" --topic 'sensors/#'

# a missing file refuses the start, naming it
sed "s|password_file $T/pw|password_file $T/missing.pw|" "$T/broker.conf" >"$T/missing.conf"
expect_fail "missing password_file" "cannot read password_file $T/missing.pw: No such file or directory" \
  timeout 10 "$MQTTPKI" broker --config "$T/missing.conf"

# SIGHUP: a broken acl_file keeps the previous one
echo "topic bogus x" >>"$T/acl"
kill -HUP "$(jobs -p | head -n 1)" 2>/dev/null || true
for _ in $(seq 100); do grep -qs "keeping the previous password_file and acl_file" "$T/broker.log" && break; sleep 0.05; done
expect_match "bad acl_file on SIGHUP is reported" "$T/acl:[0-9]+: unknown access 'bogus'" "$T/broker.log"
expect_ok "pub still works after the failed reload" timeout 10 "$MQTTPKI" pub "${P[@]}" -u pi1 --pw-file "$T/pi1.pass" \
  -t sensors/pi1/a -m 1 -q 1
finish

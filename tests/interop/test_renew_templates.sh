#!/usr/bin/env bash
# The renewal-over-MQTT templates do what they say, run as rendered against a real Mosquitto (the mosquitto-tls
# template with the mosquitto-acl renewal lane): the `agent` unit's ExecStart serves, the `device-renew` cron
# command renews a Node-RED bundle's certificate (export-pem --bundle node-red) and runs its hook, and the
# `broker-crl` cron command installs the agent's newer CRL into Mosquitto's bundle folder and runs its hook.
# Only what cron or systemd would supply changes: `mqttpki` is the built binary, and the device's random delay
# (sleep) is left out.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"
unset MQTTPKI_PASSPHRASE
make_pki "$T" ca-agent crl-fetch
# A Raspberry Pi with Node-RED: its key made on it, a certificate due for renewal (20 days left), the bundle.
mkdir -p -m 700 "$T/pi7"
"$MQTTPKI" csr --new-key "$T/pi7/pi7.key" --cn pi7 --out "$T/pi7/pi7.csr" >/dev/null
"$MQTTPKI" sign "$T/pi7/pi7.csr" --profile client --name pi7 --days 20 --out "$T/pi7/pi7.crt" >/dev/null
"$MQTTPKI" export-pem --bundle node-red --name pi7 --cafile "$T/pki/ca.crt" --cert "$T/pi7/pi7.crt" \
  --key "$T/pi7/pi7.key" --out-dir "$T/nodered" >/dev/null 2>&1
"$MQTTPKI" template mosquitto-acl --set agent=ca-agent --out "$T/acl"
start_template_mosquitto "$T" "acl_file $T/acl" || { fail "mosquitto did not start: $(cat "$T/mosquitto.log")"; finish; exit 1; }
# The broker host's client certificate for `crl --via`, where the template expects it (next to Mosquitto's).
cp "$T/crl-fetch/crl-fetch.crt" "$T/crl-fetch/crl-fetch.key" "$T/mosq/"
# A revocation before the agent starts: it publishes CRL number 2, the broker's bundle holds number 1.
expect_ok "revoke" "$MQTTPKI" revoke wrongsan
expect_ok "new CRL" "$MQTTPKI" crl

# rendered TEXT: the command with our binary for `mqttpki`; run_rendered TEXT runs it as cron or systemd do
# (/bin/sh). The shell execs it, so a background run's $! is the command itself.
rendered() { printf '%s' "$1" | sed "s|^/usr/bin/env mqttpki |$MQTTPKI |; s|^mqttpki |$MQTTPKI |"; }
run_rendered() { sh -c "exec $(rendered "$1")"; }

"$MQTTPKI" template agent --set broker_host=127.0.0.1 --set broker_port="$MOSQ_TLS" --set ca_dir="$T/pki" \
  --set cert_file="$T/ca-agent/ca-agent.crt" --set key_file="$T/ca-agent/ca-agent.key" >"$T/agent.service"
exec_start=$(sed -n 's/^ExecStart=//p' "$T/agent.service")
sh -c "exec $(rendered "$exec_start")" 2>"$T/agent.log" &
AGENT_PID=$!
track_pid $AGENT_PID
for _ in $(seq 400); do grep -qs "waiting for requests" "$T/agent.log" && break; kill -0 $AGENT_PID || break; sleep 0.05; done
expect_match "the agent unit's command serves" "waiting for requests on mqttpki/v1/renew/\+/request" "$T/agent.log"

"$MQTTPKI" template device-renew --set broker_host=127.0.0.1 --set broker_port="$MOSQ_TLS" --set client_name=pi7 \
  --set cert_dir="$T/nodered" --set deploy_hook="touch $T/nodered-restarted" >"$T/device-cron"
job=$(grep -vE '^(#|$|[A-Z_]+=)' "$T/device-cron" | cut -d' ' -f7- | sed 's/^sleep \$(shuf -n 1 -i 0-3599) && //')
old_serial=$(openssl x509 -noout -serial -in "$T/nodered/pi7_cert.pem")
expect_ok "the device's cron command renews" run_rendered "$job"
expect_match "it says so (the only output of --quiet)" "^renewed pi7: serial" "$T/.out"
[ -f "$T/nodered-restarted" ] && pass || fail "the device's hook (restart Node-RED) did not run"
[ "$(openssl x509 -noout -serial -in "$T/nodered/pi7_cert.pem")" != "$old_serial" ] && pass ||
  fail "the Node-RED certificate file was not replaced"
expect_ok "the new certificate chains" openssl verify -CAfile "$T/nodered/ca_cert.pem" "$T/nodered/pi7_cert.pem"
rm -f "$T/nodered-restarted"
expect_ok "the next run: not due, so quiet" run_rendered "$(printf '%s' "$job" | sed 's/--within 30d/--within 1d/')"
expect_eq "quiet when not due" "" "$(cat "$T/.out" "$T/.err")"

"$MQTTPKI" template broker-crl --set broker_host=127.0.0.1 --set broker_port="$MOSQ_TLS" --set cert_dir="$T/mosq" \
  --set deploy_hook="touch $T/mosquitto-reloaded" >"$T/broker-cron"
job=$(grep -vE '^(#|$|[A-Z_]+=)' "$T/broker-cron" | cut -d' ' -f7-)
expect_ok "the broker host's cron command installs the newer CRL" run_rendered "$job"
expect_match "CRL number 2 with the revocation" "^installed CRL number 2 \(1 revoked" "$T/.out"
[ -f "$T/mosquitto-reloaded" ] && pass || fail "the broker's hook (reload Mosquitto) did not run"
expect_eq "Mosquitto's crlfile is the CA's CRL" "$(openssl crl -noout -crlnumber -in "$T/pki/crl.pem")" \
  "$(openssl crl -noout -crlnumber -in "$T/mosq/crl.pem")"
rm -f "$T/mosquitto-reloaded"
expect_ok "the next run: unchanged, so quiet" run_rendered "$job"
expect_eq "quiet when unchanged" "" "$(cat "$T/.out")"
[ -f "$T/mosquitto-reloaded" ] && fail "the hook ran for an unchanged CRL" || pass
finish

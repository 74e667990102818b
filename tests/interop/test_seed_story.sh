#!/usr/bin/env bash
# The seed story with mqttpki's files, each started in the program it is for:
#   Mosquitto runs the rendered `mosquitto-tls` template with `export-pem --bundle mosquitto` files;
#   Node-RED 4 loads the rendered `node-red-tls` flow with `export-pem --bundle node-red` files, connects with
#   "verify server certificate" ON, and its inject node's message arrives;
#   the rendered `paho-logger` (Python paho, verified TLS) logs that message to its file.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"
NODE_DIR="$MQTTPKI_SOURCE_DIR/tests/interop/node/node_modules"
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || skip "mosquitto not installed"
command -v node >/dev/null 2>&1 || skip "node not installed"
[ -f "$NODE_DIR/node-red/red.js" ] || skip "Node-RED not installed: run tools/install-deps.sh --test"
command -v curl >/dev/null 2>&1 || skip "curl not installed"

make_pki "$T" pi1 logger
start_template_mosquitto "$T" || { cat "$T/mosquitto.log" >&2; fail "mosquitto did not start with the template"; finish; exit 1; }
pass
expect_match "template: TLS listener requires certificates" "^require_certificate true" "$T/mosquitto.conf"
expect_match "template: plain listener on loopback" "^listener $MOSQ_PLAIN 127.0.0.1" "$T/mosquitto.conf"

# A local subscriber on the plain loopback listener (the seed's setting for programs on the server).
timeout 60 mosquitto_sub -h 127.0.0.1 -p "$MOSQ_PLAIN" -t test/topic -C 1 -W 50 >"$T/sub.out" 2>"$T/sub.err" &
sub=$!
track_pid $sub

# The paho logger over verified mutual TLS.
"$MQTTPKI" export-pem --bundle node-red --name logger --key "$T/logger/logger.key" --out-dir "$T/logger-certs" >/dev/null
"$MQTTPKI" template paho-logger --set broker_host=localhost --set broker_port="$MOSQ_TLS" --set client_name=logger \
  --set cert_dir="$T/logger-certs" --set log_file="$T/log.txt" --out "$T/mqtt_logger.py"
timeout 60 "$PYTHON" "$T/mqtt_logger.py" >"$T/logger.out" 2>&1 &
track_pid $!

# Node-RED with the rendered flow, editor on 127.0.0.1 only.
"$MQTTPKI" export-pem --bundle node-red --name pi1 --key "$T/pi1/pi1.key" --out-dir "$T/nr-certs" >/dev/null
mkdir -p "$T/nr"
"$MQTTPKI" template node-red-tls --set broker_host=localhost --set broker_port="$MOSQ_TLS" --set client_name=pi1 \
  --set cert_dir="$T/nr-certs" --out "$T/nr/flows.json"
NR_PORT=$(free_port)
cat >"$T/nr/settings.js" <<JS
module.exports = {
  uiHost: "127.0.0.1",
  uiPort: $NR_PORT,
  flowFile: "flows.json",
  credentialSecret: false,
  editorTheme: { tours: false },
  logging: { console: { level: "info", metrics: false, audit: false } }
};
JS
timeout 90 node "$NODE_DIR/node-red/red.js" -u "$T/nr" -s "$T/nr/settings.js" >"$T/nr.log" 2>&1 &
track_pid $!

# Bounded waits: Node-RED connected, the logger and mosquitto_sub subscribed.
for _ in $(seq 1 600); do
  grep -q "Connected to broker" "$T/nr.log" && grep -q "subscribing to" "$T/logger.out" &&
    [ "$(grep -c 'Received SUBSCRIBE' "$T/mosquitto.log")" -ge 2 ] && break
  sleep 0.1
done
expect_match "Node-RED loaded the flow and connected with verification on" "Connected to broker: pi1@mqtts://localhost:$MOSQ_TLS" "$T/nr.log"
expect_match "paho logger connected over verified TLS" "connected to localhost:$MOSQ_TLS" "$T/logger.out"
if grep -qi "error" "$T/nr.log"; then fail "Node-RED logged an error: $(grep -i error "$T/nr.log" | head -3)"; fi

# Press the inject button through Node-RED's admin API.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$NR_PORT/inject/mqttpki.inject")
expect_eq "inject node triggered" "200" "$code"
wait $sub || fail "mosquitto_sub did not receive the flow's message: $(cat "$T/sub.err")"
expect_eq "the flow's message reached Mosquitto" "helloWorld" "$(cat "$T/sub.out")"
for _ in $(seq 1 100); do grep -qs "helloWorld" "$T/log.txt" && break; sleep 0.1; done
expect_match "paho logger wrote the message to its file" "test/topic: helloWorld" "$T/log.txt"
expect_match "Mosquitto took pi1's user name from its certificate CN" "u'pi1'" "$T/mosquitto.log"

# mqttpki pub/sub and mosquitto_pub/sub through the template's TLS listener (retained, so no subscribe race).
NR=(--cafile "$T/nr-certs/ca_cert.pem" --cert "$T/nr-certs/pi1_cert.pem" --key "$T/nr-certs/pi1_key.pem")
LG=(--cafile "$T/logger-certs/ca_cert.pem" --cert "$T/logger-certs/logger_cert.pem" --key "$T/logger-certs/logger_key.pem")
expect_ok "mqttpki pub through Mosquitto's TLS listener" timeout 10 "$MQTTPKI" pub -h localhost -p "$MOSQ_TLS" "${NR[@]}" \
  -t sensors/pi1/temp -m 21.5 -q 1 -r
expect_ok "mosquitto_sub over TLS gets it" timeout 10 mosquitto_sub -h localhost -p "$MOSQ_TLS" "${LG[@]}" \
  -t sensors/pi1/temp -C 1 -W 5
expect_eq "mosquitto_sub payload" "21.5" "$(cat "$T/.out")"
expect_ok "mosquitto_pub over TLS" timeout 10 mosquitto_pub -h localhost -p "$MOSQ_TLS" "${LG[@]}" \
  -t status/logger -m up -q 1 -r
expect_ok "mqttpki sub through Mosquitto's TLS listener" timeout 10 "$MQTTPKI" sub -h localhost -p "$MOSQ_TLS" "${NR[@]}" \
  -t status/logger -C 1 -W 5
expect_eq "mqttpki sub payload" "up" "$(cat "$T/.out")"
expect_fail "the template's TLS listener refuses a client without a certificate" "certificate|handshake|refused" \
  timeout 10 "$MQTTPKI" pub -h localhost -p "$MOSQ_TLS" --cafile "$T/nr-certs/ca_cert.pem" -t x -m y -q 1
finish

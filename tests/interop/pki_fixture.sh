# Source after tests/lib.sh. make_pki DIR makes, with mqttpki itself, the certificate set of the seed story:
#   DIR/pki            the CA folder
#   DIR/server/        server.key, server.crt (SAN DNS:localhost, IP:127.0.0.1)
#   DIR/NAME/          NAME.key, NAME.crt for each client name given (default: pi1)
#   DIR/wrongsan/      a server certificate for DNS:wrong.example only (for refusal tests)
make_pki() {
  local d=$1; shift
  local clients=("$@")
  [ ${#clients[@]} -gt 0 ] || clients=(pi1)
  export MQTTPKI_DIR="$d/pki"
  mkdir -p -m 700 "$d/server" "$d/wrongsan"
  "$MQTTPKI" init-ca --cn "interop test CA" >/dev/null
  "$MQTTPKI" csr --new-key "$d/server/server.key" --cn localhost --san DNS:localhost --san IP:127.0.0.1 \
    --out "$d/server/server.csr" >/dev/null
  "$MQTTPKI" sign "$d/server/server.csr" --profile server --name server --out "$d/server/server.crt" >/dev/null
  "$MQTTPKI" csr --new-key "$d/wrongsan/wrongsan.key" --cn wrong.example --san DNS:wrong.example \
    --out "$d/wrongsan/wrongsan.csr" >/dev/null
  "$MQTTPKI" sign "$d/wrongsan/wrongsan.csr" --profile server --name wrongsan --out "$d/wrongsan/wrongsan.crt" >/dev/null
  local c
  for c in "${clients[@]}"; do
    mkdir -p -m 700 "$d/$c"
    "$MQTTPKI" csr --new-key "$d/$c/$c.key" --cn "$c" --out "$d/$c/$c.csr" >/dev/null
    "$MQTTPKI" sign "$d/$c/$c.csr" --profile client --name "$c" --out "$d/$c/$c.crt" >/dev/null
  done
}

# start_our_broker DIR: the bundled broker on 127.0.0.1 with mutual TLS; sets OUR_PORT.
start_our_broker() {
  local d=$1
  run_broker "$d/our-broker" --cafile "$d/pki/ca.crt" --certfile "$d/server/server.crt" \
    --keyfile "$d/server/server.key" --require-certificate --use-identity-as-username || return 1
  OUR_PORT=$BROKER_PORT
}

# start_template_mosquitto DIR [LINE...]: Mosquitto started with the rendered `mosquitto-tls` template, fed by
# `export-pem --bundle mosquitto`, each LINE appended (it applies to the TLS listener, the template's last, e.g.
# "acl_file DIR/acl"); sets MOSQ_PLAIN and MOSQ_TLS.
start_template_mosquitto() {
  local d=$1
  shift
  local mosquitto
  mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  [ -x "$mosquitto" ] || return 77
  "$MQTTPKI" export-pem --bundle mosquitto --name server --key "$d/server/server.key" --out-dir "$d/mosq" >/dev/null
  MOSQ_PLAIN=$(free_port)
  MOSQ_TLS=$(free_port)
  "$MQTTPKI" template mosquitto-tls --set cert_dir="$d/mosq" --set server_name=server \
    --set plain_port="$MOSQ_PLAIN" --set tls_port="$MOSQ_TLS" --out "$d/mosquitto.conf"
  # Tests only: bind the TLS listener to loopback, and stay the current user (Mosquitto started as root
  # switches to 'mosquitto', who cannot read our 0700 temp folder; the template tells users the install step).
  sed -i "s/^listener $MOSQ_TLS\$/listener $MOSQ_TLS 127.0.0.1/" "$d/mosquitto.conf"
  [ $# -eq 0 ] || printf '%s\n' "$@" >>"$d/mosquitto.conf"
  printf 'user %s\nlog_dest stderr\nlog_type all\n' "$(id -un)" >>"$d/mosquitto.conf"
  "$mosquitto" -c "$d/mosquitto.conf" >"$d/mosquitto.log" 2>&1 &
  track_pid $!
  wait_port "$MOSQ_TLS" 10 && wait_port "$MOSQ_PLAIN" 10
}

# run_broker PREFIX ARGS...: `mqttpki broker --port 0 --bind 127.0.0.1 ARGS`, stdout in PREFIX.out and stderr
# in PREFIX.log; sets BROKER_PID and BROKER_PORT (its TLS port) once it listens, or returns 1.
run_broker() {
  local name=$1
  shift
  "$MQTTPKI" broker --port 0 --bind 127.0.0.1 "$@" >"$name.out" 2>"$name.log" &
  BROKER_PID=$!
  track_pid $BROKER_PID
  BROKER_PORT=""
  local i
  for ((i = 0; i < 200; i++)); do
    BROKER_PORT=$(listening_port "$name.out")
    [ -n "$BROKER_PORT" ] && return 0
    sleep 0.05
  done
  echo "broker $name did not start: $(cat "$name.log")" >&2
  return 1
}

# start_agent LOG PORT ARGS...: `mqttpki agent --broker 127.0.0.1:PORT ARGS` (renewal over MQTT), stderr in LOG;
# returns once it is subscribed (requests published before would be lost on its first start), setting AGENT_PID.
start_agent() {
  local log=$1 port=$2 i
  shift 2
  "$MQTTPKI" agent --broker "127.0.0.1:$port" "$@" 2>"$log" &
  AGENT_PID=$!
  track_pid $AGENT_PID
  for ((i = 0; i < 400; i++)); do
    grep -qs "waiting for requests" "$log" && return 0
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "the agent did not subscribe: $(cat "$log")" >&2
  return 1
}

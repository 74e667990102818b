#!/usr/bin/env bash
# `mqttpki template`: every template renders into a file its target program accepts; variables, markers and
# refusals behave. (Mosquitto, Node-RED and paho are started with rendered templates in
# tests/interop/test_seed_story.sh.)
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"

expect_ok "template list" "$MQTTPKI" template list
cp "$T/.out" "$T/list.out"
for t in mosquitto-tls node-red-tls paho-logger cron-renew systemd-renew.service systemd-renew.timer agent device-renew \
  device-renew.service device-renew.timer broker-crl; do
  expect_match "listed: $t" "^$t " "$T/list.out"
  expect_ok "render $t with defaults" "$MQTTPKI" template "$t" --out "$T/$t.out"
  if grep -q '{{' "$T/$t.out"; then fail "$t: placeholder left: $(grep '{{' "$T/$t.out" | head -1)"; else pass; fi
done

# Node-RED flow: valid JSON with the nodes Node-RED needs, verification on.
expect_ok "node-red flow with values" "$MQTTPKI" template node-red-tls --set broker_host=mqtt.example.com \
  --set 'client_name=pi"1' --set cert_dir=/home/pi/certs --out flow.json
expect_ok "flow is JSON with tls-config verifying the server" "$PYTHON" - flow.json <<'PY'
import json, sys
nodes = {n["type"]: n for n in json.load(open(sys.argv[1]))}
tls, broker, out = nodes["tls-config"], nodes["mqtt-broker"], nodes["mqtt out"]
assert tls["verifyservercert"] is True and tls["servername"] == "mqtt.example.com", tls
assert tls["ca"] == "/home/pi/certs/ca_cert.pem" and tls["cert"] == '/home/pi/certs/pi"1_cert.pem', tls
assert broker["usetls"] is True and broker["tls"] == tls["id"] and broker["port"] == "8883", broker
assert out["broker"] == broker["id"] and nodes["inject"]["wires"] == [[out["id"]]]
PY

# paho logger: valid Python, TLS verification required.
expect_ok "paho logger with values" "$MQTTPKI" template paho-logger --set broker_host=mqtt.example.com --out logger.py
expect_ok "paho logger compiles" "$PYTHON" -m py_compile logger.py
expect_match "paho logger requires the server certificate" "cert_reqs=ssl.CERT_REQUIRED" logger.py

# Mosquitto: crlfile on by default, in cert_dir (init-ca writes an empty CRL, deploy installs it), off with
# crl_file= ; the install step for the mosquitto user is spelled out.
"$MQTTPKI" template mosquitto-tls >m1.conf
expect_match "crlfile by default" "^crlfile /etc/mosquitto/certs/crl.pem$" m1.conf
"$MQTTPKI" template mosquitto-tls --set cert_dir=/srv/certs >m3.conf
expect_match "crlfile follows cert_dir" "^crlfile /srv/certs/crl.pem$" m3.conf
"$MQTTPKI" template mosquitto-tls --set crl_file= >m4.conf
if grep -q '^crlfile' m4.conf; then fail "crlfile with crl_file="; else pass; fi
"$MQTTPKI" template node-red-tls >nr-home.json
expect_match "node-red cert_dir in the invoking user's home" "\"$HOME/mqtt_client/certs/" nr-home.json
"$MQTTPKI" template cron-renew >cron-default
expect_match "cron deploys with mqttpki deploy" "--deploy-hook 'mqttpki deploy --to /etc/mosquitto/certs --name server" cron-default
"$MQTTPKI" template systemd-renew.service >svc-default
expect_match "the unit may write where it deploys" "^ReadWritePaths=/var/lib/mqttpki /etc/mosquitto/certs$" svc-default
expect_match "the unit deploys" "deploy-hook 'mqttpki deploy --to /etc/mosquitto/certs" svc-default
expect_match "install step for the key" "install -o mosquitto -g mosquitto -m 0640" m1.conf
"$MQTTPKI" template mosquitto-tls --set crl_file=/etc/mosquitto/certs/crl.pem >m2.conf
expect_match "crlfile with crl_file" "^crlfile /etc/mosquitto/certs/crl.pem$" m2.conf
expect_match "TLS 1.2 minimum" "^tls_version tlsv1.2$" m2.conf

# cron: one job line, passphrase only when asked for.
"$MQTTPKI" template cron-renew >cron1
expect_eq "one cron job line" "1" "$(grep -c 'mqttpki renew --all --within 30d' cron1)"
if grep -q 'passphrase-file' cron1 | grep -v '^#'; then fail "passphrase without passphrase_file"; else pass; fi
"$MQTTPKI" template cron-renew --set passphrase_file=/etc/mqttpki/ca.pass --set hour=4 >cron2
expect_eq "one cron job line with passphrase" "1" "$(grep -c '^17 4 \* \* \* root mqttpki renew --all --within 30d --quiet --passphrase-file /etc/mqttpki/ca.pass' cron2)"

# systemd: the units parse (systemd-analyze where available).
"$MQTTPKI" template systemd-renew.service >mqttpki-renew.service
"$MQTTPKI" template systemd-renew.timer >mqttpki-renew.timer
expect_match "service runs the renewal" "^ExecStart=/usr/bin/env mqttpki renew --all --within 30d" mqttpki-renew.service
expect_match "timer is daily and persistent" "^Persistent=true" mqttpki-renew.timer
if command -v systemd-analyze >/dev/null 2>&1; then
  # Only syntax errors count: the machine may lack a running systemd or mqttpki on PATH.
  systemd-analyze verify --man=no "$T/mqttpki-renew.service" "$T/mqttpki-renew.timer" >sa.out 2>&1 || true
  if grep -qiE "unknown (key|section)|invalid|failed to parse|bad" sa.out; then fail "systemd-analyze: $(cat sa.out)"; else pass; fi
fi

# Renewal over MQTT (issue 12). cron_job FILE: the one job line of a cron.d file, checked: five time fields, a
# user, and a command /bin/sh parses.
cron_job() {
  local jobs
  jobs=$(grep -vE '^(#|$|[A-Z_]+=)' "$1")
  expect_eq "$1: one cron job line" "1" "$(printf '%s\n' "$jobs" | grep -c .)"
  if printf '%s\n' "$jobs" | grep -qE '^([0-9*,/-]+ ){5}[a-z_][a-z0-9_-]* [^ ]'; then pass; else fail "$1: not a cron.d line: $jobs"; fi
  if printf '%s\n' "$jobs" | grep -q '%'; then fail "$1: % in a cron line ends the command"; else pass; fi
  printf '%s\n' "$jobs" | cut -d' ' -f7- >"$1.cmd"
  expect_ok "$1: the command is sh syntax" sh -n "$1.cmd"
}
"$MQTTPKI" template device-renew --set broker_host=mqtt.local --set broker_port=9883 --set client_name=pi7 \
  --set cert_dir=/home/ada/certs --set hour=5 >device-cron
cron_job device-cron
expect_match "device: renews over MQTT with its Node-RED files, then restarts Node-RED" "^17 5 \* \* \* root sleep \\\$\(shuf -n 1 -i 0-3599\) && mqttpki renew --via mqtt.local:9883 --cafile /home/ada/certs/ca_cert.pem --cert /home/ada/certs/pi7_cert.pem --key /home/ada/certs/pi7_key.pem --prefix mqttpki/v1 --within 30d --quiet --deploy-hook 'systemctl restart nodered'$" device-cron
"$MQTTPKI" template broker-crl --set broker_host=mqtt.local --set cert_dir=/srv/mosq --set client_name=crlhost \
  --set prefix=site/a >broker-cron
cron_job broker-cron
expect_match "broker host: the CRL over MQTT into Mosquitto's crlfile, then a reload" "^23 \* \* \* \* root mqttpki crl --via mqtt.local:8883 --cafile /srv/mosq/ca.crt --cert /srv/mosq/crlhost.crt --key /srv/mosq/crlhost.key --prefix site/a --out /srv/mosq/crl.pem --deploy-hook 'systemctl reload mosquitto'$" broker-cron
"$MQTTPKI" template agent --set broker_host=mqtt.local --set ca_dir=/srv/ca --set agent_name=agent7 >mqttpki-agent.service
expect_match "agent: its files and broker" "^ExecStart=/usr/bin/env mqttpki agent --broker mqtt.local:8883 --cafile /srv/ca/ca.crt --cert /srv/ca/issued/agent7.crt --key /etc/mqttpki/agent7.key --dir /srv/ca --prefix mqttpki/v1$" mqttpki-agent.service
expect_match "agent: SIGHUP on reload" '^ExecReload=/bin/kill -HUP \$MAINPID$' mqttpki-agent.service
expect_match "agent: restarted on failure" "^Restart=on-failure$" mqttpki-agent.service
expect_match "agent: writes only the CA folder" "^ReadWritePaths=/srv/ca$" mqttpki-agent.service
if grep -qE '^(LoadCredential|.*passphrase-file)' mqttpki-agent.service; then fail "agent: passphrase without passphrase_file"; else pass; fi
"$MQTTPKI" template agent --set passphrase_file=/etc/mqttpki/ca.pass >agent-pass.service
expect_match "agent: the passphrase file is a credential" "^LoadCredential=passphrase:/etc/mqttpki/ca.pass$" agent-pass.service
expect_eq "agent: one ExecStart, reading the credential, not the file itself" "1" \
  "$(grep -c '^ExecStart=.* --passphrase-file %d/passphrase$' agent-pass.service)"
"$MQTTPKI" template device-renew.service --set cert_dir=/home/ada/certs >mqttpki-device-renew.service
"$MQTTPKI" template device-renew.timer >mqttpki-device-renew.timer
expect_match "device unit renews over MQTT" "^ExecStart=/usr/bin/env mqttpki renew --via mqtt.example.com:8883 --cafile /home/ada/certs/ca_cert.pem .* --within 30d --quiet --deploy-hook 'systemctl restart nodered'$" mqttpki-device-renew.service
expect_match "device timer spreads a fleet" "^RandomizedDelaySec=4h$" mqttpki-device-renew.timer
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify --man=no "$T/mqttpki-agent.service" "$T/mqttpki-device-renew.service" \
    "$T/mqttpki-device-renew.timer" >sa2.out 2>&1 || true
  if grep -qiE "unknown (key|section)|invalid|failed to parse|bad" sa2.out; then fail "systemd-analyze: $(cat sa2.out)"; else pass; fi
fi
# The ACL's renewal lane only with agent=NAME, under the prefix given.
"$MQTTPKI" template mosquitto-acl >acl-plain
if grep -qE '^[^#]*renew' acl-plain; then fail "renewal lane without agent="; else pass; fi
"$MQTTPKI" template mosquitto-acl --set agent=ca-agent --set prefix=site/a >acl-lane
expect_eq "acl: the device's and the agent's renewal topics" "pattern write site/a/renew/%u/request
pattern read site/a/renew/%u/response
pattern read site/a/crl
user ca-agent
topic read site/a/renew/+/request
topic write site/a/renew/+/response
topic write site/a/crl" "$(grep -E '^(pattern|topic) .*site/a|^user ca-agent$' acl-lane)"
expect_fail "prefix with a wildcard" "--set prefix=a/\+: a topic prefix is letters" "$MQTTPKI" template mosquitto-acl --set 'prefix=a/+'
expect_fail "prefix with a leading /" "without '\+', '#' or a leading or trailing '/'" "$MQTTPKI" template agent --set prefix=/a
expect_fail "agent name with a space" "the agent's name is its certificate CN" "$MQTTPKI" template mosquitto-acl --set 'agent=ca agent'

# Refusals: one line, exit 2, nothing written.
expect_fail "unknown template" "no template named 'nope'; templates: mosquitto-tls" "$MQTTPKI" template nope
expect_fail "unknown variable" "template paho-logger has no variable 'foo'; its variables: broker_host" \
  "$MQTTPKI" template paho-logger --set foo=1
expect_fail "bad --set" "write it as key=value" "$MQTTPKI" template paho-logger --set novalue
expect_fail "bad port" "a port is a number from 1 to 65535" "$MQTTPKI" template node-red-tls --set broker_port=70000
expect_fail "line break in a value" "cannot contain a line break" "$MQTTPKI" template cron-renew --set "hour=3
x"
expect_fail "existing --out without --force" "exists; use --force" "$MQTTPKI" template cron-renew --out cron1
expect_ok "--force overwrites" "$MQTTPKI" template cron-renew --out cron1 --force
finish

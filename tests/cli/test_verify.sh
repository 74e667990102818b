#!/usr/bin/env bash
# `mqttpki verify` turns a good certificate set green and each broken one red, with the right reason.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"
make_pki "$T" pi1 pi2 2>/dev/null
K=(--server-key "$T/server/server.key" --client-key "$T/pi1/pi1.key")

# verify_red DESC PATTERN ARGS...: exit 3 and a FAIL line matching PATTERN on stdout.
verify_red() {
  local desc=$1 pattern=$2; shift 2
  local rc=0
  "$MQTTPKI" verify "$@" >"$T/v.out" 2>"$T/v.err" || rc=$?
  if [ "$rc" -ne 3 ]; then fail "$desc: exit $rc, expected 3: $(cat "$T/v.err")"; return; fi
  if grep -E '^\s+\[FAIL\]' "$T/v.out" | grep -qE -- "$pattern"; then pass; else
    fail "$desc: no FAIL line matching /$pattern/: $(grep FAIL "$T/v.out")"
  fi
}

expect_ok "a good set passes, live round trip included" "$MQTTPKI" verify --server server --client pi1 "${K[@]}" --host localhost
expect_match "verdict PASS" "^PASS" "$T/.out"
expect_match "live check ran over TLS" "\[ ok \] client connects over mutual TLS.*TLSv1\.[23]" "$T/.out"
expect_ok "IP literal host" "$MQTTPKI" verify --server server --client pi1 "${K[@]}" --host 127.0.0.1
expect_ok "JSON output" "$MQTTPKI" verify --server server --client pi1 "${K[@]}" --json
expect_eq "JSON says ok" "True" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok"])' "$T/.out")"

verify_red "host not in SAN" "subjectAltName covers 'mqtt.example.com'.*SAN \[DNS:localhost, IP:127.0.0.1\]" \
  --server server --client pi1 "${K[@]}" --host mqtt.example.com
verify_red "client certificate in the server role" "server certificate has extendedKeyUsage serverAuth: clientAuth" \
  --server pi2 --server-key "$T/pi2/pi2.key" --client pi1 --client-key "$T/pi1/pi1.key" --host localhost
verify_red "server certificate in the client role" "client certificate has extendedKeyUsage clientAuth: serverAuth" \
  --server server --server-key "$T/server/server.key" --client server --client-key "$T/server/server.key"
verify_red "key does not match" "client key .* matches its certificate: the key is not the one" \
  --server server --server-key "$T/server/server.key" --client pi1 --client-key "$T/pi2/pi2.key"
verify_red "live check skipped when static checks fail" "live mutual-TLS round trip.*skipped" \
  --server server --server-key "$T/server/server.key" --client pi1 --client-key "$T/pi2/pi2.key"

# A client certificate from another CA.
mkdir -p -m 700 "$T/other"
MQTTPKI_DIR="$T/otherpki" "$MQTTPKI" init-ca --cn "Other CA" >/dev/null 2>&1
MQTTPKI_DIR="$T/otherpki" "$MQTTPKI" csr --new-key "$T/other/o.key" --cn stranger --out "$T/other/o.csr" >/dev/null
MQTTPKI_DIR="$T/otherpki" "$MQTTPKI" sign "$T/other/o.csr" --profile client --out "$T/other/o.crt" >/dev/null
verify_red "client from another CA" "client certificate chains to .*: unable to get local issuer certificate" \
  --server server --server-key "$T/server/server.key" --client-cert "$T/other/o.crt" --client-key "$T/other/o.key"

# An expired client certificate, signed by our CA key with dates in the past (openssl ca).
mkdir -p "$T/db/new"
touch "$T/db/index.txt"
echo 1000 >"$T/db/serial"
cat >"$T/ca.cnf" <<CNF
[ ca ]
default_ca = c
[ c ]
database = $T/db/index.txt
new_certs_dir = $T/db/new
serial = $T/db/serial
default_md = sha256
policy = p
x509_extensions = leaf
unique_subject = no
copy_extensions = none
[ p ]
commonName = supplied
[ leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
openssl ca -batch -config "$T/ca.cnf" -cert "$T/pki/ca.crt" -keyfile "$T/pki/private/ca.key" -in "$T/pi2/pi2.csr" \
  -startdate 20200101000000Z -enddate 20210101000000Z -notext -out "$T/expired.crt" 2>/dev/null
verify_red "expired client certificate" "client certificate is within its validity: expired on 2021-01-01" \
  --server server --server-key "$T/server/server.key" --client-cert "$T/expired.crt" --client-key "$T/pi2/pi2.key"

# Revoked (when revoke exists in this build).
if "$MQTTPKI" revoke --help >/dev/null 2>&1; then
  expect_ok "revoke pi2" "$MQTTPKI" revoke pi2 --reason keyCompromise
  verify_red "revoked client" "client certificate is not revoked: serial .* revoked" \
    --server server --server-key "$T/server/server.key" --client pi2 --client-key "$T/pi2/pi2.key"
fi

# Usage errors: one line, exit 2.
expect_fail "no server named" "--server NAME or --server-cert FILE" "$MQTTPKI" verify --client pi1
expect_fail "keys missing" "--server-key FILE and --client-key FILE" "$MQTTPKI" verify --server server --client pi1
expect_fail "unknown name" "issued/nobody.crt: no such file" "$MQTTPKI" verify --server nobody --client pi1 "${K[@]}"
expect_fail "bad --broker" "HOST:PORT" "$MQTTPKI" verify --broker nohostport --cert a --key b

# --broker against our running broker, from the device side.
start_our_broker "$T" || fail "broker start"
expect_ok "verify --broker against the bundled broker" "$MQTTPKI" verify --broker "localhost:$OUR_PORT" \
  --cafile "$T/pki/ca.crt" --cert "$T/pi1/pi1.crt" --key "$T/pi1/pi1.key"
expect_match "remote round trip" "\[ ok \] subscribe, publish and receive" "$T/.out"
good_port=$OUR_PORT
# A broker whose certificate is for wrong.example only, dialled as localhost.
"$MQTTPKI" broker --port 0 --bind 127.0.0.1 --cafile "$T/pki/ca.crt" --certfile "$T/wrongsan/wrongsan.crt" \
  --keyfile "$T/wrongsan/wrongsan.key" --require-certificate >"$T/wrong.out" 2>"$T/wrong.log" &
track_pid $!
for _ in $(seq 1 200); do grep -q "listening on" "$T/wrong.out" && break; sleep 0.05; done
wrong_port=$(listening_port "$T/wrong.out")
verify_red "remote broker whose certificate lacks the dialled name" "TLS handshake.*not in SAN \[DNS:wrong.example\]" \
  --broker "localhost:$wrong_port" --cafile "$T/pki/ca.crt" --cert "$T/pi1/pi1.crt" --key "$T/pi1/pi1.key" --timeout 5
expect_ok "good broker still fine" test -n "$good_port"

# --static-only without keys (the CA host has none): every other check runs, and it says what it skipped.
expect_ok "static checks without keys" "$MQTTPKI" verify --static-only --server server --client pi1 --host localhost
expect_match "chain checked" "\[ ok \] server certificate" "$T/.out"
expect_match "key match skipped" "^  \[skip\] server key matches its certificate \(no server key given\)" "$T/.out"
expect_match "live skipped" "^  \[skip\] live mutual-TLS round trip" "$T/.out"
expect_match "verdict says so" "^PASS: every check run passed; 3 skipped" "$T/.out"
verify_red "static-only still finds a wrong host" "SAN|host" --static-only --server server --client pi1 --host wrong.example
finish

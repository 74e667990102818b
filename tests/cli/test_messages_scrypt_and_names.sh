#!/usr/bin/env bash
# Issue 13 item 16: an scrypt-encrypted key whose parameters are within mqttpki's work cap (N*r*p <= 2^22) but
# need more memory than OpenSSL's 32 MiB decoder cap cannot be opened by any passphrase: say that and the fix,
# not "wrong passphrase". The same key with its parameters as written still opens, and a wrong passphrase is
# still called one. Names with non-ASCII text print as UTF-8 whatever string type holds them (UTF8String,
# BMPString, Latin-1 T61String, and T61String holding UTF-8 as many tools write it).
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
command -v openssl >/dev/null || skip "openssl CLI not installed"
unset MQTTPKI_PASSPHRASE
printf 'secret\n' >"$T/pass"
printf 'nope\n' >"$T/wrong"
chmod 600 "$T/pass" "$T/wrong"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/k.pem" 2>/dev/null
openssl pkcs8 -topk8 -scrypt -scrypt_N 16384 -scrypt_r 8 -scrypt_p 1 -in "$T/k.pem" -out "$T/enc.pem" \
  -passout file:"$T/pass"
chmod 600 "$T/enc.pem"
expect_ok "the scrypt key opens" "$MQTTPKI" inspect "$T/enc.pem" --passphrase-file "$T/pass"
expect_fail "a wrong passphrase is called one" "wrong passphrase" \
  "$MQTTPKI" csr --key "$T/enc.pem" --cn dev --passphrase-file "$T/wrong" --out "$T/x.csr"

# r=8 -> r=64: N*r*p = 2^20 (within the work cap), memory 128*r*(N+2) = 128 MiB (over OpenSSL's 32 MiB).
"$PYTHON" - "$T/enc.pem" "$T/big.pem" <<'PY'
import base64, sys
lines = open(sys.argv[1]).read().splitlines()
der = base64.b64decode("".join(l for l in lines if not l.startswith("-----")))
params = b"\x02\x02\x40\x00\x02\x01\x08\x02\x01\x01"  # INTEGER N=16384, INTEGER r=8, INTEGER p=1
assert der.count(params) == 1, "scrypt parameters not found"
der = der.replace(params, b"\x02\x02\x40\x00\x02\x01\x40\x02\x01\x01")
b64 = base64.b64encode(der).decode()
body = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
open(sys.argv[2], "w").write("-----BEGIN ENCRYPTED PRIVATE KEY-----\n%s\n-----END ENCRYPTED PRIVATE KEY-----\n" % body)
PY
chmod 600 "$T/big.pem"
expect_ok "openssl sees r=64" sh -c "openssl asn1parse -in '$T/big.pem' | grep -q 'INTEGER *:40\$'"
for cmd in "csr --key $T/big.pem --cn dev --out $T/y.csr" "export-pem $T/big.pem --out $T/y.pem"; do
  # shellcheck disable=SC2086
  expect_fail "${cmd%% *}: memory over OpenSSL's cap is not a wrong passphrase" \
    "big.pem: the encrypted private key asks for scrypt N=16384 r=64 p=1, which needs 128 MiB, more than the 32 MiB OpenSSL allows.*re-encrypt it" \
    "$MQTTPKI" $cmd --passphrase-file "$T/pass"
  expect_eq "${cmd%% *}: no output file" no "$([ -e "$T/y.csr" ] || [ -e "$T/y.pem" ] && echo yes || echo no)"
done

# --- names: one certificate per string type; the T61String one holds UTF-8 bytes
conf() { printf '[req]\ndistinguished_name=dn\nstring_mask=%s\n[dn]\n' "$1" >"$T/req.cnf"; }
conf utf8only
openssl req -new -x509 -key "$T/k.pem" -subj "/CN=Café 温度/O=Zürich" -utf8 -config "$T/req.cnf" -days 2 -out "$T/utf8.crt"
conf pkix
openssl req -new -x509 -key "$T/k.pem" -subj "/CN=Café 温度/O=Zürich" -utf8 -config "$T/req.cnf" -days 2 -out "$T/bmp.crt"
conf nombstr
openssl req -new -x509 -key "$T/k.pem" -subj "/CN=Café/O=Zürich" -utf8 -config "$T/req.cnf" -days 2 -out "$T/latin1.crt"
"$PYTHON" - "$T/latin1.crt" "$T/t61utf8.der" <<'PY'
import base64, sys
der = base64.b64decode("".join(l for l in open(sys.argv[1]).read().splitlines() if not l.startswith("-----")))
latin1 = b"\x14\x06Z\xfcrich"  # T61String "Zürich" in Latin-1, as OpenSSL writes it
assert latin1 in der, "T61String not found"
open(sys.argv[2], "wb").write(der.replace(latin1, b"\x14\x06Z\xc3\xbcric"))  # the same 6 bytes: "Züric" in UTF-8
PY
expect_ok "asn1: BMPString" sh -c "openssl asn1parse -in '$T/bmp.crt' | grep -q BMPSTRING"
expect_ok "asn1: T61String" sh -c "openssl asn1parse -in '$T/latin1.crt' | grep -q T61STRING"
for f in utf8.crt:"O=Zürich,CN=Café 温度" bmp.crt:"O=Zürich,CN=Café 温度" latin1.crt:"O=Zürich,CN=Café" \
  t61utf8.der:"O=Züric,CN=Café"; do
  file=${f%%:*} want=${f#*:}
  expect_ok "inspect $file" "$MQTTPKI" inspect "$T/$file"
  cp "$T/.out" "$T/inspect.txt"
  expect_ok "$file: subject printed as UTF-8" grep -qxF "  subject       $want" "$T/inspect.txt"
  expect_ok "inspect --json $file" "$MQTTPKI" inspect --json "$T/$file"
  expect_eq "$file: JSON subject" "$want" "$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["subject"])' "$T/.out")"
done
finish

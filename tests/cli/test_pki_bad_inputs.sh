#!/usr/bin/env bash
# Every bad input of the PKI commands: each one refused with a one-line error naming the file and the fix,
# a non-zero exit, and no partial output.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
export MQTTPKI_DIR="$T/pki"
unset MQTTPKI_PASSPHRASE

# expect_one_line: the last command's stderr is exactly one line
expect_one_line() { expect_eq "$1: one-line error" 1 "$(wc -l <"$T/.err")"; }

expect_fail "sign without a CA" "no CA in $T/pki; create one with .mqttpki init-ca --cn NAME --dir $T/pki." \
  "$MQTTPKI" sign nothing.csr --profile client
expect_one_line "no CA"
expect_ok "init-ca" "$MQTTPKI" init-ca --cn "Test CA"
expect_match "unencrypted CA key warned" "not encrypted" "$T/.err"
expect_ok "client key" "$MQTTPKI" gen-key --out c.key
expect_ok "client csr" "$MQTTPKI" csr --key c.key --cn dev1 --out c.csr

# --- missing / unreadable files
expect_fail "missing CSR" "missing.csr: no such file" "$MQTTPKI" sign missing.csr --profile client
expect_one_line "missing CSR"
expect_fail "missing key for csr" "nokey.pem: no such file" "$MQTTPKI" csr --key nokey.pem --cn x
expect_fail "missing inspect input" "gone.crt: no such file" "$MQTTPKI" inspect gone.crt
expect_fail "missing passphrase file" "nopass.txt: no such file" \
  "$MQTTPKI" gen-key --out p.key --passphrase-file nopass.txt
expect_ok "no key written after a missing passphrase file" test ! -e p.key
if [ "$(id -u)" -ne 0 ]; then
  cp c.csr locked.csr && chmod 000 locked.csr
  expect_fail "unreadable CSR" "locked.csr: permission denied" "$MQTTPKI" sign locked.csr --profile client
else
  echo "note: running as root, the unreadable-file case is skipped (root reads mode 000 files)"
fi

# --- not PEM/DER of the expected kind
expect_fail "key given as CSR" "c.key: expected a certificate request" "$MQTTPKI" sign c.key --profile client
expect_one_line "key given as CSR"
expect_fail "CSR given as key" "c.csr: expected a private key" "$MQTTPKI" csr --key c.csr --cn x --out x.csr
expect_ok "no CSR written" test ! -e x.csr
head -c 300 /dev/urandom >garbage.bin
expect_fail "garbage as CSR" "garbage.bin: " "$MQTTPKI" sign garbage.bin --profile client
expect_fail "garbage inspect" "garbage.bin: not a certificate, CSR or private key" "$MQTTPKI" inspect garbage.bin
expect_fail "garbage export" "garbage.bin: not a certificate, private key or CSR" "$MQTTPKI" export-pem garbage.bin
: >empty.pem
expect_fail "empty file" "empty.pem: empty file" "$MQTTPKI" sign empty.pem --profile client
expect_fail "CA cert as CSR" "expected a certificate request" "$MQTTPKI" sign pki/ca.crt --profile client

openssl pkey -in c.key -pubout -out pub.pem
expect_fail "public key given as CSR" "pub.pem: expected a certificate request" "$MQTTPKI" sign pub.pem --profile client
expect_fail "public key given to export-pem" "pub.pem: holds a public key, not a certificate, private key or CSR" \
  "$MQTTPKI" export-pem pub.pem
expect_ok "inspect a public key" "$MQTTPKI" inspect pub.pem
expect_match "public key type" "EC P-256" "$T/.out"

# --- truncated PEM
head -c 200 c.csr >trunc.csr
expect_fail "truncated CSR" "trunc.csr: .*(truncated|damaged)" "$MQTTPKI" sign trunc.csr --profile client
expect_one_line "truncated CSR"
head -n 3 pki/ca.crt >trunc.crt
expect_fail "truncated cert inspect" "trunc.crt: .*(truncated|damaged)" "$MQTTPKI" inspect trunc.crt

# --- CSR with a bad signature: flip the last byte of the DER (inside the signature value)
openssl req -in c.csr -outform DER -out c.der
python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[-1]^=0x01; open(sys.argv[2],"wb").write(b)' c.der bad.der
expect_fail "CSR with bad signature" "bad.der: .*signature does not verify" "$MQTTPKI" sign bad.der --profile client
expect_one_line "bad signature"
expect_ok "inspect shows the bad signature" "$MQTTPKI" inspect bad.der
expect_match "inspect: INVALID" "INVALID" "$T/.out"

# --- weak and unknown keys
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.key 2>/dev/null
openssl req -new -key rsa1024.key -subj /CN=weak -out rsa1024.csr
expect_fail "RSA 1024 CSR refused" "rsa1024.csr: .*RSA 1024.*2048" "$MQTTPKI" sign rsa1024.csr --profile client
expect_fail "RSA 1024 key refused by csr" "rsa1024.key: .*2048" "$MQTTPKI" csr --key rsa1024.key --cn weak --out w.csr
openssl ecparam -name secp224r1 -genkey -noout -out p224.key
openssl req -new -key p224.key -subj /CN=p224 -out p224.csr
expect_fail "secp224r1 CSR refused" "p224.csr: .*(224|secp224r1)" "$MQTTPKI" sign p224.csr --profile client
expect_fail "gen-key unknown curve" "--key-type 'secp224r1'" "$MQTTPKI" gen-key --key-type secp224r1 --out k224.key
expect_ok "no key written for an unknown curve" test ! -e k224.key
expect_fail "init-ca rsa refused" "--key-type 'rsa'" "$MQTTPKI" init-ca --cn X --key-type rsa --dir other
expect_ok "nothing created for a refused init-ca" test ! -e other

# --- SAN syntax
expect_fail "SAN without a type" "--san 'mqtt.example.com'" "$MQTTPKI" csr --key c.key --cn s --san mqtt.example.com --out s.csr
expect_one_line "SAN without type"
expect_fail "SAN with a space" "--san 'DNS:bad host'" "$MQTTPKI" csr --key c.key --cn s --san "DNS:bad host" --out s.csr
expect_fail "SAN bad IP" "--san 'IP:999.1.1.1'" "$MQTTPKI" csr --key c.key --cn s --san IP:999.1.1.1 --out s.csr
expect_fail "SAN unknown type" "--san 'foo:bar'" "$MQTTPKI" csr --key c.key --cn s --san foo:bar --out s.csr
expect_ok "no CSR written for bad SANs" test ! -e s.csr
expect_fail "sign: bad extra SAN" "--san 'DNS:'" "$MQTTPKI" sign c.csr --profile server --san DNS:
expect_fail "server without SAN" "c.csr: a server certificate needs a subject alternative name.*--san DNS:dev1" \
  "$MQTTPKI" sign c.csr --profile server

# --- bad subject flags
expect_fail "country of 3 letters" "--cn/--org/--country: .*2 letters" "$MQTTPKI" init-ca --cn X --country DEU --dir bad-c
expect_ok "nothing created for a bad country" test ! -e bad-c
expect_fail "empty CN" "--cn/--org/--country: .*CN" "$MQTTPKI" csr --key c.key --cn "" --out empty-cn.csr

# --- existing outputs without --force
expect_fail "gen-key over an existing key" "c.key exists; use --force to overwrite" "$MQTTPKI" gen-key --out c.key
expect_one_line "gen-key exists"
expect_fail "csr over an existing CSR" "c.csr exists; use --force" "$MQTTPKI" csr --key c.key --cn dev1 --out c.csr
expect_fail "csr --new-key over an existing key" "c.key exists; use --force" \
  "$MQTTPKI" csr --new-key c.key --cn dev9 --out dev9.csr
expect_ok "no CSR written when the key exists" test ! -e dev9.csr
echo keep >taken.crt
expect_fail "sign --out exists" "taken.crt exists; use --force" "$MQTTPKI" sign c.csr --profile client --out taken.crt
expect_eq "taken.crt untouched" keep "$(cat taken.crt)"
ca_records pki >records.json
expect_ok "no certificate recorded for the refused sign" python3 -c '
import json; assert json.load(open("records.json"))["certificates"]==[]'
expect_ok "sign dev1" "$MQTTPKI" sign c.csr --profile client --out dev1.crt
expect_fail "same name again" "issued/dev1.crt exists and is valid.*--force" "$MQTTPKI" sign c.csr --profile client
expect_ok "sign --force supersedes" "$MQTTPKI" sign c.csr --profile client --force
expect_ok "list shows superseded" "$MQTTPKI" list
expect_match "superseded row" "^dev1 .* superseded" "$T/.out"
expect_match "valid row" "^dev1 .* valid" "$T/.out"

# --- a client CN held by another valid certificate with a different key
expect_ok "other key" "$MQTTPKI" csr --new-key o.key --cn dev1 --out o.csr
expect_fail "CN clash" "o.csr: CN 'dev1' is already the MQTT user name of valid certificate 'dev1'" \
  "$MQTTPKI" sign o.csr --profile client --name dev1-b
expect_ok "same CN, same key, other name is fine" "$MQTTPKI" sign c.csr --profile client --name dev1-spare
expect_fail "CN that is not a file name" "CN 'my device' cannot be a file name.*--name" \
  bash -c '"$0" csr --key c.key --cn "my device" --out md.csr >/dev/null && "$0" sign md.csr --profile client' "$MQTTPKI"
expect_fail "bad --name" "'../x' cannot be a certificate name" "$MQTTPKI" sign c.csr --profile client --name ../x

# --- init-ca twice: refused, nothing touched; --force keeps a backup
snapshot() { (cd pki && find . -type f ! -name .lock -print0 | sort -z | xargs -0 sha256sum); }
before=$(snapshot)
expect_fail "init-ca twice" "already holds a CA.*--force" "$MQTTPKI" init-ca --cn "Second CA"
expect_one_line "init-ca twice"
expect_eq "CA folder untouched" "$before" "$(snapshot)"
old_fp=$(openssl x509 -in pki/ca.crt -noout -fingerprint -sha256)
expect_ok "init-ca --force" "$MQTTPKI" init-ca --cn "Second CA" --force
expect_match "backup announced" "backup" "$T/.out"
backup=$(ls -d pki/backup/*/ | head -n1)
expect_ok "backup holds the old CA" test -s "${backup}ca.crt" -a -s "${backup}private/ca.key" -a -s "${backup}ca.db"
expect_eq "backup is the old certificate" "$old_fp" "$(openssl x509 -in "${backup}ca.crt" -noout -fingerprint -sha256)"
expect_ok "backup keeps issued certificates" test -s "${backup}issued/dev1.crt"
expect_eq "backup key still 0600" 600 "$(file_mode "${backup}private/ca.key")"
ca_records pki >records.json
expect_ok "new index is empty" python3 -c 'import json; assert json.load(open("records.json"))["certificates"]==[]'

# --- CA key not matching ca.crt
cp pki/private/ca.key saved_ca.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out pki/private/ca.key
expect_fail "CA key mismatch" "pki/private/ca.key does not match .*pki/ca.crt" "$MQTTPKI" sign c.csr --profile client --name m
expect_one_line "CA key mismatch"
cp saved_ca.key pki/private/ca.key

# --- passphrases
printf 'right one\n' >good.pass
printf 'wrong one\n' >bad.pass
expect_ok "encrypted CA" "$MQTTPKI" init-ca --cn "Enc CA" --dir enc --passphrase-file good.pass
expect_fail "wrong passphrase" "enc/private/ca.key: wrong passphrase" \
  "$MQTTPKI" sign c.csr --profile client --dir enc --passphrase-file bad.pass
expect_one_line "wrong passphrase"
expect_fail "wrong passphrase from env" "wrong passphrase" \
  env MQTTPKI_PASSPHRASE="nope" "$MQTTPKI" sign c.csr --profile client --dir enc
expect_fail "no passphrase given" "enc/private/ca.key: the CA key is encrypted; give its passphrase with --passphrase-file" \
  "$MQTTPKI" sign c.csr --profile client --dir enc </dev/null
ca_records enc >records.json
expect_ok "nothing issued by the failed signs" python3 -c 'import json; assert json.load(open("records.json"))["certificates"]==[]'
if grep -q "right one\|wrong one" "$T/.err" "$T/.out"; then fail "a passphrase was printed"; else pass; fi
printf '\n' >empty.pass
expect_fail "empty passphrase file" "empty.pass: empty passphrase" "$MQTTPKI" gen-key --out e.key --passphrase-file empty.pass
expect_ok "gen-key encrypted" "$MQTTPKI" gen-key --out enc.key --passphrase-file good.pass
expect_fail "csr with the wrong key passphrase" "enc.key: wrong passphrase" \
  "$MQTTPKI" csr --key enc.key --cn e --out e.csr --passphrase-file bad.pass
expect_ok "csr with the right key passphrase" "$MQTTPKI" csr --key enc.key --cn e --out e.csr --passphrase-file good.pass

# --- an expired CA (made with `openssl ca -selfsign` and explicit dates in the past)
mkdir -p old/db/newcerts old/pki/private
touch old/db/index.txt
echo 1000 >old/db/serial
cat >old/ca.cnf <<'CNF'
[ ca ]
default_ca = old_ca
[ old_ca ]
database = old/db/index.txt
new_certs_dir = old/db/newcerts
serial = old/db/serial
default_md = sha256
policy = policy_any
x509_extensions = v3_ca
unique_subject = no
[ policy_any ]
commonName = supplied
[ v3_ca ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
CNF
openssl ecparam -name prime256v1 -genkey -noout -out old/pki/private/ca.key
chmod 700 old/pki/private && chmod 600 old/pki/private/ca.key
openssl req -new -key old/pki/private/ca.key -subj "/CN=Expired CA" -out old/ca.csr
openssl ca -batch -config old/ca.cnf -selfsign -keyfile old/pki/private/ca.key -in old/ca.csr \
  -startdate 20200101000000Z -enddate 20210101000000Z -notext -out old/pki/ca.crt 2>/dev/null
expect_match "the openssl-made CA really expired" "notAfter=Jan  1 00:00:00 2021 GMT" \
  <(openssl x509 -in old/pki/ca.crt -noout -enddate)
expect_fail "expired CA asked to sign" "old/pki/ca.crt expired on 2021-01-01" \
  "$MQTTPKI" sign c.csr --profile client --dir old/pki
expect_one_line "expired CA"
expect_ok "nothing issued by the expired CA" test ! -e old/pki/issued/dev1.crt

# --- a CSR asking for CA:TRUE and keyCertSign gets a plain client certificate, and the user is told
mkdir -p -m 700 evil
openssl ecparam -name prime256v1 -genkey -noout -out evil/k.pem
openssl req -new -key evil/k.pem -subj "/CN=evil" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=keyCertSign" -out evil/e.csr 2>/dev/null
expect_ok "sign a CSR that asks for CA:TRUE" "$MQTTPKI" sign evil/e.csr --profile client --out evil/e.crt
expect_match "the ignored extensions are named" \
  "warning: ignored extensions requested in the CSR \(basicConstraints, keyUsage\): only subjectAltName is taken" "$T/.err"
openssl x509 -in evil/e.crt -noout -ext basicConstraints,keyUsage >evil/ext.txt
expect_match "issued with CA:FALSE" "CA:FALSE" evil/ext.txt
if grep -q "Certificate Sign" evil/ext.txt; then fail "keyCertSign was copied from the CSR"; else pass; fi

# --- names an identity would carry: control characters and SAN floods (issue 13, items 9 and 11)
rm -rf pki
expect_ok "init-ca for names" "$MQTTPKI" init-ca --cn "Names CA"
openssl ecparam -name prime256v1 -genkey -noout -out names.key 2>/dev/null
openssl req -new -key names.key -subj "/CN=$(printf 'pi\x1b[31mred')" -out esc.csr 2>/dev/null
expect_fail "a CN with an escape character is refused" 'esc.csr: the subject.s CN "pi\\x1B\[31mred" holds a control character' \
  "$MQTTPKI" sign esc.csr --profile client --name esc
openssl req -new -key names.key -subj "/CN=$(printf 'victim\nINFO forged')" -out nl.csr 2>/dev/null
expect_fail "a CN with a newline is refused" 'nl.csr: .*control character \(U\+000A\)' "$MQTTPKI" sign nl.csr --profile client --name nl
openssl req -new -key names.key -subj "/CN=ok" -addext "subjectAltName=DNS:$(printf 'a\tb').example" -out tabsan.csr 2>/dev/null
expect_fail "a SAN with a tab is refused" 'tabsan.csr: the SAN .* holds a control character' \
  "$MQTTPKI" sign tabsan.csr --profile server --name tabsan
sans=$(python3 -c "print(','.join('DNS:h%d.example.com' % i for i in range(150)))")
openssl req -new -key names.key -subj "/CN=h0.example.com" -addext "subjectAltName=$sans" -out flood.csr 2>/dev/null
expect_fail "150 SANs are refused" 'flood.csr: 150 subject alternative names requested; a certificate carries at most 100' \
  "$MQTTPKI" sign flood.csr --profile server --name flood
head -c 70000 /dev/zero | tr '\0' 'A' >huge.csr
expect_fail "a CSR file over 64 KiB is refused before parsing" 'huge.csr: 70000 bytes, more than the 65536' \
  "$MQTTPKI" sign huge.csr --profile client --name huge
ca_records pki >records.json
expect_ok "nothing recorded for the refused names" python3 -c 'import json; assert json.load(open("records.json"))["certificates"]==[]'

# --- the CA folder does not follow links or overwrite what it did not write (item 13)
rm -f pki/.lock
ln -s "$T/lock-target" pki/.lock
expect_fail "a .lock symlink is refused" '\.lock: is a symbolic link' "$MQTTPKI" crl
expect_eq "its target was not created" "no" "$([ -e "$T/lock-target" ] && echo yes || echo no)"
rm -f pki/.lock
echo "my notes" >notes.txt
expect_fail "crl --out an unrelated file" 'notes.txt exists and is not a CRL of this CA; use --force' "$MQTTPKI" crl --out notes.txt
expect_eq "notes.txt untouched" "my notes" "$(cat notes.txt)"
expect_ok "crl --out a new file" "$MQTTPKI" crl --out copy.pem
expect_ok "crl --out over its own earlier copy" "$MQTTPKI" crl --out copy.pem
expect_ok "crl --out --force over the unrelated file" "$MQTTPKI" crl --out notes.txt --force
"$MQTTPKI" csr --key names.key --cn stray --out stray.csr >/dev/null 2>&1
echo "not mine" >pki/issued/stray.crt
expect_fail "a stray issued/NAME.crt is not overwritten" 'stray.crt exists but this CA never recorded a certificate under that name; use --force' \
  "$MQTTPKI" sign stray.csr --profile client
expect_eq "stray.crt untouched" "not mine" "$(cat pki/issued/stray.crt)"
expect_ok "sign --force replaces it" "$MQTTPKI" sign stray.csr --profile client --force
finish

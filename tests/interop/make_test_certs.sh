#!/bin/sh
# make_test_certs.sh DIR: test certificates made with the openssl CLI (EC P-256), for the net unit tests
# and the interop scripts. Nothing here is a secret: these keys live only in temp folders.
#   ca.crt/ca.key               test CA (basicConstraints critical CA:TRUE, keyUsage keyCertSign,cRLSign)
#   server.crt/server.key       SAN DNS:localhost, IP:127.0.0.1, EKU serverAuth
#   client.crt/client.key       CN=pi1, EKU clientAuth
#   client2.crt/client2.key     CN=pi2, EKU clientAuth (revoked in crl.pem)
#   expired.crt/expired.key     CN=old, EKU clientAuth, valid 2020-01-01..2020-01-02
#   wrongname.crt/wrongname.key server cert with SAN DNS:broker.example only
#   crl.pem                     CRL of ca.crt revoking client2.crt
#   other-ca.crt/other-ca.key   an unrelated CA
#   other-client.crt/.key       CN=intruder, signed by other-ca
#   other-server.crt/.key       SAN DNS:localhost, IP:127.0.0.1, signed by other-ca
set -eu
dir=${1:?usage: make_test_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077

cat > ext.cnf <<'CNF'
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
authorityKeyIdentifier = keyid
[wrongname]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:broker.example
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
CNF

ossl() { openssl "$@" 2>/dev/null || { echo "make_test_certs: openssl $1 failed" >&2; openssl "$@"; }; }

make_ca() {  # NAME CN
  ossl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.crt" \
    -days 30 -subj "/CN=$2" -extensions ca -config ext.cnf
}
make_leaf() {  # NAME CN SECTION CA
  ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" \
    -subj "/CN=$2" -config ext.cnf
  ossl x509 -req -in "$1.csr" -CA "$4.crt" -CAkey "$4.key" -CAcreateserial -days 30 -out "$1.crt" \
    -extfile ext.cnf -extensions "$3"
  rm -f "$1.csr"
}

# ext.cnf doubles as the req config: it needs a [req] section with a distinguished_name.
cat >> ext.cnf <<'CNF'
[req]
distinguished_name = dn
[dn]
CNF

make_ca ca "mqttpki test CA"
make_leaf server localhost server ca
make_leaf client pi1 client ca
make_leaf client2 pi2 client ca
make_leaf wrongname broker.example wrongname ca
make_ca other-ca "unrelated CA"
make_leaf other-client intruder client other-ca
make_leaf other-server localhost server other-ca

# openssl ca for what x509 -req cannot do in OpenSSL 3.0: a past validity, revocation, a CRL.
mkdir -p db
: > db/index.txt
echo 1000 > db/serial
echo 1000 > db/crlnumber
cat > ca.cnf <<'CNF'
[ca]
default_ca = test
[test]
database = db/index.txt
serial = db/serial
crlnumber = db/crlnumber
new_certs_dir = db
certificate = ca.crt
private_key = ca.key
default_md = sha256
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[req]
distinguished_name = dn
[dn]
CNF
ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout expired.key -out expired.csr \
  -subj "/CN=old" -config ca.cnf
ossl ca -batch -config ca.cnf -in expired.csr -out expired.crt -extensions client \
  -startdate 20200101000000Z -enddate 20200102000000Z -notext
ossl ca -batch -config ca.cnf -revoke client2.crt
ossl ca -batch -config ca.cnf -gencrl -out crl.pem
rm -f expired.csr
# Readable by a broker that dropped privileges (mosquitto as root becomes user 'mosquitto'): test-only keys.
chmod 755 .
chmod 644 ./*.crt ./*.key crl.pem

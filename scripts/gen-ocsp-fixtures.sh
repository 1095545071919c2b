#!/usr/bin/env bash
# Regenerates tests/fixtures/ocsp: a CA run by `openssl ca` the way the SSL how-to's OCSP section
# does it — an openssl.cnf whose [v3_issued] section writes authorityInfoAccess =
# OCSP;URI:http://127.0.0.1:8088 — with a delegated OCSP signer, one good and one revoked
# certificate, and the index.txt an `openssl ocsp -index` responder serves. The tests check that
# bobcat reads these openssl-made certificates and the responses openssl signs over them.
# (The how-to's keys are 4096-bit and -aes256 encrypted; these are 2048-bit and plain, for speed.)
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/ocsp"
mkdir -p "$out" && cd "$out"
rm -rf ./*.pem ./*.csr index.txt* serial* newcerts openssl.cnf
mkdir newcerts && : > index.txt && echo 1000 > serial
echo "unique_subject = no" > index.txt.attr

cat > openssl.cnf <<'CNF'
[ca]
default_ca = test_ca

[test_ca]
dir = .
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
certificate = $dir/ca.pem
private_key = $dir/ca-key.pem
default_md = sha256
default_days = 3650
policy = policy_any
copy_extensions = none
x509_extensions = v3_issued

[policy_any]
commonName = supplied
organizationName = optional

[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused

#... as in the how-to
[x509]
x509_extensions = v3_issued
[v3_issued]
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
# The address of your responder
authorityInfoAccess = OCSP;URI:http://127.0.0.1:8088
keyUsage = critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment,keyAgreement,keyCertSign,cRLSign,encipherOnly,decipherOnly
basicConstraints=critical,CA:FALSE
nsComment="Testing OCSP Certificate"

[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash

[ocsp_signer]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

openssl req -config openssl.cnf -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 3650 \
  -subj "/O=bobcat test/CN=bobcat OCSP fixture CA" -extensions v3_ca 2>/dev/null

issue() { # name subject extensions
  openssl req -config openssl.cnf -new -newkey rsa:2048 -nodes -sha256 -keyout "$1-key.pem" -out "$1.csr" -subj "$2" 2>/dev/null
  openssl ca -config openssl.cnf -batch -notext -md sha256 -days 3650 -extensions "$3" -in "$1.csr" -out "$1.pem" 2>/dev/null
}
issue ocsp-signer "/CN=bobcat OCSP fixture responder" ocsp_signer
issue ocsp-cert "/CN=ocsp-cert" v3_issued
issue revoked-cert "/CN=revoked-cert" v3_issued
openssl ca -config openssl.cnf -revoke revoked-cert.pem -crl_reason keyCompromise 2>/dev/null

rm -rf ./*.csr newcerts serial* index.txt.old index.txt.attr.old
openssl x509 -noout -text -in ocsp-cert.pem | grep -A1 "Authority Information Access"

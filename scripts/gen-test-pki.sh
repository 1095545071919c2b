#!/usr/bin/env bash
# Regenerates tests/fixtures/pki: a test root CA, an intermediate CA, and server
# certificates for localhost (RSA and EC) issued by the intermediate, with openssl.
# The end-to-end suites trust ca.pem and expect the chain leaf → intermediate.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/pki"
mkdir -p "$out" && cd "$out"
rm -f *.pem *.srl *.csr *.cnf
days=3650

cat > v3-ca.cnf <<'CNF'
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
CNF
cat > v3-server.cnf <<'CNF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:www.localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
CNF

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days $days \
  -subj "/C=JP/O=bobcat test/CN=bobcat Test Root CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout intermediate-key.pem -out intermediate.csr \
  -subj "/C=JP/O=bobcat test/CN=bobcat Test Intermediate CA" 2>/dev/null
openssl x509 -req -in intermediate.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
  -out intermediate.pem -days $days -extfile v3-ca.cnf 2>/dev/null

openssl req -newkey rsa:2048 -nodes -keyout localhost-rsa-key.pem -out localhost-rsa.csr \
  -subj "/C=JP/O=bobcat test/CN=localhost" 2>/dev/null
openssl x509 -req -in localhost-rsa.csr -CA intermediate.pem -CAkey intermediate-key.pem -CAcreateserial \
  -out localhost-rsa.pem -days $days -extfile v3-server.cnf 2>/dev/null

openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout localhost-ec-key.pem -out localhost-ec.csr \
  -subj "/C=JP/O=bobcat test/CN=localhost" 2>/dev/null
openssl x509 -req -in localhost-ec.csr -CA intermediate.pem -CAkey intermediate-key.pem -CAcreateserial \
  -out localhost-ec.pem -days $days -extfile v3-server.cnf 2>/dev/null

rm -f *.csr *.srl
echo "wrote $(ls | tr '\n' ' ')"

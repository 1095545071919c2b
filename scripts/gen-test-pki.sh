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

# Client certificates: a client CA, alice (good), mallory (revoked in client-crl.pem), and eve
# from a CA the server does not trust.
cat > v3-client.cnf <<'CNF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
CNF
openssl req -x509 -newkey rsa:2048 -nodes -keyout client-ca-key.pem -out client-ca.pem -days $days \
  -subj "/C=JP/O=bobcat test/CN=bobcat Test Client CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue-ca-key.pem -out rogue-ca.pem -days $days \
  -subj "/CN=Rogue CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
client() { # name cn ca cakey serial
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1-key.pem" -out "$1.csr" -subj "/C=JP/O=bobcat test/CN=$2" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$3" -CAkey "$4" -set_serial "$5" -out "$1.pem" -days $days -extfile v3-client.cnf 2>/dev/null
}
client alice alice client-ca.pem client-ca-key.pem 0x1A11CE
client mallory mallory client-ca.pem client-ca-key.pem 0x3A11
client eve eve rogue-ca.pem rogue-ca-key.pem 0xEEE

# A CRL of the client CA that revokes mallory, made with `openssl ca`.
mkdir -p ca-db && : > ca-db/index.txt && echo 1000 > ca-db/crlnumber
cat > ca.cnf <<'CNF'
[ca]
default_ca = client_ca
[client_ca]
database = ca-db/index.txt
crlnumber = ca-db/crlnumber
certificate = client-ca.pem
private_key = client-ca-key.pem
default_md = sha256
default_crl_days = 3650
CNF
openssl ca -config ca.cnf -revoke mallory.pem -crl_reason keyCompromise 2>/dev/null
openssl ca -config ca.cnf -gencrl -out client-crl.pem 2>/dev/null
rm -rf ca-db ca.cnf v3-client.cnf

# Truststores with the client CA, made by the real keytool.
rm -f client-truststore.p12 client-truststore.jks
keytool -importcert -noprompt -alias clientca -file client-ca.pem -keystore client-truststore.p12 -storetype PKCS12 -storepass changeit >/dev/null 2>&1
keytool -importcert -noprompt -alias clientca -file client-ca.pem -keystore client-truststore.jks -storetype JKS -storepass changeit >/dev/null 2>&1

rm -f *.csr *.srl
echo "wrote $(ls | tr '\n' ' ')"

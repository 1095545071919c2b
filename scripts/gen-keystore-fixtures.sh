#!/usr/bin/env bash
# Regenerates tests/fixtures/keystores with the real tools: OpenSSL 3 for the test CA and PEM
# key formats, Java keytool for JKS and PKCS12 stores, `openssl pkcs12 -export` (default and
# -legacy) for OpenSSL-made stores. Certificates are valid for 20 years from the run.
# Passwords: stores "changeit"; JKS key "ec" has key password "ecpass12"; encrypted PEM keys "changeit".
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=tests/fixtures/keystores
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
DAYS=7300
PW=changeit

cat > ext.cnf <<'CNF'
[test_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[test_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

# ---- test CA: root and intermediate ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out root.key 2>/dev/null
openssl req -x509 -new -key root.key -subj "/O=Bobcat Tests/CN=Bobcat Test Root CA" -days $DAYS -sha256 \
  -extensions test_ca -config <(cat /etc/ssl/openssl.cnf ext.cnf) -out root.crt
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out int.key 2>/dev/null
openssl req -new -key int.key -subj "/O=Bobcat Tests/CN=Bobcat Test Intermediate CA" -out int.csr
openssl x509 -req -in int.csr -CA root.crt -CAkey root.key -set_serial 0x1001 -days $DAYS -sha256 \
  -extfile ext.cnf -extensions test_ca -out int.crt 2>/dev/null

sign() { # csr out serial
  openssl x509 -req -in "$1" -CA int.crt -CAkey int.key -set_serial "$3" -days $DAYS -sha256 \
    -extfile ext.cnf -extensions test_server -out "$2" 2>/dev/null
}

# ---- PEM server keys in every format PEMFile reads ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
openssl req -new -key rsa.key -subj "/CN=localhost" -out rsa.csr
sign rsa.csr rsa.crt 0x2001
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key 2>/dev/null
openssl req -new -key ec.key -subj "/CN=localhost" -out ec.csr
sign ec.csr ec.crt 0x2002
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec384.key 2>/dev/null
openssl req -new -key ec384.key -subj "/CN=localhost" -out ec384.csr
sign ec384.csr ec384.crt 0x2003
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.key 2>/dev/null

mkdir -p pem
cp root.crt pem/root-ca.pem
cp int.crt pem/intermediate-ca.pem
cat int.crt root.crt > pem/ca-chain.pem
cp rsa.crt pem/rsa-cert.pem
cp rsa.key pem/rsa-key-pkcs8.pem
cat rsa.crt int.crt > pem/rsa-fullchain.pem
openssl rsa -in rsa.key -traditional -out pem/rsa-key-pkcs1.pem 2>/dev/null
openssl rsa -in rsa.key -traditional -aes256 -passout pass:$PW -out pem/rsa-key-pkcs1-aes256.pem 2>/dev/null
openssl rsa -in rsa.key -traditional -des3 -passout pass:$PW -out pem/rsa-key-pkcs1-des3.pem 2>/dev/null
openssl rsa -in rsa.key -traditional -des -passout pass:$PW -provider legacy -provider default -out pem/rsa-key-pkcs1-des.pem 2>/dev/null
openssl pkcs8 -topk8 -in rsa.key -v2 aes-256-cbc -v2prf hmacWithSHA256 -passout pass:$PW -out pem/rsa-key-pkcs8-aes256.pem
openssl pkcs8 -topk8 -in rsa.key -v2 aes-128-cbc -v2prf hmacWithSHA256 -passout pass:$PW -out pem/rsa-key-pkcs8-aes128.pem
openssl pkcs8 -topk8 -in rsa.key -v2 des3 -v2prf hmacWithSHA1 -passout pass:$PW -out pem/rsa-key-pkcs8-des3-sha1.pem
openssl pkcs8 -topk8 -in rsa.key -v2 des3 -v2prf hmacWithSHA256 -passout pass:$PW -out pem/rsa-key-pkcs8-des3-sha256.pem
# OpenSSL's readable text before the blocks, key and certificate in one file.
{ openssl x509 -in rsa.crt -noout -text; cat rsa.crt; openssl rsa -in rsa.key -noout -text 2>/dev/null; cat rsa.key; } > pem/rsa-with-text.pem
cp ec.crt pem/ec-cert.pem
openssl ec -in ec.key -out pem/ec-key-sec1.pem 2>/dev/null
openssl ec -in ec.key -aes256 -passout pass:$PW -out pem/ec-key-sec1-aes256.pem 2>/dev/null
cp ec.key pem/ec-key-pkcs8.pem
cp ec384.crt pem/ec384-cert.pem
cp ec384.key pem/ec384-key.pem
cp other.key pem/other-key.pem
echo $PW > pem/password.txt

# ---- keytool stores: the how-to's walk-through (genkey, certreq, import root, import reply) ----
ktflow() { # store type keyalg [extra genkeypair args]
  local ks=$1 type=$2 alg=$3; shift 3
  keytool -genkeypair -alias tomcat -keyalg "$alg" "$@" -dname "CN=localhost, OU=Tests, O=Bobcat" -validity $DAYS \
    -ext SAN=dns:localhost,ip:127.0.0.1 -keystore "$ks" -storetype "$type" -storepass $PW -keypass $PW 2>/dev/null
  keytool -certreq -alias tomcat -file "$ks.csr" -keystore "$ks" -storetype "$type" -storepass $PW 2>/dev/null
  sign "$ks.csr" "$ks.crt" "0x3$RANDOM"
  cat "$ks.crt" int.crt > "$ks.reply"
  keytool -importcert -alias root -trustcacerts -noprompt -file root.crt -keystore "$ks" -storetype "$type" -storepass $PW 2>/dev/null
  keytool -importcert -alias tomcat -noprompt -file "$ks.reply" -keystore "$ks" -storetype "$type" -storepass $PW 2>/dev/null
}
ktflow keytool-rsa.jks JKS RSA -keysize 2048
# A second key whose password differs from the store password (JKS allows it).
keytool -genkeypair -alias ec -keyalg EC -groupname secp256r1 -dname "CN=ec.localhost" -validity $DAYS \
  -keystore keytool-rsa.jks -storetype JKS -storepass $PW -keypass ecpass12 2>/dev/null
ktflow keytool-rsa.p12 PKCS12 RSA -keysize 2048
keytool -importcert -alias intermediate -noprompt -file int.crt -keystore keytool-rsa.p12 -storetype PKCS12 -storepass $PW 2>/dev/null
keytool -genkeypair -alias second -keyalg RSA -keysize 2048 -dname "CN=second.localhost" -validity $DAYS \
  -keystore keytool-rsa.p12 -storetype PKCS12 -storepass $PW 2>/dev/null
ktflow keytool-ec.jks JKS EC -groupname secp384r1
ktflow keytool-ec.p12 PKCS12 EC -groupname secp256r1
keytool -importcert -alias root -noprompt -file root.crt -keystore truststore.p12 -storetype PKCS12 -storepass $PW 2>/dev/null
keytool -importcert -alias intermediate -noprompt -file int.crt -keystore truststore.p12 -storetype PKCS12 -storepass $PW 2>/dev/null
keytool -importcert -alias root -noprompt -file root.crt -keystore truststore.jks -storetype JKS -storepass $PW 2>/dev/null

# ---- OpenSSL stores (the how-to's `openssl pkcs12 -export ... -chain -CAfile`) ----
openssl pkcs12 -export -in rsa.crt -inkey rsa.key -out openssl-rsa.p12 -name tomcat -CAfile pem/ca-chain.pem -caname root -chain -passout pass:$PW
openssl pkcs12 -export -legacy -in rsa.crt -inkey rsa.key -out openssl-rsa-legacy.p12 -name tomcat -CAfile pem/ca-chain.pem -caname root -chain -passout pass:$PW
openssl pkcs12 -export -in ec.crt -inkey ec.key -out openssl-ec.p12 -name tomcat -CAfile pem/ca-chain.pem -chain -passout pass:$PW
openssl pkcs12 -export -legacy -in ec384.crt -inkey ec384.key -certfile int.crt -out openssl-ec384-legacy.p12 -passout pass:$PW

cd - >/dev/null
rm -rf "$OUT"
mkdir -p "$OUT"
cp -r "$WORK/pem" "$OUT/pem"
cp "$WORK"/*.jks "$WORK"/*.p12 "$OUT/"
echo "fixtures written to $OUT:"; ls -la "$OUT" "$OUT/pem" | awk '{print $5, $9}'

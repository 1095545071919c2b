/**
 * Tomcat's `jakarta.servlet.request.key_size`: the strength in bits of the cipher suite's
 * symmetric cipher, as Tomcat's cipher table gives it (3DES counts 112, its effective strength).
 * Takes IANA names (`TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`, `TLS_AES_128_GCM_SHA256`) and
 * OpenSSL names (`ECDHE-RSA-AES256-GCM-SHA384`); undefined for a name it cannot place.
 */
const STRENGTHS: Array<[RegExp, number]> = [
  [/(^|[_-])NULL([_-]|$)/, 0],
  [/CHACHA20/, 256],
  [/(AES|ARIA|CAMELLIA)_?256/, 256],
  [/(AES|ARIA|CAMELLIA)_?128/, 128],
  [/3DES|DES-CBC3/, 112],
  [/SEED/, 128],
];

export function cipherKeySize(cipherSuite: string | undefined): number | undefined {
  if (!cipherSuite) return undefined;
  const name = cipherSuite.toUpperCase();
  for (const [re, bits] of STRENGTHS) if (re.test(name)) return bits;
  return undefined;
}

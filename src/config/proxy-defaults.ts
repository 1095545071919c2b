/** Tomcat's default internalProxies: private, loopback, link-local and CGNAT ranges (IPv4 and IPv6). */
export const DEFAULT_INTERNAL_PROXIES =
  "10\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}|192\\.168\\.\\d{1,3}\\.\\d{1,3}|169\\.254\\.\\d{1,3}\\.\\d{1,3}|127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}|100\\.6[4-9]{1}\\.\\d{1,3}\\.\\d{1,3}|100\\.[7-9]{1}\\d{1}\\.\\d{1,3}\\.\\d{1,3}|100\\.1[0-1]{1}\\d{1}\\.\\d{1,3}\\.\\d{1,3}|100\\.12[0-7]{1}\\.\\d{1,3}\\.\\d{1,3}|172\\.1[6-9]{1}\\.\\d{1,3}\\.\\d{1,3}|172\\.2[0-9]{1}\\.\\d{1,3}\\.\\d{1,3}|172\\.3[0-1]{1}\\.\\d{1,3}\\.\\d{1,3}|0:0:0:0:0:0:0:1|::1|fe[89ab][0-9a-fA-F]:.*|f[cd][0-9a-fA-F]{2}:.*";

/**
 * Tomcat's patterns are Java regexes: \p{XDigit} and possessive quantifiers ({2}+, *+, ++)
 * have no JavaScript spelling; both translate without changing what matches here.
 */
export function fromJavaRegex(pattern: string): string {
  return pattern.replaceAll("\\p{XDigit}", "[0-9a-fA-F]").replace(/(\}|\*|\+|\?)\+/g, "$1");
}

/**
 * The address ranges DEFAULT_INTERNAL_PROXIES stands for, checked on parsed addresses when the
 * default is in effect: 10/8, 192.168/16, 169.254/16, 127/8, 100.64/10 (CGNAT), 172.16/12,
 * ::1, fe80::/10 (link-local) and fc00::/7 (unique local).
 */
export const DEFAULT_INTERNAL_PROXY_RANGES = [
  "10.0.0.0/8",
  "192.168.0.0/16",
  "169.254.0.0/16",
  "127.0.0.0/8",
  "100.64.0.0/10",
  "172.16.0.0/12",
  "::1/128",
  "fe80::/10",
  "fc00::/7",
];

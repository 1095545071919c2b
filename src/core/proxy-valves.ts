/**
 * Behind a TLS-terminating proxy (Apache, IIS, a load balancer): Tomcat's RemoteIpValve and
 * SSLValve. Forwarded headers are believed only when the request comes from an internal or
 * trusted proxy, so a client cannot make itself look secure, local or certificate-holding.
 */
import type { RemoteIpValveConfig, SSLValveConfig } from "../config/model.ts";
import type { RequestContext } from "./context.ts";
import { loadX509, x509Loaded } from "../tls/keystore/x509-lazy.ts";
import { logger } from "../util/log.ts";
import { inRange, type IpAddress, parseCidr, parseIp } from "../util/ip.ts";
import { DEFAULT_INTERNAL_PROXIES, DEFAULT_INTERNAL_PROXY_RANGES, fromJavaRegex } from "../config/proxy-defaults.ts";

const log = logger("core");

/** Anchored, as Java's Pattern.matches() is. */
export function javaRegex(pattern: string): RegExp {
  return new RegExp(`^(?:${fromJavaRegex(pattern)})$`);
}

/**
 * Which addresses an internalProxies/trustedProxies setting admits. The attributes are Java
 * regexes, as in Tomcat, but they only ever see a parsed address, never the raw header text:
 * the canonical form (`10.0.0.1`, `2001:db8::1`) and the forms Tomcat users write patterns for
 * (Java's uncompressed `2001:db8:0:0:0:0:0:1`, `::ffff:10.0.0.1` for an IPv4 address). The
 * built-in default is checked as the address ranges it stands for.
 */
export function proxyMatcher(pattern: string | undefined): ((addr: IpAddress) => boolean) | null {
  if (!pattern) return null;
  if (pattern === DEFAULT_INTERNAL_PROXIES) {
    const ranges = DEFAULT_INTERNAL_PROXY_RANGES.map(parseCidr);
    return (a) => ranges.some((r) => inRange(a, r));
  }
  const re = javaRegex(pattern);
  return (a) => re.test(a.text) || re.test(a.family === 4 ? `::ffff:${a.text}` : javaForm(a));
}

/** Java's Inet6Address.getHostAddress(): eight groups, no compression. */
export function javaForm(a: IpAddress): string {
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(((a.bytes[i]! << 8) | a.bytes[i + 1]!).toString(16));
  return w.join(":");
}

/** `name`, `name:port`, `1.2.3.4:port`, `[v6]:port` → the host part; null for anything else. */
function forwardedHost(value: string): string | null {
  const v = value.split(",")[0]!.trim();
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::\d{1,5})?$/.exec(v);
  if (!m) return null;
  if (m[1] !== undefined) return parseIp(m[1]) ? `[${parseIp(m[1])!.text}]` : null;
  return m[2]!.toLowerCase();
}

const quote = (v: string) => JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}...` : v);

export interface RequestValve {
  apply(req: Request, ctx: RequestContext): void;
}

export class RemoteIpValve implements RequestValve {
  private readonly internal: ((a: IpAddress) => boolean) | null;
  private readonly trusted: ((a: IpAddress) => boolean) | null;

  constructor(private readonly cfg: RemoteIpValveConfig) {
    this.internal = proxyMatcher(cfg.internalProxies);
    this.trusted = proxyMatcher(cfg.trustedProxies);
  }

  private isInternal(a: IpAddress): boolean {
    return !!this.internal?.(a);
  }
  private isTrusted(a: IpAddress): boolean {
    return !!this.trusted?.(a);
  }

  apply(req: Request, ctx: RequestContext): void {
    // The peer as an earlier RemoteIpValve left it (already canonical), else the TCP peer.
    const peer = parseIp(ctx.remoteAddr, { allowZone: true });
    if (!peer || (!this.isInternal(peer) && !this.isTrusted(peer))) return;
    const header = req.headers.get(this.cfg.remoteIpHeader);
    if (header) {
      // Right to left, as Tomcat: skip internal proxies, collect trusted ones, the first other
      // is the client (if every hop is a proxy, the leftmost one). Each hop looked at must be
      // an IP literal, else the header is ignored; what a client wrote left of the hop that
      // names it is never looked at.
      const hops = header.split(",").map((h) => h.trim());
      const proxies: string[] = [];
      let client: IpAddress | undefined;
      let bad: string | undefined;
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = parseIp(hops[i]!);
        if (!hop) {
          bad = hops[i]!;
          break;
        }
        client = hop;
        if (this.isInternal(hop)) continue;
        if (this.isTrusted(hop)) {
          proxies.unshift(hop.text);
          continue;
        }
        break;
      }
      if (bad !== undefined) {
        log.debug(
          `RemoteIpValve: ignored ${this.cfg.remoteIpHeader} ${quote(header)} from ${peer.text}: ${
            quote(bad)
          } is not an IP address`,
        );
      } else {
        if (client) ctx.overrideRemote(client.text);
        if (proxies.length > 0) ctx.attributes.set(this.cfg.proxiesHeader, proxies.join(", "));
      }
    }
    if (this.cfg.protocolHeader) {
      const proto = req.headers.get(this.cfg.protocolHeader);
      if (proto) {
        const https = proto.split(",")[0]!.trim().toLowerCase() === this.cfg.protocolHeaderHttpsValue.toLowerCase();
        const port = this.cfg.portHeader ? Number(req.headers.get(this.cfg.portHeader)) : NaN;
        ctx.overrideTransport(
          https,
          https ? "https" : "http",
          Number.isInteger(port) && port > 0 && port < 65536
            ? port
            : https
            ? this.cfg.httpsServerPort
            : this.cfg.httpServerPort,
        );
      }
    }
    if (this.cfg.hostHeader) {
      const value = req.headers.get(this.cfg.hostHeader);
      const host = value ? forwardedHost(value) : null;
      if (host) ctx.overrideServerName(host);
      else if (value) {
        log.debug(`RemoteIpValve: ignored ${this.cfg.hostHeader} ${quote(value)} from ${peer.text}: not a host name`);
      }
    }
  }
}

export class SSLValve implements RequestValve {
  private readonly internal: ((a: IpAddress) => boolean) | null;
  private readonly trusted: ((a: IpAddress) => boolean) | null;

  constructor(private readonly cfg: SSLValveConfig) {
    this.internal = proxyMatcher(cfg.internalProxies);
    this.trusted = proxyMatcher(cfg.trustedProxies);
  }

  /** The certificate parser, loaded before the context that uses this valve serves. */
  static ready(): Promise<unknown> {
    return loadX509();
  }

  apply(req: Request, ctx: RequestContext): void {
    // The connection's own peer decides trust, even when a RemoteIpValve ran first.
    const from = parseIp(ctx.connectionAddr, { allowZone: true });
    if (!from || !(this.internal?.(from) || this.trusted?.(from))) return;
    const h = (name: string) => {
      const v = req.headers.get(name);
      return v && v !== "(null)" ? v : undefined;
    };
    const escaped = h(this.cfg.sslClientEscapedCertHeader);
    const plain = h(this.cfg.sslClientCertHeader);
    const pem = escaped ? safeDecode(escaped) : plain ? unfoldPem(plain) : undefined;
    let peer;
    if (pem) {
      try {
        peer = [new (x509Loaded()).X509Certificate(pem)];
      } catch (e) {
        log.warn(
          `SSLValve: the client certificate in ${
            escaped ? this.cfg.sslClientEscapedCertHeader : this.cfg.sslClientCertHeader
          } cannot be read: ${(e as Error).message}`,
        );
      }
    }
    ctx.overrideTls({
      peerCertificates: peer,
      cipherSuite: h(this.cfg.sslCipherHeader),
      keySize: wholeNumber(h(this.cfg.sslCipherUserKeySizeHeader)),
      sslSessionId: h(this.cfg.sslSessionIdHeader)?.toLowerCase(),
    });
  }
}

/** mod_ssl's SSL_CIPHER_USEKEYSIZE: digits only, else nothing (and the cipher name decides). */
function wholeNumber(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,4}$/.test(v) ? Number(v) : undefined;
}

function safeDecode(v: string): string | undefined {
  try {
    return decodeURIComponent(v);
  } catch {
    return undefined;
  }
}

/** mod_headers sends the PEM with its newlines turned into spaces. */
export function unfoldPem(v: string): string {
  const m = /-----BEGIN CERTIFICATE-----(.*)-----END CERTIFICATE-----/s.exec(v);
  if (!m) return v;
  return `-----BEGIN CERTIFICATE-----\n${m[1]!.trim().split(/\s+/).join("\n")}\n-----END CERTIFICATE-----\n`;
}

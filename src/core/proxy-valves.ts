/**
 * Behind a TLS-terminating proxy (Apache, IIS, a load balancer): Tomcat's RemoteIpValve and
 * SSLValve. Forwarded headers are believed only when the request comes from an internal or
 * trusted proxy, so a client cannot make itself look secure, local or certificate-holding.
 */
import type { RemoteIpValveConfig, SSLValveConfig } from "../config/model.ts";
import type { RequestContext } from "./context.ts";
import { x509 } from "../tls/keystore/x509.ts";
import { logger } from "../util/log.ts";
import { fromJavaRegex } from "./proxy-defaults.ts";

const log = logger("core");

/** Anchored, as Java's Pattern.matches() is. */
export function javaRegex(pattern: string): RegExp {
  return new RegExp(`^(?:${fromJavaRegex(pattern)})$`);
}

/** IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) are matched as the IPv4 address. */
const plainAddr = (a: string) => (a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a);

export interface RequestValve {
  apply(req: Request, ctx: RequestContext): void;
}

export class RemoteIpValve implements RequestValve {
  private readonly internal: RegExp | null;
  private readonly trusted: RegExp | null;

  constructor(private readonly cfg: RemoteIpValveConfig) {
    this.internal = cfg.internalProxies ? javaRegex(cfg.internalProxies) : null;
    this.trusted = cfg.trustedProxies ? javaRegex(cfg.trustedProxies) : null;
  }

  private isInternal(a: string): boolean {
    return !!this.internal?.test(plainAddr(a));
  }
  private isTrusted(a: string): boolean {
    return !!this.trusted?.test(plainAddr(a));
  }

  apply(req: Request, ctx: RequestContext): void {
    const peer = ctx.remoteAddr;
    if (!this.isInternal(peer) && !this.isTrusted(peer)) return;
    const header = req.headers.get(this.cfg.remoteIpHeader);
    if (header) {
      // Right to left: skip internal proxies, collect trusted ones, the first other is the client.
      const hops = header.split(",").map((h) => h.trim()).filter((h) => h);
      const proxies: string[] = [];
      let client: string | undefined;
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = hops[i]!;
        if (this.isInternal(hop)) continue;
        if (this.isTrusted(hop)) {
          proxies.unshift(hop);
          continue;
        }
        client = hop;
        break;
      }
      if (client) ctx.overrideRemote(client);
      if (proxies.length > 0) ctx.attributes.set(this.cfg.proxiesHeader, proxies.join(", "));
    }
    if (this.cfg.protocolHeader) {
      const proto = req.headers.get(this.cfg.protocolHeader);
      if (proto) {
        const https = proto.split(",")[0]!.trim().toLowerCase() === this.cfg.protocolHeaderHttpsValue.toLowerCase();
        const port = this.cfg.portHeader ? Number(req.headers.get(this.cfg.portHeader)) : NaN;
        ctx.overrideTransport(https, https ? "https" : "http", Number.isInteger(port) && port > 0 ? port : https ? this.cfg.httpsServerPort : this.cfg.httpServerPort);
      }
    }
    if (this.cfg.hostHeader) {
      const host = req.headers.get(this.cfg.hostHeader);
      if (host) ctx.overrideServerName(host.split(",")[0]!.trim().replace(/:\d+$/, ""));
    }
  }
}

export class SSLValve implements RequestValve {
  private readonly allowed: RegExp;

  constructor(private readonly cfg: SSLValveConfig) {
    this.allowed = javaRegex(cfg.trustedProxies ? `${cfg.internalProxies}|${cfg.trustedProxies}` : cfg.internalProxies);
  }

  apply(req: Request, ctx: RequestContext): void {
    // The connection's own peer decides trust, even when a RemoteIpValve ran first.
    if (!this.allowed.test(plainAddr(ctx.connectionAddr))) return;
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
        peer = [new x509.X509Certificate(pem)];
      } catch (e) {
        log.warn(`SSLValve: the client certificate in ${escaped ? this.cfg.sslClientEscapedCertHeader : this.cfg.sslClientCertHeader} cannot be read: ${(e as Error).message}`);
      }
    }
    ctx.overrideTls({
      peerCertificates: peer,
      cipherSuite: h(this.cfg.sslCipherHeader),
      sslSessionId: h(this.cfg.sslSessionIdHeader)?.toLowerCase(),
    });
  }
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

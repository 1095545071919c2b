/**
 * Tomcat's access-control valves: RemoteAddrValve, RemoteHostValve (regexes) and
 * RemoteCIDRValve (address ranges), on an Engine, a Host or a Context; and the HealthCheckValve.
 * Addresses are matched as parsed values: a regex sees the canonical text (`127.0.0.1`, `::1`)
 * and Java's uncompressed IPv6 form (`0:0:0:0:0:0:0:1`) Tomcat users write patterns for;
 * ranges are compared bit by bit. Tomcat's rule: a deny match refuses; an allow match lets in;
 * with deny set and no allow, the rest is let in; otherwise refused.
 */
import type { HealthCheckValveConfig, RequestFilterValveConfig, ValveConfig } from "../config/model.ts";
import { sourceOf } from "../config/validate.ts";
import { BobcatError } from "../util/errors.ts";
import { inRange, type IpAddress, type IpRange, parseCidr, parseIp } from "../util/ip.ts";
import { logger } from "../util/log.ts";
import type { RequestContext } from "./context.ts";
import { errorPage, sizedBody } from "./error-page.ts";
import { javaForm, javaRegex } from "./proxy-valves.ts";

const log = logger("core");

export interface AccessValve {
  /** undefined: let in; a Response: refused. */
  check(ctx: RequestContext, connectorPort: number): Response | undefined;
}

type Matcher = (addr: IpAddress | null, text: string, port: number) => boolean;

function regexMatcher(pattern: string, addConnectorPort: boolean): Matcher {
  const re = javaRegex(pattern);
  return (addr, text, port) => {
    const forms = addr ? [addr.text, ...(addr.family === 6 ? [javaForm(addr)] : [])] : [text];
    return forms.some((f) => re.test(addConnectorPort ? `${f};${port}` : f));
  };
}

function cidrMatcher(v: RequestFilterValveConfig, attr: "allow" | "deny"): Matcher | null {
  const raw = v[attr];
  const entries = (Array.isArray(raw) ? raw : raw ? String(raw).split(",") : []).map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) return null;
  const ranges: Array<{ range: IpRange; port?: number }> = entries.map((e) => {
    const semi = e.indexOf(";");
    const [cidr, portText] = semi < 0 ? [e, undefined] : [e.slice(0, semi), e.slice(semi + 1)];
    let range: IpRange;
    try {
      range = parseCidr(cidr);
    } catch {
      throw new BobcatError("config.valve", `RemoteCIDRValve ${attr}: "${e}" is not an address range`, {
        where: sourceOf(v).attr(attr),
        fix: "write ranges as 10.0.0.0/8, 192.168.1.1 or ::1/128, separated by commas",
      });
    }
    if (portText !== undefined && (!v.addConnectorPort || !/^\d{1,5}$/.test(portText))) {
      throw new BobcatError("config.valve", `RemoteCIDRValve ${attr}: "${e}" has a port`, {
        where: sourceOf(v).attr(attr),
        fix: v.addConnectorPort
          ? "write the port as digits: 10.0.0.0/8;8443"
          : "set addConnectorPort: true to match ports",
      });
    }
    return { range, port: portText === undefined ? undefined : Number(portText) };
  });
  return (addr, _text, port) =>
    addr !== null && ranges.some((r) => inRange(addr, r.range) && (r.port === undefined || r.port === port));
}

export class RequestFilterValve implements AccessValve {
  private readonly allow: Matcher | null;
  private readonly deny: Matcher | null;

  constructor(readonly config: RequestFilterValveConfig) {
    if (config.className === "RemoteCIDRValve") {
      this.allow = cidrMatcher(config, "allow");
      this.deny = cidrMatcher(config, "deny");
    } else {
      const one = (x: string | string[] | undefined) => (Array.isArray(x) ? x.join(",") : x);
      const allow = one(config.allow);
      const deny = one(config.deny);
      this.allow = allow ? regexMatcher(allow, config.addConnectorPort) : null;
      this.deny = deny ? regexMatcher(deny, config.addConnectorPort) : null;
    }
  }

  check(ctx: RequestContext, connectorPort: number): Response | undefined {
    const text = this.config.usePeerAddress ? ctx.connectionAddr : ctx.remoteAddr;
    const addr = parseIp(text, { allowZone: true });
    if (this.isAllowed(addr, text, connectorPort)) return undefined;
    log.debug(`${this.config.className}: ${text} refused (${this.config.denyStatus})`);
    return errorPage(this.config.denyStatus, "Access to the requested resource has been denied");
  }

  private isAllowed(addr: IpAddress | null, text: string, port: number): boolean {
    if (this.deny?.(addr, text, port)) return false;
    if (this.allow?.(addr, text, port)) return true;
    return this.deny !== null && this.allow === null;
  }
}

export function accessValves(valves: ValveConfig[]): AccessValve[] {
  return valves.flatMap((v) =>
    v.className === "RemoteAddrValve" || v.className === "RemoteCIDRValve" || v.className === "RemoteHostValve"
      ? [new RequestFilterValve(v)]
      : []
  );
}

/** Tomcat's HealthCheckValve: `path` answers {"status":"UP"}, or 503 DOWN while a context is not started. */
export class HealthCheck {
  constructor(readonly config: HealthCheckValveConfig, private readonly available: () => boolean) {}

  answer(pathname: string): Response | undefined {
    if (pathname !== this.config.path) return undefined;
    const up = !this.config.checkContainersAvailable || this.available();
    const headers = new Headers({ "content-type": "application/json; charset=utf-8" });
    return new Response(sizedBody(JSON.stringify({ status: up ? "UP" : "DOWN" }), headers), {
      status: up ? 200 : 503,
      headers,
    });
  }
}

/**
 * ACME Renewal Information (RFC 9773) end to end. Debian's Pebble 2.4 has no `renewalInfo`, so
 * an HTTPS proxy in this process (certificate from the test PKI, trusted by bobcat through
 * directoryTrustFile as Pebble's own is in acme.test.ts) stands in front of the real Pebble: it
 * forwards every ACME request unchanged (the Host too, so Pebble's URLs and its JWS url check
 * name the proxy), adds `renewalInfo` to the directory, and answers
 * `GET /renewal-info/<certID>` with a window this test sets per certificate and Retry-After: 1.
 *
 * Checked on Bun and Deno: the certID bobcat asks for is base64url(AKI keyIdentifier) "."
 * base64url(serial) of the certificate it serves (read by openssl and node:crypto here); it asks
 * again after each Retry-After and never renews while the window is in the future (nor at two
 * thirds of the lifetime: the window wins); the window shows in the manager's JSON and in
 * `bobcat acme status`; a window moved a few seconds ahead is followed (the new order arrives
 * inside it, the new certificate is served, the order `replaces` the old certID, the old certID
 * is never asked for again); a window in the past renews at once, and an `alreadyReplaced`
 * refusal of `replaces` is followed by a plain order; a 503 from renewalInfo is retried with
 * backoff.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, request, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  freePort,
  opensslConnect,
  PKI,
  run,
  runCli,
  RUNTIMES,
  startBobcat,
  tempDir,
  waitUntil,
} from "../helpers/bobcat.ts";
import { curlVerified, type Pebble, startPebble } from "../helpers/pebble.ts";

interface Seen {
  t: number;
  method: string;
  path: string;
  /** The JWS payload of a POST, decoded. */
  payload?: Record<string, unknown>;
  status?: number;
}

interface Window {
  start: number;
  end: number;
}

/** The proxy in front of Pebble, with the renewal windows it gives per certID. */
class AriProxy {
  readonly seen: Seen[] = [];
  readonly windows = new Map<string, Window>();
  /** A certificate's first window: far ahead (inside the lifetime, before two thirds of it). */
  defaultWindow = (): Window => ({ start: Date.now() + 20 * 60_000, end: Date.now() + 25 * 60_000 });
  /** Refuse the next order that carries `replaces` with 409 alreadyReplaced. */
  refuseNextReplaces = false;
  /** Answer this many renewalInfo requests for a certificate not seen before with 503. */
  failNewCerts = 0;
  server!: Server;
  port = 0;

  constructor(private readonly pebbleOrigin: URL, private readonly pebbleCa: string) {}

  get directory(): string {
    return `https://127.0.0.1:${this.port}/dir`;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    this.server = createServer({
      cert: readFileSync(join(PKI, "localhost-ec.pem"), "utf8") + readFileSync(join(PKI, "intermediate.pem"), "utf8"),
      key: readFileSync(join(PKI, "localhost-ec-key.pem"), "utf8"),
    }, (req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(this.port, "127.0.0.1", () => r()));
  }

  stop(): Promise<void> {
    return new Promise((r) => {
      this.server.close(() => r());
      (this.server as { closeAllConnections?: () => void }).closeAllConnections?.();
    });
  }

  ariRequests(certId?: string): Seen[] {
    return this.seen.filter((s) => s.path.startsWith("/renewal-info/") && (!certId || s.path.endsWith(`/${certId}`)));
  }

  orders(): Seen[] {
    return this.seen.filter((s) => s.method === "POST" && s.path === "/order-plz");
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const entry: Seen = { t: Date.now(), method: req.method!, path: req.url! };
    this.seen.push(entry);
    if (req.method === "POST" && body.length) {
      try {
        const jws = JSON.parse(body.toString()) as { payload: string };
        entry.payload = jws.payload ? JSON.parse(Buffer.from(jws.payload, "base64url").toString()) : {};
      } catch {
        // not JSON: forwarded as it is
      }
    }
    if (req.method === "GET" && req.url!.startsWith("/renewal-info/")) {
      const certId = req.url!.slice("/renewal-info/".length);
      if (!this.windows.has(certId) && this.failNewCerts > 0) {
        this.failNewCerts--;
        entry.status = 503;
        res.writeHead(503, { "content-type": "application/problem+json" });
        res.end(
          JSON.stringify({ type: "urn:ietf:params:acme:error:serverInternal", detail: "try later", status: 503 }),
        );
        return;
      }
      if (!this.windows.has(certId)) this.windows.set(certId, this.defaultWindow());
      const w = this.windows.get(certId)!;
      entry.status = 200;
      res.writeHead(200, { "content-type": "application/json", "retry-after": "1" });
      res.end(JSON.stringify({
        suggestedWindow: { start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString() },
        explanationURL: "https://ca.example/ari-test",
      }));
      return;
    }
    if (entry.path === "/order-plz" && entry.payload?.replaces && this.refuseNextReplaces) {
      this.refuseNextReplaces = false;
      entry.status = 409;
      res.writeHead(409, { "content-type": "application/problem+json" });
      res.end(JSON.stringify({
        type: "urn:ietf:params:acme:error:alreadyReplaced",
        detail: `${entry.payload.replaces} was replaced already`,
        status: 409,
      }));
      return;
    }
    // Everything else goes to Pebble unchanged, Host included.
    const up = request({
      host: this.pebbleOrigin.hostname,
      port: this.pebbleOrigin.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      ca: this.pebbleCa,
      servername: undefined,
    }, async (pres) => {
      const parts: Buffer[] = [];
      for await (const c of pres) parts.push(c as Buffer);
      let out = Buffer.concat(parts);
      const headers = { ...pres.headers };
      entry.status = pres.statusCode;
      if (req.method === "GET" && req.url === "/dir" && pres.statusCode === 200) {
        const dir = JSON.parse(out.toString());
        dir.renewalInfo = `https://${req.headers.host}/renewal-info`;
        out = Buffer.from(JSON.stringify(dir));
        headers["content-length"] = String(out.length);
      }
      delete headers["transfer-encoding"];
      res.writeHead(pres.statusCode!, headers);
      res.end(out);
    });
    up.on("error", (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    up.end(body);
  }
}

const waitFor = (pred: () => boolean | Promise<boolean>, ms: number) => waitUntil(pred, ms, 100);

const count = (text: string, s: string) => text.split(s).length - 1;

/** The leaf bobcat serves for `name`, as openssl s_client receives it. */
async function served(port: number, name: string): Promise<string | undefined> {
  const r = await opensslConnect(port, { servername: name, timeoutMs: 10000 });
  return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
}

/**
 * RFC 9773 §4.1 computed independently of bobcat: the AKI keyIdentifier as openssl prints it,
 * the serial's DER content bytes from node:crypto (a leading zero byte when the top bit is set).
 */
async function certIdOf(pem: string, dir: string): Promise<{ certId: string; serial: string }> {
  const f = join(dir, `leaf-${Date.now()}.pem`);
  writeFileSync(f, pem);
  const ext = await run(["openssl", "x509", "-in", f, "-noout", "-ext", "authorityKeyIdentifier"]);
  const hex = /([0-9A-F]{2}(?::[0-9A-F]{2})+)/.exec(ext.stdout.split("\n").slice(1).join(" "))?.[1];
  if (!hex) throw new Error(`no AKI in ${ext.stdout}${ext.stderr}`);
  const aki = Buffer.from(hex.replace(/:/g, ""), "hex");
  const serialHex = new X509Certificate(pem).serialNumber;
  let serial = Buffer.from(serialHex.length % 2 ? `0${serialHex}` : serialHex, "hex");
  if (serial[0]! & 0x80) serial = Buffer.concat([Buffer.from([0]), serial]);
  return { certId: `${aki.toString("base64url")}.${serial.toString("base64url")}`, serial: serialHex };
}

function config(name: string, httpPort: number, tlsPort: number, proxy: AriProxy): string {
  return `
logging:
  components: { acme: debug }
server:
  services:
    - connectors:
        - port: ${httpPort}
          address: 127.0.0.1
        - port: ${tlsPort}
          address: 127.0.0.1
          SSLEnabled: true
          defaultSSLHostConfigName: ${name}
          sslHostConfigs:
            - hostName: ${name}
              acme:
                directory: ${proxy.directory}
                email: admin@example.org
                termsOfServiceAgreed: true
                directoryTrustFile: ${join(PKI, "ca.pem")}
                challengeTypes: [http-01]
                retryDelay: 1
                renewalInfoMinInterval: 1
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: hello.ts
              - path: /manager
                handler: bobcat:manager
`;
}

const FILES = { "hello.ts": `export default { fetch: () => new Response("hello over acme") };` };

let pebble: Pebble;
let proxy: AriProxy;
let httpPort = 0;
let tlsPort = 0;
const dirs: string[] = [];

beforeAll(async () => {
  [httpPort, tlsPort] = [await freePort(), await freePort()];
  // One hour: two thirds of it is 40 minutes, far beyond this test.
  pebble = await startPebble({ httpPort, tlsPort, validity: 3600 });
  proxy = new AriProxy(new URL(pebble.directory), readFileSync(pebble.wfeCertFile, "utf8"));
  await proxy.start();
});

afterAll(async () => {
  await proxy?.stop();
  await pebble?.destroy();
  dirs.forEach(cleanup);
});

for (const runtime of RUNTIMES) {
  describe(`ACME Renewal Information on ${runtime}`, () => {
    test(
      "certID, polling by Retry-After, renewal inside the window with replaces, past window, alreadyReplaced",
      async () => {
        const name = `ari-${runtime}.test`;
        const base = tempDir();
        dirs.push(base);
        const mine = () => proxy.orders().filter((o) => JSON.stringify(o.payload).includes(name));
        /** Every order of this test has had its answer (from the proxy or Pebble). */
        const answered = () => mine().every((o) => o.status !== undefined);
        const s = await startBobcat({
          runtime,
          base,
          files: FILES,
          config: config(name, httpPort, tlsPort, proxy),
          connectors: 2,
        });
        try {
          // 1. The first certificate: an order without replaces (nothing to replace).
          if (!(await waitFor(() => s.output().includes("certificate obtained"), 20000))) {
            throw new Error(s.output() + pebble.log().slice(-3000));
          }
          let pem1: string | undefined;
          // Swapped in (on Deno native the listener is reopened for it, and refuses for a moment).
          await waitFor(async () => {
            pem1 = await served(tlsPort, name);
            return !!pem1 && new X509Certificate(pem1).issuer.includes("Pebble");
          }, 10000);
          const c1 = await certIdOf(pem1!, base);
          expect(new X509Certificate(pem1!).issuer).toContain("Pebble Intermediate");
          expect(mine().length).toBe(1);
          expect(mine()[0]!.payload!.replaces).toBeUndefined();

          // The window is 20-25 minutes ahead: bobcat asks for exactly the served certificate's
          // certID, again after each Retry-After (never sooner than a second apart), and waits.
          expect(await waitFor(() => proxy.ariRequests(c1.certId).length >= 1, 10000)).toBe(true);

          // The manager's JSON: the window, and the next renewal inside it (not at 2/3 of the lifetime).
          type Row = {
            source: string;
            nextRenewal?: string;
            renewalWindow?: { start: string; end: string; explanationURL?: string };
          };
          let row: Row | undefined;
          await waitFor(async () => {
            const list = await fetch(`http://127.0.0.1:${httpPort}/manager/json/certificates`).then((r) =>
              r.json()
            ) as {
              certificates: Row[];
            };
            row = list.certificates.find((c) => c.source === "acme");
            return !!row?.renewalWindow;
          }, 5000);
          expect(row!.renewalWindow).toBeDefined();
          const w0 = { start: Date.parse(row!.renewalWindow!.start), end: Date.parse(row!.renewalWindow!.end) };
          expect(w0.start).toBeGreaterThan(Date.now() + 15 * 60_000);
          expect(w0.end - w0.start).toBe(5 * 60_000);
          expect(row!.renewalWindow!.explanationURL).toBe("https://ca.example/ari-test");
          const next = Date.parse(row!.nextRenewal!);
          expect(next).toBeGreaterThanOrEqual(w0.start);
          expect(next).toBeLessThanOrEqual(w0.end);
          expect(s.output()).toContain("see https://ca.example/ari-test");

          // `bobcat acme status` (no CA contact) shows the window stored with the certificate,
          // while the server keeps checking.
          const [status, polled] = await Promise.all([
            runCli(runtime, ["acme", "status", "--config", join(base, "conf/server.yaml"), "--base", base]),
            waitFor(() => proxy.ariRequests(c1.certId).length >= 3, 15000),
          ]);
          expect(status.code).toBe(0);
          expect(status.output).toContain("renewal window (ARI)");
          expect(status.output).toContain(`${row!.renewalWindow!.start}/${row!.renewalWindow!.end}`);
          expect(polled).toBe(true);
          expect(proxy.ariRequests().filter((r) => r.t >= mine()[0]!.t).every((r) => r.path.endsWith(`/${c1.certId}`)))
            .toBe(true);
          const asked = proxy.ariRequests(c1.certId).map((r) => r.t);
          for (let i = 1; i < asked.length; i++) expect(asked[i]! - asked[i - 1]!).toBeGreaterThanOrEqual(900);
          expect(mine().length).toBe(1);

          // 2. The CA moves the window to 2-4 s from now: bobcat learns it at its next check and
          // renews inside it, naming the certificate it replaces.
          const w1 = { start: Date.now() + 2000, end: Date.now() + 4000 };
          proxy.windows.set(c1.certId, w1);
          expect(await waitFor(() => mine().length >= 2 && answered(), 20000)).toBe(true);
          const order2 = mine()[1]!;
          expect(order2.payload!.replaces).toBe(c1.certId);
          expect(order2.status).toBe(201);
          expect(order2.t).toBeGreaterThanOrEqual(w1.start);
          expect(order2.t).toBeLessThanOrEqual(w1.end + 8000);
          let pem2: string | undefined;
          expect(
            await waitFor(async () => {
              pem2 = await served(tlsPort, name);
              return !!pem2 && new X509Certificate(pem2).serialNumber !== c1.serial;
            }, 20000),
          ).toBe(true);
          const c2 = await certIdOf(pem2!, base);
          // The new certificate's renewal information is asked for; the replaced one's never again.
          expect(await waitFor(() => proxy.ariRequests(c2.certId).length >= 1, 10000)).toBe(true);
          const firstC2 = proxy.ariRequests(c2.certId)[0]!.t;
          await Bun.sleep(1500);
          expect(proxy.ariRequests(c1.certId).filter((r) => r.t > firstC2)).toEqual([]);
          // Verified by curl against Pebble's root.
          const curl = await curlVerified(pebble, base, tlsPort, name);
          expect(curl.stderr).toBe("");
          expect(curl.stdout).toBe("hello over acme");

          // 3. A window that has passed: renewal at once. The CA refuses `replaces` as already
          // replaced; bobcat orders again without it.
          proxy.refuseNextReplaces = true;
          proxy.failNewCerts = 1;
          proxy.windows.set(c2.certId, { start: Date.now() - 2 * 3_600_000, end: Date.now() - 3_600_000 });
          expect(await waitFor(() => mine().length >= 4 && answered(), 20000)).toBe(true);
          const [refused, plain] = mine().slice(2);
          expect(refused!.payload!.replaces).toBe(c2.certId);
          expect(refused!.status).toBe(409);
          expect(plain!.payload!.replaces).toBeUndefined();
          expect(plain!.status).toBe(201);
          expect(s.output()).toContain("already been replaced");
          let pem3: string | undefined;
          expect(
            await waitFor(async () => {
              pem3 = await served(tlsPort, name);
              return !!pem3 && new X509Certificate(pem3).serialNumber !== c2.serial;
            }, 20000),
          ).toBe(true);
          const c3 = await certIdOf(pem3!, base);
          expect(c3.serial).not.toBe(c1.serial);
          // Its first renewalInfo answer is a 503 (a temporary error): asked again after the
          // backoff (renewalInfoMinInterval), then the window ahead: no further order.
          expect(await waitFor(() => proxy.ariRequests(c3.certId).length >= 2, 15000)).toBe(true);
          const c3asked = proxy.ariRequests(c3.certId);
          expect(c3asked.map((r) => r.status)).toEqual([503, 200]);
          expect(c3asked[1]!.t - c3asked[0]!.t).toBeGreaterThanOrEqual(900);
          await Bun.sleep(500);
          expect(mine().length).toBe(4);
          expect(count(s.output(), "certificate obtained")).toBe(3);
        } finally {
          expect(await s.stop()).toBe(0);
        }
      },
      45000,
    );
  });
}

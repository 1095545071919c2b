/**
 * WebSocket over TLS (wss) through the real CLI on every back-end that serves it: Bun native
 * (Bun.serve), Bun node-compat and Deno (node-compat), with real clients — Bun's WebSocket (its
 * `tls` option carries the test CA and a client certificate) and Deno's (a `Deno.createHttpClient`
 * with the CA and the client certificate, in a `deno run` child). On a connector that verifies
 * client certificates the socket's handlers see the verified chain as `ws.ctx.peerCertificates`
 * (node-compat, the default for such a connector), a client without a certificate gets no socket,
 * and a context that says `needsPeerCertificates: false` runs on Bun.serve, where reading the chain
 * is an error that names the fix.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  cleanup,
  clientCertificates,
  freePort,
  PKI,
  ROOT,
  run,
  type Running,
  type Runtime,
  sslHostConfig,
  startBobcat,
  tempDir,
  tlsAppConfig,
} from "../helpers/bobcat.ts";

const HANDLER = `
export default {
  fetch(req, ctx) {
    if (new URL(req.url).pathname === "/login") {
      ctx.getSession().setAttribute("user", "carol");
      return new Response("ok");
    }
    return ctx.upgradeWebSocket(req, {
      onOpen(_e, ws) {
        let peers;
        try {
          peers = ws.ctx.peerCertificates.map((c) => /CN=([^,]+)/.exec(c.subject)[1]).join(",") || "none";
        } catch (e) {
          peers = "error: " + e.message;
        }
        const user = ws.ctx.getSession(false)?.getAttribute("user") ?? "-";
        ws.send("open " + ws.url.protocol + " secure=" + ws.ctx.secure + " user=" + user + " peers=" + peers);
      },
      onMessage(e, ws) { ws.send("echo:" + e.data); },
    });
  },
};
`;

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

type Mode = "server-only" | "client-certs" | "client-certs-native";

function config(port: number, mode: Mode): string {
  return tlsAppConfig(port, sslHostConfig(undefined, mode === "server-only" ? "" : clientCertificates()), {
    connector: "          webSocketEnabled: true\n",
    contexts: `              - path: ""
                handler: handler.js
${mode === "client-certs-native" ? "                needsPeerCertificates: false\n" : ""}`,
  });
}

const pem = (f: string) => readFileSync(join(PKI, f), "utf8");

/** Bun's WebSocket client: the messages it got (two: the open line and an echo) or why it failed. */
async function bunClient(url: string, who?: "alice", cookie?: string): Promise<string[]> {
  const tls = { ca: pem("ca.pem"), ...(who ? { cert: pem(`${who}.pem`), key: pem(`${who}-key.pem`) } : {}) };
  const ws = new WebSocket(url, { tls, headers: cookie ? { cookie } : {} } as unknown as string[]);
  const got: string[] = [];
  return await new Promise<string[]>((resolve) => {
    const t = setTimeout(() => {
      ws.close();
      resolve([...got, "timeout"]);
    }, 8000);
    ws.onmessage = (e) => {
      got.push(String(e.data));
      if (got.length === 1) ws.send("over tls");
      else ws.close(1000);
    };
    ws.onerror = () => got.push("error");
    ws.onclose = (e) => {
      clearTimeout(t);
      resolve([...got, `close ${e.code}`]);
    };
  });
}

/** Deno's WebSocket client, in a child process; same result shape. */
async function denoClient(url: string, who?: "alice"): Promise<string[]> {
  const script = `
const P = ${JSON.stringify(PKI + "/")};
const client = Deno.createHttpClient({
  caCerts: [Deno.readTextFileSync(P + "ca.pem")],
  ${who ? `cert: Deno.readTextFileSync(P + "${who}.pem"), key: Deno.readTextFileSync(P + "${who}-key.pem"),` : ""}
});
const ws = new WebSocket(${JSON.stringify(url)}, { client });
const got = [];
const done = () => { console.log(JSON.stringify(got)); Deno.exit(0); };
setTimeout(() => { got.push("timeout"); done(); }, 8000);
ws.onmessage = (e) => { got.push(String(e.data)); if (got.length === 1) ws.send("over tls"); else ws.close(1000); };
ws.onerror = () => got.push("error");
ws.onclose = (e) => { got.push("close " + e.code); done(); };
`;
  const r = await run([join(ROOT, "node_modules/.bin/deno"), "eval", script], { timeoutMs: 20000 });
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`deno client: ${r.stdout}${r.stderr}`);
  }
}

const COMBOS: Array<{ runtime: Runtime; mode: Mode; env?: Record<string, string>; backend: string }> = [
  { runtime: "bun", mode: "server-only", backend: "native Bun.serve" },
  { runtime: "bun", mode: "server-only", env: { BOBCAT_BACKEND: "node-compat" }, backend: "node-compat back-end" },
  { runtime: "deno", mode: "server-only", backend: "node-compat back-end" },
  { runtime: "bun", mode: "client-certs", backend: "node-compat back-end" },
  { runtime: "deno", mode: "client-certs", backend: "node-compat back-end" },
  { runtime: "bun", mode: "client-certs-native", backend: "native Bun.serve" },
];

for (const { runtime, mode, env, backend } of COMBOS) {
  describe(`wss (${runtime}, ${mode}${env ? ", BOBCAT_BACKEND=node-compat" : ""})`, () => {
    let srv: Running;
    let port: number;
    const wss = () => `wss://localhost:${port}/ws`;

    test("starts on the expected back-end", async () => {
      port = await freePort();
      const base = tempDir();
      dirs.push(base);
      srv = await startBobcat({ runtime, base, config: config(port, mode), files: { "handler.js": HANDLER }, env });
      const line = srv.output().split("\n").find((l) => l.includes("listening on"))!;
      expect(line).toContain(backend);
    }, 30000);

    if (mode === "server-only") {
      test("echo over wss with Bun's and Deno's clients; the session of the upgrade is in the socket", async () => {
        const login = await fetch(`https://localhost:${port}/login`, { tls: { ca: pem("ca.pem") } } as RequestInit);
        const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
        expect(await bunClient(wss(), undefined, cookie)).toEqual([
          "open wss: secure=true user=carol peers=none",
          "echo:over tls",
          "close 1000",
        ]);
        expect(await denoClient(wss())).toEqual([
          "open wss: secure=true user=- peers=none",
          "echo:over tls",
          "close 1000",
        ]);
      }, 30000);
    }

    if (mode === "client-certs") {
      test("the socket sees the verified client chain as ctx.peerCertificates (Bun's and Deno's clients)", async () => {
        const expected = [
          "open wss: secure=true user=- peers=alice,bobcat Test Client CA",
          "echo:over tls",
          "close 1000",
        ];
        expect(await bunClient(wss(), "alice")).toEqual(expected);
        expect(await denoClient(wss(), "alice")).toEqual(expected);
      }, 30000);

      test("a client without a certificate gets no socket", async () => {
        const got = await bunClient(wss());
        expect(got.some((m) => m.startsWith("open"))).toBe(false);
        expect(got.at(-1)).toBe("close 1006");
        const d = await denoClient(wss());
        expect(d.some((m) => m.startsWith("open"))).toBe(false);
      }, 30000);
    }

    if (mode === "client-certs-native") {
      test(
        "Bun.serve verifies the certificate in the handshake; reading the chain in the socket names the fix",
        async () => {
          const got = await bunClient(wss(), "alice");
          expect(got[0]).toStartWith("open wss: secure=true user=- peers=error: ctx.peerCertificates: connector");
          expect(got[0]).toContain("remove needsPeerCertificates: false");
          expect(got.slice(1)).toEqual(["echo:over tls", "close 1000"]);
          const refused = await bunClient(wss());
          expect(refused.some((m) => m.startsWith("open"))).toBe(false);
        },
        30000,
      );
    }

    test("stops cleanly", async () => {
      expect(await srv.stop()).toBe(0);
    }, 30000);
  });
}

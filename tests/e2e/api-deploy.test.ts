/**
 * The library API deploys a Host's appBase as `bobcat run` does: `createServer({ configFile })`
 * over a CATALINA_BASE-like directory serves webapps/ROOT, foo#bar as /foo/bar, applies
 * WEB-INF/web.xml constraints, reads a context's WEB-INF/rewrite.config, and with autoDeploy
 * picks up a directory copied into webapps/ while running. In-process on Bun; on Deno through
 * a script that imports mod.ts.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createServer } from "../../mod.ts";
import { cleanup, fetchUntil, freePort, tempDir, tfetch, writeFiles } from "../helpers/bobcat.ts";

const ROOT = join(import.meta.dir, "..", "..");
const DENO = join(ROOT, "node_modules", ".bin", "deno");

const WEB_XML = `<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0">
  <security-constraint>
    <web-resource-collection><web-resource-name>p</web-resource-name><url-pattern>/private/*</url-pattern></web-resource-collection>
    <auth-constraint><role-name>staff</role-name></auth-constraint>
  </security-constraint>
  <login-config><auth-method>BASIC</auth-method><realm-name>Shop</realm-name></login-config>
</web-app>
`;

function base(port: number): string {
  const dir = tempDir("bobcat-api-deploy-");
  writeFiles(dir, {
    "conf/server.yaml": `server:
  services:
    - connectors: [{ port: ${port}, address: 127.0.0.1 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            appBase: webapps
`,
    "webapps/ROOT/index.html": "root index",
    "webapps/shop#cart/index.html": "cart",
    "webapps/shop#cart/private/orders.html": "orders",
    "webapps/shop#cart/WEB-INF/web.xml": WEB_XML,
    "webapps/shop#cart/WEB-INF/rewrite.config": "RewriteRule ^/basket$ /index.html [L]\n",
    "webapps/shop#cart/META-INF/context.yaml": "valves: [{ className: RewriteValve }]\n",
  });
  return dir;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

async function expectDeployed(url: string): Promise<void> {
  expect(await (await tfetch(`${url}/`)).text()).toBe("root index");
  expect(await (await tfetch(`${url}/shop/cart/`)).text()).toBe("cart");
  const priv = await tfetch(`${url}/shop/cart/private/orders.html`);
  expect(priv.status).toBe(401);
  expect(priv.headers.get("www-authenticate")).toContain('realm="Shop"');
  expect(await (await tfetch(`${url}/shop/cart/basket`)).text()).toBe("cart");
}

describe("createServer deploys appBase", () => {
  test("on bun, in process, with autoDeploy", async () => {
    const port = await freePort();
    const dir = base(port);
    dirs.push(dir);
    const server = await createServer({
      configFile: join(dir, "conf", "server.yaml"),
      baseDir: dir,
      configureLogging: false,
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      await expectDeployed(url);
      expect((await tfetch(`${url}/late/`)).status).toBe(404);
      writeFiles(dir, { "webapps/late/index.html": "late" });
      await fetchUntil(`${url}/late/`, (status) => status === 200, { timeoutMs: 10_000, intervalMs: 250 });
    } finally {
      await server.stop();
    }
  }, 30_000);

  test("on deno, through mod.ts", async () => {
    const port = await freePort();
    const dir = base(port);
    dirs.push(dir);
    writeFiles(dir, {
      "start.ts": `import { createServer } from ${JSON.stringify(join(ROOT, "mod.ts"))};
const server = await createServer({ configFile: ${JSON.stringify(join(dir, "conf", "server.yaml"))}, baseDir: ${
        JSON.stringify(dir)
      }, configureLogging: false });
console.log("READY");
await new Promise((r) => Deno.stdin.readable.pipeTo(new WritableStream({ close: () => r(undefined) })));
await server.stop();
`,
    });
    const proc = Bun.spawn(
      [DENO, "run", "-A", "--quiet", `--config=${join(ROOT, "deno.json")}`, join(dir, "start.ts")],
      {
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    try {
      const reader = proc.stdout.getReader();
      let out = "";
      const deadline = Date.now() + 45_000;
      while (!out.includes("READY") && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      if (!out.includes("READY")) {
        throw new Error(`deno did not start: ${out}${await new Response(proc.stderr).text()}`);
      }
      await expectDeployed(`http://127.0.0.1:${port}`);
    } finally {
      proc.stdin.end();
      await Promise.race([proc.exited, Bun.sleep(10_000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
      clearTimeout(timer);
    }
  }, 90_000);
});

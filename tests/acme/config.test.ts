/** The acme element: its checks name the attribute and the fix; the store's lock and corrupt-file handling. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigText } from "../../src/config/load.ts";
import { BobcatErrors } from "../../src/util/errors.ts";
import { DirectoryStore } from "../../src/acme/store.ts";
import { directoryUrl } from "../../src/config/acme.ts";

const config = (acme: string, extra = "") => `
server:
  services:
    - connectors:
        - port: 8443
          SSLEnabled: true
          defaultSSLHostConfigName: www.example.com
          sslHostConfigs:
            - hostName: www.example.com
${extra}              acme:
${acme}
      engine: { defaultHost: localhost, hosts: [{ name: localhost, contexts: [{ path: "", handler: "bobcat:root" }] }] }
`;

function problems(text: string): string[] {
  try {
    loadConfigText("/x/server.yaml", text);
    return [];
  } catch (e) {
    if (!(e instanceof BobcatErrors)) throw e;
    return e.errors.map((x) => x.format());
  }
}

describe("acme element", () => {
  test("a good element loads with its defaults", () => {
    const c = loadConfigText("/x/server.yaml", config("                termsOfServiceAgreed: true"));
    const a = c.server.services[0]!.connectors[0]!.sslHostConfigs[0]!.acme!;
    expect(a.keyType).toBe("EC-P256");
    expect(a.storeDirectory).toBe("/x/acme");
    expect(directoryUrl(a)).toBe("https://acme-v02.api.letsencrypt.org/directory");
    expect(directoryUrl({ ...a, directory: "staging" })).toContain("acme-staging-v02");
  });

  test("each bad input names the attribute and the fix", () => {
    const p = problems(config(`                directory: http://ca.example/dir
                names: ["*.example.com", "bad_name"]
                eabKeyId: kid-1`));
    const all = p.join("\n");
    expect(all).toContain("acme.termsOfServiceAgreed");
    expect(all).toContain("set termsOfServiceAgreed: true");
    expect(all).toContain("acme.directory");
    expect(all).toContain("wildcard name *.example.com can only be validated by dns-01");
    expect(all).toContain('"bad_name" is not a fully qualified DNS name');
    expect(all).toContain("External Account Binding needs both eabKeyId and eabHmacKey");
    expect(all).toMatch(/server\.yaml:\d+:\d+/);
  });

  test("certificates and acme on one SSLHostConfig are refused", () => {
    const p = problems(config(
      "                termsOfServiceAgreed: true",
      "              certificates: [{ certificateFile: a.pem }]\n",
    ));
    expect(p.join("\n")).toContain("has both certificates and acme");
  });
});

describe("directory store", () => {
  test("0600 atomic files, one lock owner until expiry, damaged files set aside", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bobcat-acme-"));
    try {
      const s = new DirectoryStore(dir);
      await s.put("ca/www/cert.pem", "x");
      expect(statSync(join(dir, "ca", "www", "cert.pem")).mode & 0o777).toBe(0o600);
      expect(await s.get("ca/www/cert.pem")).toBe("x");
      expect(await s.tryLock("locks/a", "one", 60_000)).toBe(true);
      expect(await s.tryLock("locks/a", "two", 60_000)).toBe(false);
      await s.unlock("locks/a", "two"); // not the owner: no effect
      expect(await s.tryLock("locks/a", "two", 60_000)).toBe(false);
      await s.unlock("locks/a", "one");
      expect(await s.tryLock("locks/a", "two", 1)).toBe(true);
      await Bun.sleep(5);
      expect(await s.tryLock("locks/a", "three", 60_000)).toBe(true); // expired: taken over
      const aside = await s.setAside("ca/www/cert.pem");
      expect(aside).toContain(".corrupt-");
      expect(await s.get("ca/www/cert.pem")).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

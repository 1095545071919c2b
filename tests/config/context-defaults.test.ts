import { afterAll, describe, expect, test } from "bun:test";
import { loadServerConfig } from "../../src/config/catalina.ts";
import { cleanup, tempDir, writeFiles } from "../helpers/bobcat.ts";

describe("conf/context.xml", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(cleanup));

  test("gives its defaults to every host's configured contexts, deployOnStartup false or no appBase included", async () => {
    const base = tempDir("bobcat-context-defaults-");
    dirs.push(base);
    const context = `<Context path="/a" docBase="${base}/site" />`;
    writeFiles(base, {
      "conf/server.xml": `<Server port="-1"><Service name="Catalina"><Connector port="8080" />
<Engine name="Catalina" defaultHost="deploys">
  <Host name="deploys" appBase="webapps">${context}</Host>
  <Host name="nodeploy" appBase="webapps" deployOnStartup="false">${context}</Host>
  <Host name="noappbase" appBase="missing">${context}</Host>
  <Host name="own" appBase="webapps" deployOnStartup="false"><Context path="/a" docBase="${base}/site" sessionCookieName="OWNID" /></Host>
</Engine></Service></Server>`,
      "conf/context.xml": `<Context sessionCookieName="DEFAULTID" />`,
      "site/index.html": "site",
      "webapps/ROOT/index.html": "root",
    });
    const config = await loadServerConfig({ base, mode: "check", builtin: { name: "builtin", yaml: "" } });
    const cookies = Object.fromEntries(
      config.server.services[0]!.engine.hosts.map((
        h,
      ) => [h.name, h.contexts.map((c) => [c.path, c.sessionCookieName])]),
    );
    expect(cookies).toEqual({
      deploys: [["/a", "DEFAULTID"], ["", "DEFAULTID"]],
      nodeploy: [["/a", "DEFAULTID"]],
      noappbase: [["/a", "DEFAULTID"]],
      own: [["/a", "OWNID"]],
    });
  });
});

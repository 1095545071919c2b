/** Data source resources: validation with the attribute's path, URLs, scopes, and refusals. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDataSources, lookupDataSource, type ResourceConfig } from "../../src/datasource/index.ts";
import { BobcatError } from "../../src/util/errors.ts";

const scratch = mkdtempSync(join(tmpdir(), "bobcat-ds-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function failure(fn: () => unknown): BobcatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BobcatError);
    return err as BobcatError;
  }
  throw new Error("expected an error");
}

async function rejection(p: Promise<unknown>): Promise<BobcatError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BobcatError);
    return err as BobcatError;
  }
  throw new Error("expected a rejection");
}

describe("createDataSources", () => {
  test("URLs: sqlite paths (relative to the base directory), postgres, mysql, and server.xml's jdbc: forms", () => {
    const sources = createDataSources(
      [
        { name: "a", type: "DataSource", url: "sqlite:data/sessions.db" },
        { name: "b", type: "javax.sql.DataSource", url: "sqlite:/var/lib/bobcat/s.db" },
        { name: "c", type: "jakarta.sql.DataSource", url: "postgres://app:secret@db.example:5432/web" },
        { name: "d", url: "jdbc:postgresql://db.example/web", username: "app", password: "x" },
        { name: "e", url: "mysql://app@db.example/web" },
        { name: "f", url: "jdbc:sqlite:rel.db" },
      ],
      { baseDir: "/srv/bobcat" },
    );
    expect(["a", "b", "c", "d", "e", "f"].map((n) => [sources.get(n)!.dialect, sources.get(n)!.location])).toEqual([
      ["sqlite", "/srv/bobcat/data/sessions.db"],
      ["sqlite", "/var/lib/bobcat/s.db"],
      ["postgres", "postgres://app:***@db.example:5432/web"],
      ["postgres", "postgresql://db.example/web"],
      ["mysql", "mysql://app@db.example/web"],
      ["sqlite", "/srv/bobcat/rel.db"],
    ]);
    expect(String(sources.get("c"))).toBe("c (postgres://app:***@db.example:5432/web)");
  });

  test("resources that are not data sources (UserDatabase) are skipped", () => {
    const sources = createDataSources([
      {
        name: "UserDatabase",
        type: "org.apache.catalina.UserDatabase",
        auth: "Container",
        pathname: "conf/tomcat-users.xml",
      },
      {
        name: "jdbc/s",
        type: "javax.sql.DataSource",
        url: "sqlite::memory:",
        auth: "Container",
        driverClassName: "org.sqlite.JDBC",
        maxIdle: 4,
      },
    ] as ResourceConfig[]);
    expect(sources.names()).toEqual(["jdbc/s"]);
  });

  test("bad resources name the attribute, by its config path", () => {
    const path = "server.globalNamingResources.resources";
    const cases: [ResourceConfig[], string, string][] = [
      [[{ name: "", url: "sqlite:x" }], "name", "a resource needs a name"],
      [[{ name: "a", url: "sqlite:x" }, { name: "a", url: "sqlite:y" }], "name", "[a] is defined twice"],
      [[{ name: "a" }], "url", "resource [a] needs a url"],
      [[{ name: "a", url: "oracle://db" }], "url", "[oracle://db] is not a supported database URL"],
      [[{ name: "a", url: "postgres://u:pw@h/db", maxTotl: 3 }], "maxTotl", "[maxTotl] is not a known attribute"],
      [[{ name: "a", url: "sqlite:x", maxTotal: "8" as unknown as number }], "maxTotal", "must be a whole number"],
    ];
    for (const [resources, attribute, message] of cases) {
      const err = failure(() => createDataSources(resources, { path }));
      expect(err.code).toBe("datasource.badResource");
      expect(err.where.attribute).toBe(attribute);
      expect(err.where.path).toStartWith(`${path}[`);
      expect(err.message).toContain(message);
      expect(err.message).not.toContain("pw");
    }
  });

  test("mysql:// opens through mysql2 (a dependency now): an unreachable server is named, not a missing driver", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const sources = createDataSources([{
      name: "jdbc/my",
      url: `mysql://app@127.0.0.1:${port}/web`,
      maxWaitMillis: 2000,
    }]);
    try {
      const err = await rejection(sources.check());
      expect(err.code).not.toBe("datasource.driverMissing");
      expect(err.message).toContain("jdbc/my");
    } finally {
      await sources.close();
    }
  });

  test("check() opens every data source and names the one that fails", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const sources = createDataSources([
      { name: "ok", url: `sqlite:${join(scratch, "ok.db")}` },
      { name: "down", url: `postgres://bobcat@127.0.0.1:${port}/x`, maxWaitMillis: 2000 },
    ]);
    try {
      const err = await rejection(sources.check());
      expect(err.code).toBe("datasource.unreachable");
      expect(err.message).toContain(`data source [down (postgres://bobcat@127.0.0.1:${port}/x)] cannot be opened`);
      expect(err.message).toContain("ECONNREFUSED");
    } finally {
      await sources.close();
    }
  });
});

describe("lookupDataSource (Tomcat's DataSourceStore rule)", () => {
  const global = createDataSources([{ name: "jdbc/s", url: "sqlite::memory:" }, {
    name: "jdbc/g",
    url: "sqlite::memory:",
  }]);
  const local = createDataSources([{ name: "jdbc/s", url: "sqlite::memory:" }, {
    name: "jdbc/l",
    url: "sqlite::memory:",
  }]);

  test("global first, then the context's; localDataSource looks at the context's only", () => {
    expect(lookupDataSource("jdbc/s", { global, local }, false)).toBe(global.get("jdbc/s")!);
    expect(lookupDataSource("jdbc/l", { global, local }, false)).toBe(local.get("jdbc/l")!);
    expect(lookupDataSource("jdbc/s", { global, local }, true)).toBe(local.get("jdbc/s")!);
    expect(lookupDataSource("java:comp/env/jdbc/l", { global, local }, true)).toBe(local.get("jdbc/l")!);
  });

  test("an unknown name lists the ones that exist", () => {
    const err = failure(() => lookupDataSource("jdbc/x", { global, local }, false));
    expect(err.code).toBe("store.noDataSource");
    expect(err.where.attribute).toBe("dataSourceName");
    expect(err.fix).toContain("Defined: jdbc/s (global), jdbc/g (global), jdbc/s (context), jdbc/l (context).");
    expect(failure(() => lookupDataSource("jdbc/g", { global, local }, true)).fix).toContain(
      "is a global resource, but localDataSource is true",
    );
  });
});

/**
 * The consistency attributes through the one config model: `consistency`, RedisStore's
 * attributes and DataSourceStore's sessionVersionCol are schema attributes, checked and defaulted
 * by the validator, and createPersistentManager picks the manager from the typed config.
 */
import { describe, expect, test } from "bun:test";
import { managerConfig, storeConfig } from "../../src/session/config.ts";
import { createPersistentManager } from "../../src/session/consistency.ts";
import { PersistentManager } from "../../src/session/persistent-manager.ts";
import { SharedManager } from "../../src/session/shared-manager.ts";
import { RedisStore, SERVER_STORES } from "../../src/session/stores/index.ts";
import { BobcatError } from "../../src/util/errors.ts";

function error(f: () => unknown): BobcatError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BobcatError);
    return e as BobcatError;
  }
  throw new Error("no error thrown");
}

describe("consistency and RedisStore in the config model", () => {
  test("defaults: consistency sticky, keyPrefix bobcat, sessionVersionCol version", () => {
    const m = managerConfig({ className: "PersistentManager", store: { className: "FileStore" } });
    expect(m.consistency).toBe("sticky");
    const r = storeConfig({ className: "RedisStore", url: "redis://127.0.0.1:6379/0" });
    expect(r).toMatchObject({ className: "RedisStore", keyPrefix: "bobcat" });
    const d = storeConfig({ className: "DataSourceStore", dataSourceName: "jdbc/s" });
    expect(d).toMatchObject({ sessionVersionCol: "version" });
  });

  test("an unknown consistency, a RedisStore without url, a bad url or key prefix name the attribute", () => {
    const e1 = error(() =>
      managerConfig({ className: "PersistentManager", consistency: "eventual" as "shared" } as never)
    );
    expect(e1.where.attribute ?? e1.message).toContain("consistency");
    const e2 = error(() => storeConfig({ className: "RedisStore" }));
    expect(e2.message).toContain("url");
    const e3 = error(() => new RedisStore(storeConfig({ className: "RedisStore", url: "http://x" }) as never));
    expect(e3.where.attribute).toBe("url");
    const e4 = error(() =>
      new RedisStore(storeConfig({ className: "RedisStore", url: "redis://h", keyPrefix: "a b" }) as never)
    );
    expect(e4.where.attribute).toBe("keyPrefix");
  });

  test("sticky is a PersistentManager, shared a SharedManager; shared refuses a FileStore", () => {
    const sticky = managerConfig({ className: "PersistentManager", store: { className: "FileStore" } });
    expect(createPersistentManager(sticky, { workDir: "/tmp", stores: SERVER_STORES })).toBeInstanceOf(
      PersistentManager,
    );
    // Without the server's store classes (an edge runtime) a FileStore is a clear error, not a crash.
    const noFiles = error(() => createPersistentManager(sticky, { workDir: "/tmp" }));
    expect(noFiles.code).toBe("session.noStoreClass");
    expect(noFiles.message).toContain("FileStore is not among the store classes");
    const redis = managerConfig({
      className: "PersistentManager",
      consistency: "shared",
      store: { className: "RedisStore", url: "redis://127.0.0.1:1/0" },
    });
    expect(createPersistentManager(redis, { name: "/Catalina/localhost/app" })).toBeInstanceOf(SharedManager);
    const file = managerConfig({
      className: "PersistentManager",
      consistency: "shared",
      store: { className: "FileStore" },
    });
    const e = error(() => createPersistentManager(file, { workDir: "/tmp" }));
    expect(e.where.attribute).toBe("consistency");
    expect(e.message).toContain("not a FileStore");
  });
});

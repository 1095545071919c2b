/** Preloaded by `bun test` (bunfig.toml): after the whole run, no server started by a test is left. */
import { afterAll } from "bun:test";
import { killLiveServers } from "./bobcat.ts";

afterAll(() => {
  const left = killLiveServers();
  if (left > 0) console.error(`killed ${left} bobcat server(s) that a failed test left running`);
});

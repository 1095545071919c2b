/**
 * setNoDelayOnListener (src/runtime/deno-nodelay.ts) under Deno: it finds the listening socket of
 * a port among the process's descriptors and sets TCP_NODELAY on it, which accepted connections
 * then inherit (checked here on an accepted connection, through libc's getsockopt), and finds
 * nothing for a port this process does not listen on. Linux only, as the function itself.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { DENO, ROOT } from "../helpers/bobcat.ts";

const script = `
import { setNoDelayOnListener } from ${JSON.stringify(join(ROOT, "src/runtime/deno-nodelay.ts"))};
const libc = Deno.dlopen("libc.so.6", {
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
});
const sa = new Uint8Array(128);
const port = (f, fd) => (f(fd, sa, new Uint32Array([128])) === 0 ? (sa[2] << 8) | sa[3] : -1);
/** TCP_NODELAY of the connection accepted on localPort (the socket with that local port and a peer). */
const acceptedNoDelay = (localPort) => {
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    const fd = Number(e.name);
    if (port(libc.symbols.getsockname, fd) !== localPort || port(libc.symbols.getpeername, fd) < 0) continue;
    const v = new Int32Array(1);
    return libc.symbols.getsockopt(fd, 6, 1, v, new Uint32Array([4])) === 0 ? v[0] : -1;
  }
  return -2;
};
async function accepted(l) {
  const client = await Deno.connect({ hostname: "127.0.0.1", port: l.addr.port });
  const conn = await l.accept();
  const v = acceptedNoDelay(l.addr.port);
  conn.close();
  client.close();
  return v;
}
// Unrelated descriptors around the listener, so that it is not the only candidate.
const files = [0, 1, 2].map(() => Deno.openSync(${JSON.stringify(join(ROOT, "package.json"))}));
const plain = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const set = setNoDelayOnListener(l.addr.port);
const unknown = setNoDelayOnListener(1);
console.log(JSON.stringify({ set, unknown, inherited: await accepted(l), without: await accepted(plain) }));
l.close(); plain.close(); for (const f of files) f.close();
`;

describe.skipIf(process.platform !== "linux")("setNoDelayOnListener on Deno", () => {
  test("sets TCP_NODELAY on the port's listener (accepted connections have it), and nothing for another port", () => {
    const r = spawnSync(DENO, ["run", "-A", "--no-config", "-"], {
      input: script,
      encoding: "utf8",
      timeout: 30000,
      env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    });
    expect(r.stderr).not.toContain("error");
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
    // `without`: a listener left alone gives connections without it, so the check can tell.
    expect(out).toEqual({ set: true, unknown: false, inherited: 1, without: 0 });
  });
});

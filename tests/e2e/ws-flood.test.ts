/**
 * A flood of large WebSocket messages from one client, on every back-end (Bun native, Bun
 * node-compat, Deno): messages over webSocketMaxMessageSize are refused (1009) as soon as their
 * header says so, whether announced in one frame or reached through fragments, and the bytes the
 * client keeps pushing are not buffered; a stream of valid messages near the limit is processed
 * and let go. The server process's resident memory (VmRSS from /proc) is read before and after
 * and may grow by a bounded amount only, far below what the client sent.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { cleanup, freePort, type Running, type Runtime, startBobcat, tempDir } from "../helpers/bobcat.ts";

const MAX = 1024 * 1024;
const MiB = 1024 * 1024;

const HANDLER = `
let count = 0, bytes = 0;
export default {
  fetch(req, ctx) {
    return ctx.upgradeWebSocket(req, {
      onMessage(e, ws) {
        if (e.data === "done?") { ws.send(count + " " + bytes); return; }
        count++;
        bytes += typeof e.data === "string" ? e.data.length : e.data.byteLength;
      },
    });
  },
};
`;

/** Resident memory of a process, in bytes. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]) * 1024;
}

/** A client frame header, masked with the all-zero key (so the payload goes as it is). */
function header(op: number, fin: boolean, len: number): Buffer {
  const b0 = (fin ? 0x80 : 0) | op;
  if (len < 126) return Buffer.from([b0, 0x80 | len, 0, 0, 0, 0]);
  if (len < 65536) {
    const h = Buffer.from([b0, 0x80 | 126, 0, 0, 0, 0, 0, 0]);
    h.writeUInt16BE(len, 2);
    return h;
  }
  const h = Buffer.alloc(14);
  h[0] = b0;
  h[1] = 0x80 | 127;
  h.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
  h.writeUInt32BE(len >>> 0, 6);
  return h;
}

interface Raw {
  s: Socket;
  /** Bytes after the 101 answer. */
  data: () => Buffer;
  closed: Promise<void>;
  /** Settles once the server's close frame has come. */
  closeSeen: Promise<void>;
  /** Writes, waiting for the socket to drain; false once the server has closed. */
  write(b: Buffer): Promise<boolean>;
}

async function upgrade(port: number): Promise<Raw> {
  const s = connect(port, "127.0.0.1");
  let buf = Buffer.alloc(0);
  let upgraded = false;
  let dead = false;
  const closed = new Promise<void>((r) => s.on("close", () => ((dead = true), r())));
  let closeFrame = () => {};
  const closeSeen = new Promise<void>((r) => (closeFrame = r));
  s.on("error", () => (dead = true));
  const ready = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no 101 within 5 s")), 5000);
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (upgraded && closeCode(buf) !== undefined) closeFrame();
      if (!upgraded) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.subarray(0, end).toString("latin1");
        if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(head));
        upgraded = true;
        buf = buf.subarray(end + 4);
        clearTimeout(t);
        resolve();
      }
    });
  });
  await new Promise((r) => s.once("connect", r));
  s.write(
    `GET /ws HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n`,
  );
  await ready;
  return {
    s,
    data: () => buf,
    closed,
    closeSeen,
    write: async (b) => {
      // A client stops sending once the server has closed (its close frame came) or hung up.
      if (dead || closeCode(buf) !== undefined) return false;
      if (!s.write(b)) {
        await Promise.race([new Promise((r) => s.once("drain", r)), closed, closeSeen, Bun.sleep(5000)]);
      }
      return !dead && closeCode(buf) === undefined;
    },
  };
}

/** The close code in the server's close frame, if one came. */
function closeCode(data: Buffer): number | undefined {
  let off = 0;
  while (off + 2 <= data.length) {
    const op = data[off]! & 0x0f;
    let len = data[off + 1]! & 0x7f;
    let p = off + 2;
    if (len === 126) (len = data.readUInt16BE(p)), (p += 2);
    else if (len === 127) (len = data.readUInt32BE(p + 4)), (p += 8);
    if (op === 8) return len >= 2 ? data.readUInt16BE(p) : 1005;
    off = p + len;
  }
  return undefined;
}

const COMBOS: Array<{ runtime: Runtime; backend: string; env?: Record<string, string> }> = [
  { runtime: "bun", backend: "native" },
  { runtime: "bun", backend: "node-compat", env: { BOBCAT_BACKEND: "node-compat" } },
  { runtime: "deno", backend: "node-compat" },
];

for (const { runtime, backend, env } of COMBOS) {
  describe(`WebSocket flood (${runtime}, ${backend})`, () => {
    let srv: Running;
    let base: string;
    let port: number;

    beforeAll(async () => {
      port = await freePort();
      base = tempDir();
      srv = await startBobcat({
        runtime,
        base,
        env,
        files: { "handler.js": HANDLER },
        config: `
server:
  services:
    - connectors:
        - port: ${port}
          address: 127.0.0.1
          webSocketEnabled: true
          webSocketMaxMessageSize: ${MAX}
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: handler.js
`,
      });
    }, 30000);
    afterAll(async () => {
      await srv?.stop();
      cleanup(base);
    });

    test("oversize messages are refused with 1009 without buffering them; memory stays bounded", async () => {
      const pid = srv.proc.pid!;
      // Warm-up: one valid message, so that the first socket's one-time costs are not counted.
      const warm = await upgrade(port);
      await warm.write(Buffer.concat([header(2, true, 1000), Buffer.alloc(1000)]));
      warm.s.destroy();
      await Bun.sleep(300);
      const before = rss(pid);
      const chunk = Buffer.alloc(MiB, 0x61);
      let offered = 0;

      // 1. Clients in a row each announce one 256 MiB frame and try to send all of it.
      for (let i = 0; i < 6; i++) {
        const c = await upgrade(port);
        await c.write(header(2, true, 256 * MiB));
        for (let sent = 0; sent < 256 && (await c.write(chunk)); sent++) offered += MiB;
        await Promise.race([c.closed, c.closeSeen, Bun.sleep(5000)]);
        expect(closeCode(c.data())).toBe(1009);
        c.s.destroy();
      }
      // 2. Fragments of 64 KiB that add up past the limit: refused at the limit.
      for (let i = 0; i < 4; i++) {
        const c = await upgrade(port);
        const frag = Buffer.alloc(64 * 1024, 0x62);
        let first = true;
        for (let n = 0; n < 4096; n++) {
          const ok = await c.write(Buffer.concat([header(first ? 2 : 0, false, frag.length), frag]));
          first = false;
          if (!ok) break;
          offered += frag.length;
        }
        await Promise.race([c.closed, c.closeSeen, Bun.sleep(5000)]);
        expect(closeCode(c.data())).toBe(1009);
        c.s.destroy();
      }
      await Bun.sleep(500);
      const after = rss(pid);
      const growth = after - before;
      console.log(
        `${runtime}/${backend}: RSS ${(before / MiB).toFixed(1)} → ${(after / MiB).toFixed(1)} MiB after ${
          (offered / MiB).toFixed(0)
        } MiB offered in oversize messages`,
      );
      expect(growth).toBeLessThan(64 * MiB);
    }, 60000);

    test("a stream of valid messages near the limit is processed and let go; memory stays bounded", async () => {
      const pid = srv.proc.pid!;
      const c = await upgrade(port);
      const msg = Buffer.concat([header(2, true, MAX - 1024), Buffer.alloc(MAX - 1024, 0x63)]);
      let sent = 1;
      let bytes = 1000;
      /** Sends n messages, then asks the server what it has seen (the warm-up counted one). */
      const round = async (n: number) => {
        for (let i = 0; i < n; i++) expect(await c.write(msg)).toBe(true);
        sent += n;
        bytes += n * (MAX - 1024);
        const mark = c.data().length;
        await c.write(Buffer.concat([header(1, true, 5), Buffer.from("done?")]));
        const deadline = Date.now() + 20000;
        let answer = "";
        while (Date.now() < deadline && !answer) {
          const d = c.data().subarray(mark);
          if (d.length >= 2 && (d[0]! & 0x0f) === 1 && d.length >= 2 + (d[1]! & 0x7f)) {
            answer = d.subarray(2, 2 + (d[1]! & 0x7f)).toString();
          } else await Bun.sleep(20);
        }
        expect(answer).toBe(`${sent} ${bytes}`);
      };
      // The first round lets the runtime size its heap; the next four (600 MiB) must not add to it
      // beyond a bound far below what they carried (holding on to them would add 600 MiB). The
      // bound leaves room for the allocator: on Deno's node-compat back-end glibc keeps freed
      // read buffers in its heap rather than returning them (+17 to +128 MiB seen after 300 MiB,
      // with V8's heap and external memory flat throughout), and that does not grow with the volume.
      const SENT = 600;
      const BOUND = 192 * MiB;
      await round(50);
      await Bun.sleep(300);
      const before = rss(pid);
      for (let r = 0; r < SENT / 150; r++) await round(150);
      c.s.destroy();
      // The runtime gives garbage back when its collector gets to it: the lowest RSS over a few
      // seconds (a server holding the messages would stay ~600 MiB up however long it is given).
      let after = Infinity;
      // Up to 10 s: Deno's collector has been seen to give it back only after 5 s on a busy machine.
      for (let waited = 0; waited < 10000 && !(after - before < BOUND); waited += 250) {
        await Bun.sleep(250);
        after = Math.min(after, rss(pid));
      }
      console.log(
        `${runtime}/${backend}: RSS ${(before / MiB).toFixed(1)} → ${(after / MiB).toFixed(1)} MiB after ${
          (SENT * MAX / MiB).toFixed(0)
        } MiB more of valid messages`,
      );
      expect(after - before).toBeLessThan(BOUND);
    }, 60000);
  });
}

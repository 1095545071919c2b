/**
 * Deno.serve never sets TCP_NODELAY on its TLS connections, so every HTTPS response of a few
 * KB waits ~40 ms for a delayed ACK (Nagle); measured in bench/probes/deno-https-stall.ts. No
 * option reaches that socket, but Linux copies TCP_NODELAY from a listening socket to the
 * connections it accepts: set it on the listener through libc, from onListen, before the first
 * accept. Returns false where that cannot be done (not Linux, no FFI permission).
 *
 * Only the descriptors in /proc/self/fd are tried (a handful): each FFI call costs about 10 µs
 * before the JIT has seen it, so trying all of 3–4095 took ~50 ms of CPU at every start.
 *
 * The symbols return their int as a one-field struct: Deno compiles a fast-call trampoline with
 * Cranelift for every symbol whose types are all scalars, which left ~1.5 MiB more of Deno's
 * machine code resident for the life of the server (bench/probes/deno-idle-parts.ts); a struct
 * result takes libffi's generic path instead. A struct of one int is returned in the same
 * register as the int on every Linux ABI Deno runs on (x86-64, aarch64), and only "is it 0" is
 * read, so byte order does not matter.
 */
declare const Deno: {
  build: { os: string };
  readDirSync(path: string): Iterable<{ name: string }>;
  dlopen(path: string, symbols: Record<string, { parameters: string[]; result: { struct: string[] } }>): {
    symbols: Record<string, (...args: unknown[]) => Uint8Array>;
    close(): void;
  };
};

const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const AF_INET = 2;
const AF_INET6 = 10;
/** An int result as a struct of one int: see above. */
const INT = { struct: ["i32"] };
/** Whether a call returned 0 (success for these three). */
const ok = (result: Uint8Array) => result.every((b) => b === 0);

export function setNoDelayOnListener(port: number): boolean {
  if (Deno.build.os !== "linux") return false;
  let lib: ReturnType<typeof Deno.dlopen>;
  try {
    lib = Deno.dlopen("libc.so.6", {
      setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: INT },
      getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: INT },
      getsockname: { parameters: ["i32", "buffer", "buffer"], result: INT },
    });
  } catch {
    return false;
  }
  let done = false;
  try {
    // The listener's descriptor is not exposed: find the listening socket bound to our port.
    const sa = new Uint8Array(128);
    const len = new Uint32Array(1);
    for (const fd of openDescriptors()) {
      len[0] = sa.length;
      if (!ok(lib.symbols.getsockname!(fd, sa, len))) continue;
      const family = sa[0]! | (sa[1]! << 8);
      if ((family !== AF_INET && family !== AF_INET6) || ((sa[2]! << 8) | sa[3]!) !== port) continue;
      const listening = new Int32Array(1);
      if (
        !ok(lib.symbols.getsockopt!(fd, SOL_SOCKET, SO_ACCEPTCONN, listening, new Uint32Array([4]))) ||
        listening[0] !== 1
      ) continue;
      if (ok(lib.symbols.setsockopt!(fd, IPPROTO_TCP, TCP_NODELAY, new Int32Array([1]), 4))) done = true;
    }
  } finally {
    lib.close();
  }
  return done;
}

/** This process's open descriptors above stdio, or all of 3–4095 when /proc cannot be read. */
function openDescriptors(): number[] {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name)).filter((n) => n > 2);
  } catch {
    return Array.from({ length: 4093 }, (_, i) => i + 3);
  }
}

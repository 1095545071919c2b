/**
 * Per-connection control for the native Deno back-end. Deno.serve has no idle, header or TLS
 * handshake timeout and no connection count (measured: 1,000 idle and 1,000 slowloris
 * connections all open after 45 s). bobcat therefore accepts connections itself and serves each
 * one with Deno's own HTTP engine through `Deno[Deno.internal].serveHttpOnConnection` (the
 * function Deno.serve's listener loop is built on), so the ConnectionGate can count, hold and
 * close them. That function is internal: `denoConnectionControl()` feature-tests it, and the plan
 * picks the node-compat back-end when it is missing.
 *
 * Aborting a connection's server closes it, except while its TLS handshake is still pending
 * (no ClientHello yet): the socket then belongs to a blocked handshake and no Deno API can
 * close it. `shutdownSockets` does it through libc's shutdown(2) (the same FFI route as
 * deno-nodelay.ts), which ends the handshake with an error.
 */
declare const Deno: {
  build: { os: string };
  internal: symbol;
  permissions: { querySync?(d: { name: string }): { state: string } };
  readDirSync(path: string): Iterable<{ name: string }>;
  dlopen(path: string, symbols: Record<string, { parameters: string[]; result: string }>): {
    symbols: Record<string, (...args: unknown[]) => number>;
    close(): void;
  };
};

export interface DenoHttpServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

export type ServeOnConnection = (
  conn: unknown,
  signal: AbortSignal,
  handler: (req: Request, info: { completed: Promise<void> }) => Response | Promise<Response>,
  onError: (e: unknown) => Response | Promise<Response>,
  onListen: (scheme: string) => void,
) => DenoHttpServer;

function internals(): { serveHttpOnConnection?: ServeOnConnection } | undefined {
  const d = (globalThis as unknown as { Deno?: typeof Deno }).Deno;
  if (!d?.internal) return undefined;
  return (d as unknown as Record<symbol, { serveHttpOnConnection?: ServeOnConnection }>)[d.internal];
}

export function serveOnConnection(): ServeOnConnection | undefined {
  const f = internals()?.serveHttpOnConnection;
  return typeof f === "function" ? f : undefined;
}

function ffiGranted(): boolean {
  const d = (globalThis as unknown as { Deno?: typeof Deno }).Deno;
  try {
    return d?.build.os === "linux" && d.permissions.querySync?.({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

/**
 * Why the native Deno back-end cannot enforce connection limits and timeouts here, or
 * undefined when it can (TLS needs the FFI route for handshakes that never start).
 */
export function denoConnectionControl(tls: boolean): string | undefined {
  if (!serveOnConnection()) {
    return "this Deno has no Deno[Deno.internal].serveHttpOnConnection to serve connections bobcat accepts itself";
  }
  if (tls && !ffiGranted()) {
    return "closing TLS connections that never send a ClientHello needs Linux and FFI permission (--allow-ffi)";
  }
  return undefined;
}

const SHUT_RDWR = 2;

/**
 * shutdown(2) on the sockets of this process whose local port is `localPort` and whose peer
 * port is in `peerPorts`. One pass over the open descriptors for a whole batch.
 */
export function shutdownSockets(localPort: number, peerPorts: Set<number>): number {
  if (peerPorts.size === 0) return 0;
  let lib: ReturnType<typeof Deno.dlopen>;
  try {
    lib = Deno.dlopen("libc.so.6", {
      shutdown: { parameters: ["i32", "i32"], result: "i32" },
      getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
      getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
    });
  } catch {
    return 0;
  }
  let fds: number[];
  try {
    fds = [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name)).filter((n) => n > 2);
  } catch {
    fds = Array.from({ length: 4093 }, (_, i) => i + 3);
  }
  const portOf = (sa: Uint8Array) => (sa[2]! << 8) | sa[3]!;
  let done = 0;
  try {
    const sa = new Uint8Array(128);
    for (const fd of fds) {
      if (lib.symbols.getsockname!(fd, sa, new Uint32Array([128])) !== 0 || portOf(sa) !== localPort) continue;
      if (lib.symbols.getpeername!(fd, sa, new Uint32Array([128])) !== 0 || !peerPorts.has(portOf(sa))) continue;
      if (lib.symbols.shutdown!(fd, SHUT_RDWR) === 0) done++;
    }
  } finally {
    lib.close();
  }
  return done;
}

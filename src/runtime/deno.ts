/** The native Deno back-end: Deno.serve, with rustls doing TLS (one certificate, TLS 1.2+1.3). */
import { listenError, type BackendOptions, type Listener } from "./listener.ts";
import { setNoDelayOnListener } from "./deno-nodelay.ts";
import { logger } from "../util/log.ts";

declare const Deno: {
  serve(
    options: Record<string, unknown>,
    handler: (req: Request, info: { remoteAddr: { hostname: string; port: number } }) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void>; finished: Promise<void> };
};

export async function startDenoNative({ config, tls, pipeline }: BackendOptions): Promise<Listener> {
  const handle = pipeline.handle;
  interface Running {
    server: ReturnType<typeof Deno.serve>;
    abort: AbortController;
    finished: boolean;
    shutdown?: Promise<void>;
  }
  const serve = (t: typeof tls, port: number): Running => {
    const cert = t?.defaultHost.certs[0];
    const abort = new AbortController();
    const server = Deno.serve(
      {
        port,
        hostname: config.address ?? "0.0.0.0",
        signal: abort.signal,
        ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
        onListen(addr: { port: number; hostname: string }) {
          if (cert && !setNoDelayOnListener(addr.port)) {
            logger("connector").warn(`${config.name}: could not set TCP_NODELAY on the listener (needs Linux and FFI permission); HTTPS responses of a few KB will wait ~40 ms each on Deno`);
          }
        },
        onError(e: unknown) {
          return new Response(`HTTP Status 500 – ${(e as Error).message}`, { status: 500 });
        },
      },
      (req, info) => handle(req, { remoteAddr: info.remoteAddr.hostname, remotePort: info.remoteAddr.port }),
    );
    const r: Running = { server, abort, finished: false };
    void server.finished.then(() => (r.finished = true));
    return r;
  };
  let current: Running;
  try {
    current = serve(tls, config.port);
  } catch (e) {
    throw listenError(e, config);
  }
  const retired: Running[] = [];
  const close = async (r: Running) => {
    // Aborting a server that already finished throws inside Deno's listener: only abort stragglers.
    await Promise.race([r.server.finished, new Promise((res) => setTimeout(res, 200))]);
    if (!r.finished) r.abort.abort();
    await Promise.race([r.server.finished, new Promise((res) => setTimeout(res, 1000))]);
  };
  return {
    get port() {
      return current.server.addr.port;
    },
    stopAccepting: async () => {
      // shutdown() stops accepting and lets requests in flight finish.
      current.shutdown ??= current.server.shutdown();
    },
    closeAll: async () => {
      await Promise.all([current, ...retired].map(close));
    },
    reloadTls: async (next) => {
      const old = current;
      const port = old.server.addr.port;
      old.shutdown ??= old.server.shutdown();
      retired.push(old);
      for (let attempt = 0; ; attempt++) {
        try {
          current = serve(next, port);
          return;
        } catch (e) {
          if (attempt >= 50) throw listenError(e, config);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    },
  };
}

/** The native Deno back-end: Deno.serve, with rustls doing TLS (one certificate, TLS 1.2+1.3). */
import { listenError, type BackendOptions, type Listener } from "./listener.ts";

declare const Deno: {
  serve(
    options: Record<string, unknown>,
    handler: (req: Request, info: { remoteAddr: { hostname: string; port: number } }) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void>; finished: Promise<void> };
};

export async function startDenoNative({ config, tls, pipeline }: BackendOptions): Promise<Listener> {
  const cert = tls?.defaultHost.certs[0];
  const handle = pipeline.handle;
  let server: ReturnType<typeof Deno.serve>;
  const abort = new AbortController();
  try {
    server = Deno.serve(
      {
        port: config.port,
        hostname: config.address ?? "0.0.0.0",
        signal: abort.signal,
        ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
        onListen() {},
        onError(e: unknown) {
          return new Response(`HTTP Status 500 – ${(e as Error).message}`, { status: 500 });
        },
      },
      (req, info) => handle(req, { remoteAddr: info.remoteAddr.hostname, remotePort: info.remoteAddr.port }),
    );
  } catch (e) {
    throw listenError(e, config);
  }
  let shutdown: Promise<void> | undefined;
  let finished = false;
  void server.finished.then(() => (finished = true));
  return {
    port: server.addr.port,
    stopAccepting: async () => {
      // shutdown() stops accepting and lets requests in flight finish.
      shutdown ??= server.shutdown();
    },
    closeAll: async () => {
      // Aborting a server that already finished throws inside Deno's listener: only abort stragglers.
      await Promise.race([server.finished, new Promise((r) => setTimeout(r, 200))]);
      if (!finished) abort.abort();
      await Promise.race([server.finished, new Promise((r) => setTimeout(r, 1000))]);
    },
  };
}

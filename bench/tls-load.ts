/**
 * A keep-alive HTTPS load client that can present a client certificate, which wrk cannot:
 * CONNECTIONS TLS connections, one request in flight on each (as wrk), GET / again as soon as
 * the previous response is complete, for SECONDS. Prints one JSON line:
 * {"requests":N,"seconds":S,"errors":E}. Used by bench/side-by-side.ts for the client-certificate
 * row, against the same servers with and without a certificate, so the client's own cost is the
 * same on both sides of the ratio.
 *
 *   deno run -A bench/tls-load.ts PORT CONNECTIONS SECONDS [CERT KEY]   (bun works too, but see side-by-side.ts)
 */
import { readFileSync } from "node:fs";
import { connect } from "node:tls";

const [port, conns, secs, certFile, keyFile] = process.argv.slice(2);
const cert = certFile ? readFileSync(certFile, "utf8") : undefined;
const key = keyFile ? readFileSync(keyFile, "utf8") : undefined;
const REQUEST = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
const seconds = Number(secs);
let requests = 0;
const perConnection: number[] = [];
let errors = 0;
const t0 = performance.now();
const end = t0 + seconds * 1000;

function connection(): Promise<void> {
  return new Promise((resolve) => {
    const index = perConnection.push(0) - 1;
    const s = connect({
      host: "127.0.0.1",
      port: Number(port),
      servername: "localhost",
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
      cert,
      key,
    });
    let buf = "";
    const finish = () => {
      clearTimeout(guard);
      s.destroy();
      resolve();
    };
    const guard = setTimeout(finish, (seconds + 10) * 1000);
    s.once("secureConnect", () => s.write(REQUEST));
    s.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      for (;;) {
        const head = buf.indexOf("\r\n\r\n");
        if (head < 0) return;
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(buf.slice(0, head));
        let total: number;
        if (length) total = head + 4 + Number(length[1]);
        else {
          const last = buf.indexOf("\r\n0\r\n\r\n", head); // chunked: the last chunk
          if (last < 0) return;
          total = last + 7;
        }
        if (buf.length < total) return;
        if (buf.startsWith("HTTP/1.1 200")) {
          requests++;
          perConnection[index]!++;
        } else errors++;
        buf = buf.slice(total);
        if (performance.now() >= end) return finish();
        s.write(REQUEST);
      }
    });
    s.on("error", (e) => {
      if (process.env.BENCH_DEBUG) console.error(`connection ${index}: ${e.message}`);
      errors++;
      finish();
    });
    s.on("close", finish);
  });
}

await Promise.all(Array.from({ length: Number(conns) }, connection));
console.log(JSON.stringify({
  requests,
  seconds: (performance.now() - t0) / 1000,
  errors,
  ...(process.env.BENCH_DEBUG ? { perConnection } : {}),
}));
process.exit(0);

/**
 * Deno's first TLS handshake of a process waits ~35 ms for its crypto library to set up the
 * random number generator it draws the handshake's secrets from, once per process (a raw
 * `Deno.listenTls`: first handshake ~40 ms, the next ~1.5 ms; bench/probes/deno-tls-first.ts).
 * Web Crypto uses the same library: generating a P-256 key pair pays that set-up on one of
 * Deno's blocking-task threads, not on the event loop. Asked for as soon as a start knows it will
 * serve TLS on Deno, the set-up runs while the start reads its certificates and handlers, and
 * the first client's handshake no longer waits for it. The key is dropped.
 */
export function warmDenoTlsRandom(): void {
  crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]).catch(() => {});
}

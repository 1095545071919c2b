/**
 * -importcert, keytool's two cases:
 *  - a new alias: the (first) certificate becomes a trusted entry; a self-signed one, or one that
 *    does not chain to a certificate already trusted, needs a "yes" unless -noprompt;
 *  - an existing key entry: the file is the CA's reply. The certificate whose public key is the
 *    entry's becomes the leaf; a single certificate is chained up through the keystore's
 *    certificates (and the system CAs with -trustcacerts), several are ordered and verified
 *    among themselves, and the entry's chain is replaced.
 */
import type { X509Certificate } from "@peculiar/x509";
import tls from "node:tls";
import { equal } from "../../tls/keystore/bytes.ts";
import {
  brokenLink,
  buildPath,
  isSelfIssued,
  namedIssuer,
  sameCert,
  signedBy,
  spkiOf,
} from "../../tls/keystore/certs.ts";
import { findEntry, type PrivateKeyEntry } from "../../tls/keystore/index.ts";
import { parseCertificates, readInput } from "./certfile.ts";
import { KeytoolError } from "./args.ts";
import { certificateText } from "./cert-text.ts";
import type { Ctx } from "./context.ts";
import { openStore, saveStore, type StoreHandle } from "./store.ts";

let systemRoots: X509Certificate[] | undefined;

/** The runtime's CA bundle stands in for Java's cacerts with -trustcacerts. */
function caCerts(): X509Certificate[] {
  systemRoots ??= tls.rootCertificates.flatMap((pem) => {
    try {
      return parseCertificates(new TextEncoder().encode(pem));
    } catch {
      return [];
    }
  });
  return systemRoots;
}

function anchors(ctx: Ctx, h: StoreHandle): X509Certificate[] {
  const own = h.store.entries.flatMap((e) => (e.kind === "trustedCert" ? [e.cert] : e.chain.slice(0, 1)));
  return ctx.args.flags.has("trustcacerts") ? [...own, ...caCerts()] : own;
}

/** A verified path from `cert` up to a self-signed certificate among `pool` (keytool's buildChain). */
async function chainUp(
  cert: X509Certificate,
  pool: X509Certificate[],
  depth = 0,
): Promise<X509Certificate[] | undefined> {
  if (isSelfIssued(cert)) return [cert];
  if (depth > 10) return undefined;
  for (const issuer of pool.filter((c) => namedIssuer(cert, c) && !sameCert(c, cert))) {
    if ((await signedBy(cert, issuer)) === false) continue;
    const rest = await chainUp(issuer, pool, depth + 1);
    if (rest) return [cert, ...rest];
  }
  return undefined;
}

async function yes(ctx: Ctx, question: string): Promise<boolean> {
  const a = await ctx.prompter.ask(question);
  return a !== null && /^(y|yes)$/i.test(a.trim());
}

export async function importcert(ctx: Ctx): Promise<number> {
  const noprompt = ctx.args.flags.has("noprompt");
  const certs = parseCertificates(await readInput(ctx, "file"));
  const h = await openStore(ctx, { create: true });
  const alias = ctx.args.values.alias ?? "mykey";
  const existing = findEntry(h.store, alias);
  if (existing?.kind === "privateKey") return await installReply(ctx, h, existing, certs, noprompt);
  if (existing) throw new KeytoolError(`Certificate not imported, alias <${alias}> already exists`);

  const cert = certs[0];
  if (!noprompt) {
    const dup = h.store.entries.find((e) => e.kind === "trustedCert" && sameCert(e.cert, cert));
    let trusted = false;
    if (dup) {
      ctx.info(`Certificate already exists in keystore under alias <${dup.alias}>`);
      if (!(await yes(ctx, "Do you still want to add it? [no]:  "))) return notAdded(ctx);
      trusted = true;
    } else if (!isSelfIssued(cert)) {
      trusted = (await chainUp(cert, anchors(ctx, h))) !== undefined;
    } else if ((await signedBy(cert, cert)) === false) {
      throw new KeytoolError("Self-signed certificate does not verify with its own key");
    }
    if (!trusted) {
      ctx.io.stdout.write(certificateText(cert));
      if (!(await yes(ctx, "Trust this certificate? [no]:  "))) return notAdded(ctx);
    }
  }
  h.store.entries.push({ kind: "trustedCert", alias, date: new Date(), cert });
  await saveStore(ctx, h);
  ctx.info("Certificate was added to keystore");
  return 0;
}

function notAdded(ctx: Ctx): number {
  ctx.info("Certificate was not added to keystore");
  return 1;
}

async function installReply(
  ctx: Ctx,
  h: StoreHandle,
  entry: PrivateKeyEntry,
  reply: X509Certificate[],
  noprompt: boolean,
): Promise<number> {
  const current = entry.chain[0];
  if (!current) throw new KeytoolError(`Alias <${entry.alias}> has no certificate`);
  const leaf = reply.find((c) => equal(spkiOf(c), spkiOf(current)));
  if (!leaf) {
    throw new KeytoolError(
      "Public keys in reply and keystore don't match",
      `the reply was issued for another key: create a CSR from this entry with -certreq -alias ${entry.alias} and send that to the CA`,
    );
  }
  if (reply.length === 1 && sameCert(leaf, current)) {
    throw new KeytoolError("Certificate reply and certificate in keystore are identical");
  }

  let chain: X509Certificate[];
  if (reply.length === 1) {
    const up = await chainUp(leaf, anchors(ctx, h));
    if (!up) {
      throw new KeytoolError(
        "Failed to establish chain from reply",
        `import the CA's root (and intermediate) certificates first: bobcat keytool -importcert -alias root -trustcacerts -file <ca.pem> -keystore ${h.path}`,
      );
    }
    chain = up;
  } else {
    const { path, unused } = buildPath(leaf, reply);
    if (unused.length) {
      throw new KeytoolError(
        `Certificate reply does not contain a single chain: [${unused[0].subject}] does not link to [${leaf.subject}]`,
      );
    }
    const broken = await brokenLink(path);
    if (broken) throw new KeytoolError(`Certificate chain in reply does not verify: ${broken.reason}`);
    chain = path;
    const top = path[path.length - 1];
    if (!noprompt) {
      // Like keytool: append the trusted root that issued the top certificate, or ask.
      const pool = anchors(ctx, h);
      const root = pool.find((c) => sameCert(c, top)) ??
        (isSelfIssued(top) ? undefined : pool.find((c) => namedIssuer(top, c)));
      if (root && !sameCert(root, top)) chain = [...path, root];
      else if (!root) {
        ctx.io.stdout.write(certificateText(top));
        if (!(await yes(ctx, "... is not trusted. Install reply anyway? [no]:  "))) {
          throw new KeytoolError("Failed to establish chain from reply");
        }
      }
    }
  }
  entry.chain = chain;
  await saveStore(ctx, h);
  ctx.info("Certificate reply was installed in keystore");
  return 0;
}

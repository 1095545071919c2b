/**
 * `bobcat ca`: a test/dev CA in a directory, laid out so a real OpenSSL responder can serve it:
 *   openssl ocsp -index D/index.txt -CA D/ca.pem -rsigner D/ocsp.pem -rkey D/ocsp-key.pem -port 8088
 * Returns the exit code (0 ok, 1 error, 2 usage).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import process from "node:process";
import { BobcatError, UsageError } from "../../util/errors.ts";
import { parseCertificate } from "../keystore/certs.ts";
import { Asn1Error } from "../keystore/der.ts";
import { parsePem, PemError } from "../keystore/pem.ts";
import { entryFor, formatIndex, parseIndex, revokedOf, revokeEntry } from "./index-txt.ts";
import { type CaKeyType, type CaMaterial, createCa, issueCertificate, issueOcspSigner, makeCrl } from "./issue.ts";
import { writeFileAtomic } from "../../util/atomic-file.ts";

export interface CaIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export const CA_HELP = `Usage: bobcat ca <command> [options]

A small certificate authority for tests and development. It writes certificates with the
OCSP responder URL in authorityInfoAccess (as the SSL how-to's openssl.cnf does), keeps an
openssl-compatible index.txt, and makes CRLs, so that a real OpenSSL responder can serve it:

  openssl ocsp -index D/index.txt -CA D/ca.pem -rsigner D/ocsp.pem -rkey D/ocsp-key.pem -port 8088

Commands:
  init    --dir D [--cn NAME] [--key-type RSA|EC] [--days N]
          [--ocsp-url URL] [--crl-url URL] [--force]
          Create the CA in D: ca.pem, ca-key.pem, a delegated OCSP signer (ocsp.pem,
          ocsp-key.pem), index.txt, crlnumber. --ocsp-url and --crl-url become the defaults
          that 'issue' writes into certificates (kept in D/ca.json). --force replaces an
          existing CA.
  issue   --dir D --cn NAME --out PREFIX [--san dns:NAME,ip:ADDR,...] [--client] [--server]
          [--key-type RSA|EC] [--days N] [--ocsp-url URL] [--crl-url URL]
          Issue a certificate: PREFIX.pem (certificate), PREFIX-key.pem (unencrypted PKCS#8
          key, mode 0600) and PREFIX-chain.pem (certificate + CA). A server certificate by
          default; --client makes a client certificate (both flags: both usages). Recorded as
          V in index.txt and copied to D/certs/<SERIAL>.pem.
  revoke  --dir D --cert FILE [--reason REASON]
          Mark the certificate R in index.txt. Reasons: unspecified, keyCompromise,
          CACompromise, affiliationChanged, superseded, cessationOfOperation,
          certificateHold, removeFromCRL.
  crl     --dir D --out FILE [--days N]
          Write a CRL (PEM) of every revoked certificate, valid N days (default 30), for
          certificateRevocationListFile or 'openssl verify -crl_check'.

Options:
  -h, --help   this help

Keys are written unencrypted: this CA is for tests and development, not for production.`;

const FLAGS = new Set(["client", "server", "force", "help"]);
const COMMAND_OPTIONS: Record<string, string[]> = {
  init: ["dir", "cn", "key-type", "days", "ocsp-url", "crl-url", "force"],
  issue: ["dir", "cn", "out", "san", "client", "server", "key-type", "days", "ocsp-url", "crl-url"],
  revoke: ["dir", "cert", "reason"],
  crl: ["dir", "out", "days"],
};

function parseArgs(argv: string[]): { command: string; opts: Record<string, string | true> } {
  const [command, ...rest] = argv;
  if (!command || command === "-h" || command === "--help" || command === "help") return { command: "help", opts: {} };
  const allowed = COMMAND_OPTIONS[command];
  if (!allowed) {
    throw new UsageError(`unknown ca command "${command}" (commands: ${Object.keys(COMMAND_OPTIONS).join(", ")})`);
  }
  const opts: Record<string, string | true> = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "-h" || a === "--help") return { command: "help", opts: {} };
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || !allowed.includes(m[1])) {
      throw new UsageError(`ca ${command}: unknown option "${a}" (options: ${allowed.map((o) => "--" + o).join(" ")})`);
    }
    if (FLAGS.has(m[1])) {
      if (m[2] !== undefined) throw new UsageError(`ca ${command}: --${m[1]} takes no value`);
      opts[m[1]] = true;
    } else {
      const v = m[2] ?? rest[++i];
      if (v === undefined || (m[2] === undefined && v.startsWith("--"))) {
        throw new UsageError(`ca ${command}: --${m[1]} needs a value`);
      }
      opts[m[1]] = v;
    }
  }
  return { command, opts };
}

function need(opts: Record<string, string | true>, name: string, command: string): string {
  const v = opts[name];
  if (typeof v !== "string" || !v) throw new UsageError(`ca ${command}: --${name} is required`);
  return v;
}

function days(opts: Record<string, string | true>): number | undefined {
  if (opts.days === undefined) return undefined;
  const n = Number(opts.days);
  if (!/^\d+$/.test(String(opts.days)) || n < 1) {
    throw new UsageError(`--days must be a positive whole number, not "${opts.days}"`);
  }
  return n;
}

function keyType(opts: Record<string, string | true>): CaKeyType | undefined {
  if (opts["key-type"] === undefined) return undefined;
  const t = String(opts["key-type"]).toUpperCase();
  if (t !== "RSA" && t !== "EC") throw new UsageError(`--key-type must be RSA or EC, not "${opts["key-type"]}"`);
  return t;
}

/** An interrupted run never leaves a half-written index or key. */
function writeAtomic(file: string, data: string, mode = 0o644): Promise<void> {
  return writeFileAtomic(file, data, { mode });
}

interface CaDir {
  dir: string;
  ca: CaMaterial;
  defaults: { ocspUrl?: string; crlUrl?: string };
}

const paths = (dir: string) => ({
  cert: join(dir, "ca.pem"),
  key: join(dir, "ca-key.pem"),
  ocspCert: join(dir, "ocsp.pem"),
  ocspKey: join(dir, "ocsp-key.pem"),
  index: join(dir, "index.txt"),
  attr: join(dir, "index.txt.attr"),
  crlnumber: join(dir, "crlnumber"),
  conf: join(dir, "ca.json"),
  certs: join(dir, "certs"),
});

async function openCa(dir: string): Promise<CaDir> {
  const p = paths(dir);
  if (!existsSync(p.cert) || !existsSync(p.key)) {
    throw new BobcatError("ca.notFound", `${dir} holds no CA (ca.pem and ca-key.pem are missing)`, {
      fix: `create one: bobcat ca init --dir ${dir}`,
    });
  }
  let defaults: CaDir["defaults"] = {};
  if (existsSync(p.conf)) {
    try {
      defaults = JSON.parse(await readFile(p.conf, "utf8"));
    } catch (e) {
      throw new BobcatError("ca.badConfig", `${p.conf} is not valid JSON (${(e as Error).message})`, {
        fix: 'fix or delete it; it holds {"ocspUrl": ..., "crlUrl": ...}',
      });
    }
  }
  return { dir, ca: { certPem: await readFile(p.cert, "utf8"), keyPem: await readFile(p.key, "utf8") }, defaults };
}

async function readIndex(dir: string) {
  const file = paths(dir).index;
  return parseIndex(existsSync(file) ? await readFile(file, "utf8") : "", file);
}

async function init(opts: Record<string, string | true>, io: CaIO): Promise<number> {
  const dir = resolve(need(opts, "dir", "init"));
  const p = paths(dir);
  if (existsSync(p.cert) && !opts.force) {
    throw new BobcatError("ca.exists", `${dir} already holds a CA (ca.pem)`, {
      fix: "use another --dir, or --force to replace it (certificates it issued will no longer verify)",
    });
  }
  const cn = typeof opts.cn === "string" ? opts.cn : "bobcat Test CA";
  const type = keyType(opts);
  const ca = await createCa({
    subject: `CN=${cn.replace(/[,+="\\<>;#]/g, (c) => `\\${c}`)},O=bobcat`,
    keyType: type,
    days: days(opts),
  });
  const signer = await issueOcspSigner(ca, { keyType: type });
  await mkdir(p.certs, { recursive: true });
  await writeAtomic(p.key, ca.keyPem, 0o600);
  await writeAtomic(p.cert, ca.certPem);
  await writeAtomic(p.ocspKey, signer.keyPem, 0o600);
  await writeAtomic(p.ocspCert, signer.certPem);
  await writeAtomic(p.index, "");
  await writeAtomic(p.attr, "unique_subject = no\n");
  await writeAtomic(p.crlnumber, "01\n");
  const defaults = { ocspUrl: opts["ocsp-url"], crlUrl: opts["crl-url"] };
  await writeAtomic(p.conf, JSON.stringify(defaults, null, 2) + "\n");
  io.stdout.write(
    `CA created in ${dir}\n  certificate  ${p.cert}\n  key          ${p.key}\n  OCSP signer  ${p.ocspCert} (${p.ocspKey})\n` +
      `Serve OCSP:   openssl ocsp -index ${p.index} -CA ${p.cert} -rsigner ${p.ocspCert} -rkey ${p.ocspKey} -port 8088\n`,
  );
  return 0;
}

async function issue(opts: Record<string, string | true>, io: CaIO): Promise<number> {
  const [dir, cn, out] = [
    resolve(need(opts, "dir", "issue")),
    need(opts, "cn", "issue"),
    resolve(need(opts, "out", "issue")),
  ];
  const c = await openCa(dir);
  const san = typeof opts.san === "string" ? opts.san.split(",").map((s) => s.trim()).filter(Boolean) : undefined;
  const issued = await issueCertificate({
    ca: c.ca,
    subject: `CN=${cn.replace(/[,+="\\<>;#]/g, (ch) => `\\${ch}`)}`,
    san,
    keyType: keyType(opts),
    days: days(opts),
    ocspUrl: (opts["ocsp-url"] as string | undefined) ?? c.defaults.ocspUrl,
    crlUrl: (opts["crl-url"] as string | undefined) ?? c.defaults.crlUrl,
    clientAuth: opts.client === true,
    serverAuth: opts.server === true || opts.client !== true,
  });
  const entries = await readIndex(c.dir);
  entries.push(entryFor(issued.cert));
  await writeAtomic(`${out}-key.pem`, issued.keyPem, 0o600);
  await writeAtomic(`${out}.pem`, issued.certPem);
  await writeAtomic(`${out}-chain.pem`, issued.certPem + c.ca.certPem);
  await mkdir(paths(c.dir).certs, { recursive: true });
  await writeAtomic(join(paths(c.dir).certs, `${issued.serial}.pem`), issued.certPem);
  await writeAtomic(paths(c.dir).index, formatIndex(entries));
  io.stdout.write(`issued serial ${issued.serial}: ${out}.pem, ${out}-key.pem, ${out}-chain.pem\n`);
  return 0;
}

async function revoke(opts: Record<string, string | true>, io: CaIO): Promise<number> {
  const [dir, file] = [resolve(need(opts, "dir", "revoke")), need(opts, "cert", "revoke")];
  await openCa(dir);
  const block = parsePem(await readFile(file, "utf8")).find((b) => b.label === "CERTIFICATE");
  if (!block) throw new BobcatError("ca.badCertificate", `${file} holds no PEM certificate`);
  const entry = entryFor(parseCertificate(block.der, file));
  const entries = await readIndex(dir);
  if (!revokeEntry(entries, entry.serial, { reason: opts.reason as string | undefined })) {
    throw new BobcatError(
      "ca.unknownCertificate",
      `${file} (serial ${entry.serial}) was not issued by the CA in ${dir}`,
      { fix: "revoke it with the CA that issued it" },
    );
  }
  await writeAtomic(paths(dir).index, formatIndex(entries));
  io.stdout.write(`revoked serial ${entry.serial}${opts.reason ? ` (${opts.reason})` : ""}\n`);
  return 0;
}

async function crl(opts: Record<string, string | true>, io: CaIO): Promise<number> {
  const [dir, out] = [resolve(need(opts, "dir", "crl")), resolve(need(opts, "out", "crl"))];
  const c = await openCa(dir);
  const p = paths(c.dir);
  const number = existsSync(p.crlnumber) ? parseInt((await readFile(p.crlnumber, "utf8")).trim(), 16) : 1;
  if (!Number.isSafeInteger(number)) {
    throw new BobcatError("ca.badCrlNumber", `${p.crlnumber} does not hold a hexadecimal CRL number`);
  }
  const revoked = revokedOf(await readIndex(c.dir));
  await writeAtomic(out, await makeCrl(c.ca, revoked, { days: days(opts), crlNumber: number }));
  const next = (number + 1).toString(16).toUpperCase();
  await writeAtomic(p.crlnumber, (next.length % 2 ? "0" : "") + next + "\n");
  io.stdout.write(`CRL number ${number} with ${revoked.length} revoked certificate(s): ${out}\n`);
  return 0;
}

const COMMANDS: Record<string, (opts: Record<string, string | true>, io: CaIO) => Promise<number>> = {
  init,
  issue,
  revoke,
  crl,
};

export async function caMain(
  argv: string[],
  io: CaIO = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  try {
    const { command, opts } = parseArgs(argv);
    if (command === "help") {
      io.stdout.write(CA_HELP + "\n");
      return 0;
    }
    return await COMMANDS[command](opts, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`ca: ${e.message}\nRun 'bobcat ca --help' for usage.\n`);
      return 2;
    }
    if (e instanceof BobcatError || e instanceof Asn1Error || e instanceof PemError) {
      const fix = e instanceof BobcatError && e.fix ? `  fix: ${e.fix}\n` : "";
      io.stderr.write(`ca error: ${e.message}\n${fix}`);
      return 1;
    }
    const err = e as Error & { code?: string };
    if (err?.code === "EACCES" || err?.code === "ENOENT" || err?.code === "EISDIR" || err?.code === "ENOTDIR") {
      io.stderr.write(`ca error: ${err.message}\n`);
      return 1;
    }
    throw e;
  }
}

/**
 * `bobcat ca`: a test/dev CA in a directory, laid out so a real OpenSSL responder can serve it:
 *   openssl ocsp -index D/index.txt -CA D/ca.pem -rsigner D/ocsp.pem -rkey D/ocsp-key.pem -port 8088
 * Returns the exit code (0 ok, 1 error, 2 usage).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import process from "node:process";
import { BobcatError, UsageError } from "../util/errors.ts";
import { parseCertificate } from "../tls/keystore/certs.ts";
import { Asn1Error } from "../tls/keystore/der.ts";
import { parsePem, PemError } from "../tls/keystore/pem.ts";
import { entryFor, formatIndex, parseIndex, revokedOf, revokeEntry } from "../tls/ca/index-txt.ts";
import {
  type CaKeyType,
  type CaMaterial,
  createCa,
  issueCertificate,
  issueOcspSigner,
  makeCrl,
} from "../tls/ca/issue.ts";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { type CommandDef, commandHelp, optionsHelp, parseCommand, synopsis, wrap } from "./options.ts";

export interface CaIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

const DIR = { type: "string", value: "D", required: true, description: "the CA's directory" } as const;
const KEY_TYPE = {
  type: "string",
  value: "RSA|EC",
  description: "key type: RSA 2048 or EC P-256",
  default: "RSA",
} as const;
const OCSP_URL = {
  type: "string",
  value: "URL",
  description: "OCSP responder URL written into authorityInfoAccess",
} as const;
const CRL_URL = { type: "string", value: "URL", description: "CRL distribution point URL" } as const;

/** One table per `bobcat ca` command: its parser and its --help read it. */
const CA_COMMANDS = {
  init: {
    name: "ca init",
    summary: "create the CA in D: ca.pem, ca-key.pem, a delegated OCSP signer (ocsp.pem, ocsp-key.pem), " +
      "index.txt, crlnumber",
    about: `Creates the CA in D: ca.pem, ca-key.pem, a delegated OCSP signer (ocsp.pem,
ocsp-key.pem), index.txt, crlnumber. --ocsp-url and --crl-url become the defaults that
'issue' writes into certificates (kept in D/ca.json).`,
    options: {
      dir: DIR,
      cn: { type: "string", value: "NAME", description: "the CA's common name", default: "bobcat Test CA" },
      "key-type": KEY_TYPE,
      days: { type: "string", value: "N", description: "validity in days", default: "3650" },
      "ocsp-url": { ...OCSP_URL, description: "default OCSP responder URL of the certificates 'issue' writes" },
      "crl-url": { ...CRL_URL, description: "default CRL distribution point of the certificates 'issue' writes" },
      force: {
        type: "boolean",
        description: "replace an existing CA (certificates it issued will no longer verify)",
      },
    },
  },
  issue: {
    name: "ca issue",
    summary: "issue a server or client certificate: PREFIX.pem, PREFIX-key.pem, PREFIX-chain.pem",
    about: `Issues a certificate: PREFIX.pem (certificate), PREFIX-key.pem (unencrypted PKCS#8
key, mode 0600) and PREFIX-chain.pem (certificate + CA). A server certificate by
default; --client makes a client certificate (both flags: both usages). Recorded as
V in index.txt and copied to D/certs/<SERIAL>.pem.`,
    options: {
      dir: DIR,
      cn: { type: "string", value: "NAME", required: true, description: "the certificate's common name" },
      out: { type: "string", value: "PREFIX", required: true, description: "where the files go: PREFIX.pem, ..." },
      san: {
        type: "string",
        value: "LIST",
        description: "subject alternative names: dns:NAME,ip:ADDR,email:ADDR,uri:URL (a bare host name or " +
          "address also works)",
      },
      client: { type: "boolean", description: "a client certificate (extendedKeyUsage clientAuth)" },
      server: { type: "boolean", description: "a server certificate (serverAuth; the default without --client)" },
      "key-type": KEY_TYPE,
      days: { type: "string", value: "N", description: "validity in days", default: "375" },
      "ocsp-url": { ...OCSP_URL, default: "the CA's, from init" },
      "crl-url": { ...CRL_URL, default: "the CA's, from init" },
    },
  },
  revoke: {
    name: "ca revoke",
    summary: "mark a certificate R (revoked) in index.txt",
    about: "Marks the certificate R (revoked) in index.txt.",
    options: {
      dir: DIR,
      cert: { type: "string", value: "FILE", required: true, description: "the certificate (PEM) to revoke" },
      reason: {
        type: "string",
        value: "REASON",
        description: "unspecified, keyCompromise, CACompromise, affiliationChanged, superseded, " +
          "cessationOfOperation, certificateHold or removeFromCRL",
      },
    },
  },
  crl: {
    name: "ca crl",
    summary: "write a CRL (PEM) of every revoked certificate",
    about: `Writes a CRL (PEM) of every revoked certificate, for certificateRevocationListFile or
'openssl verify -crl_check'.`,
    options: {
      dir: DIR,
      out: { type: "string", value: "FILE", required: true, description: "the CRL file to write" },
      days: { type: "string", value: "N", description: "how long the CRL is valid, in days", default: "30" },
    },
  },
} as const satisfies Record<string, CommandDef>;

/** `bobcat ca --help`: what the CA is for, and each command with its options. */
export function caHelp(): string {
  const commands = Object.values(CA_COMMANDS).map((def) =>
    [
      ...synopsis({ ...def, name: def.name.replace(/^ca /, "") }, 2, 4).map((l, i) => (i ? "    " : "  ") + l),
      ...wrap(def.summary, 6).map((l) => `      ${l}`),
      optionsHelp(def, { indent: 6, help: false }),
    ].join("\n")
  );
  return `Usage: bobcat ca <command> [options]

A small certificate authority for tests and development. It writes certificates with the
OCSP responder URL in authorityInfoAccess (as the SSL how-to's openssl.cnf does), keeps an
openssl-compatible index.txt, and makes CRLs, so that a real OpenSSL responder can serve it:

  openssl ocsp -index D/index.txt -CA D/ca.pem -rsigner D/ocsp.pem -rkey D/ocsp-key.pem -port 8088

Commands:
${commands.join("\n\n")}

Keys are written unencrypted: this CA is for tests and development, not for production.
'bobcat ca <command> --help' shows one command; -h, --help this help.`;
}

type Opts = Record<string, string | boolean | undefined>;

function parse(argv: string[]): { command: keyof typeof CA_COMMANDS; opts: Opts } | { help: string } {
  const [command, ...rest] = argv;
  if (!command || command === "-h" || command === "--help" || command === "help") return { help: caHelp() };
  if (!Object.hasOwn(CA_COMMANDS, command)) {
    throw new UsageError(
      `unknown ca command "${command}" (commands: ${Object.keys(CA_COMMANDS).join(", ")})`,
      "ca",
    );
  }
  const def = CA_COMMANDS[command as keyof typeof CA_COMMANDS];
  const p = parseCommand(def, rest);
  if (p.help) return { help: commandHelp(def) };
  return { command: command as keyof typeof CA_COMMANDS, opts: p.values as Opts };
}

function need(opts: Opts, name: string): string {
  return opts[name] as string;
}

function days(opts: Opts): number | undefined {
  if (opts.days === undefined) return undefined;
  const n = Number(opts.days);
  if (!/^\d+$/.test(String(opts.days)) || n < 1) {
    throw new UsageError(`--days must be a positive whole number, not "${opts.days}"`);
  }
  return n;
}

function keyType(opts: Opts): CaKeyType | undefined {
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

async function init(opts: Opts, io: CaIO): Promise<number> {
  const dir = resolve(need(opts, "dir"));
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
      `Serve OCSP:   openssl ocsp -index ${p.index} -CA ${p.cert} -rsigner ${p.ocspCert} -rkey ${p.ocspKey} -port ${
        responderPort(defaults.ocspUrl)
      }\n`,
  );
  return 0;
}

async function issue(opts: Opts, io: CaIO): Promise<number> {
  const [dir, cn, out] = [
    resolve(need(opts, "dir")),
    need(opts, "cn"),
    resolve(need(opts, "out")),
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

async function revoke(opts: Opts, io: CaIO): Promise<number> {
  const [dir, file] = [resolve(need(opts, "dir")), need(opts, "cert")];
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

async function crl(opts: Opts, io: CaIO): Promise<number> {
  const [dir, out] = [resolve(need(opts, "dir")), resolve(need(opts, "out"))];
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

const COMMANDS: Record<string, (opts: Opts, io: CaIO) => Promise<number>> = {
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
    const parsed = parse(argv);
    if ("help" in parsed) {
      io.stdout.write(parsed.help + "\n");
      return 0;
    }
    return await COMMANDS[parsed.command](parsed.opts, io);
  } catch (e) {
    if (e instanceof UsageError) {
      const cmd = `bobcat ${e.command ?? "ca"}`;
      io.stderr.write(`${cmd}: ${e.message}\nRun '${cmd} --help' for its options.\n`);
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

/**
 * The port `openssl ocsp` must listen on for the responder URL the certificates carry (8088, the
 * how-to's, when init was given none).
 */
function responderPort(ocspUrl: unknown): string {
  if (typeof ocspUrl !== "string" || !ocspUrl) return "8088";
  try {
    const u = new URL(ocspUrl);
    return u.port || (u.protocol === "https:" ? "443" : "80");
  } catch {
    return "8088";
  }
}

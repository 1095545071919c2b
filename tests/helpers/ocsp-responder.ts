/**
 * OCSP responders for tests, on 127.0.0.1 free ports only:
 *  - startOpensslResponder: every request is answered by the real `openssl ocsp` (index.txt,
 *    -CA, -rsigner, -rkey, -nmin/-ndays) run on it with -reqin/-respout. OpenSSL 3.0's own
 *    `-port` listens on every interface and cannot be limited to loopback, so a small node:http
 *    front on 127.0.0.1 hands it the requests; the status and the signature are OpenSSL's.
 *  - startFakeResponder: answers whatever a function returns (tryLater, internalError, forged
 *    or tampered responses, silence), for what OpenSSL will not produce.
 *  - buildResponse / statusOnlyResponse: OCSPResponses made with @peculiar/asn1-ocsp.
 * Every wait is bounded; stop() closes the server and open connections.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, Certificate, Extension, Name } from "@peculiar/asn1-x509";
import {
  BasicOCSPResponse,
  CertID,
  CertStatus,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
} from "@peculiar/asn1-ocsp";
import { CRLReason } from "@peculiar/asn1-x509";
import type { X509Certificate } from "@peculiar/x509";
import { toArrayBuffer } from "../../src/tls/keystore/bytes.ts";
import * as der from "../../src/tls/keystore/der.ts";
import { importPrivateKey, keyInfo } from "../../src/tls/keystore/keys.ts";
import { pemPrivateKey } from "../../src/tls/keystore/pem-keys.ts";
import { parsePem } from "../../src/tls/keystore/pem.ts";
import {
  createCa,
  entryFor,
  formatIndex,
  issueCertificate,
  type IssuedCertificate,
  issueOcspSigner,
  type IssueOptions,
  revokeEntry,
} from "../../src/tls/ca/index.ts";
import { type CertIdHash, certIdOf, digest, HASH_OIDS, publicKeyBits } from "../../src/tls/ocsp/certid.ts";

export interface Responder {
  url: string;
  port: number;
  /** Requests received so far. */
  readonly requests: number;
  /** "serve": answer; "down": HTTP 503 with no body; "hang": never answer. */
  mode: "serve" | "down" | "hang";
  /** Rewrites each response before it is sent (tampering tests). */
  transform?: (der: Uint8Array) => Uint8Array;
  stop(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

async function listen(answer: (body: Uint8Array) => Promise<Uint8Array>): Promise<Responder> {
  let requests = 0;
  const hanging = new Set<ServerResponse>();
  const responder: Responder = {
    url: "",
    port: 0,
    get requests() {
      return requests;
    },
    mode: "serve",
    stop: async () => {},
  };
  const server: Server = createServer(async (req, res) => {
    requests++;
    const body = await readBody(req);
    if (responder.mode === "hang") {
      hanging.add(res);
      return;
    }
    if (responder.mode === "down") {
      res.writeHead(503).end();
      return;
    }
    try {
      let out = await answer(body);
      if (responder.transform) out = responder.transform(out);
      res.writeHead(200, { "content-type": "application/ocsp-response", "content-length": out.length }).end(out);
    } catch (e) {
      res.writeHead(500, { "content-type": "text/plain" }).end(String(e));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  responder.port = (server.address() as { port: number }).port;
  responder.url = `http://127.0.0.1:${responder.port}/`;
  responder.stop = async () => {
    for (const r of hanging) r.destroy();
    server.closeAllConnections();
    await Promise.race([new Promise((r) => server.close(r)), new Promise((r) => setTimeout(r, 2000))]);
  };
  return responder;
}

export interface OpensslResponderOptions {
  index: string;
  ca: string;
  rsigner: string;
  rkey: string;
  /** nextUpdate this many minutes ahead (openssl -nmin); without it and ndays, responses have no nextUpdate. */
  nmin?: number;
  ndays?: number;
  /** More `openssl ocsp` arguments, e.g. ["-rmd", "sha384"] or ["-resp_key_id"]. */
  args?: string[];
}

export async function startOpensslResponder(o: OpensslResponderOptions): Promise<Responder & { lastArgs: string[] }> {
  const work = mkdtempSync(join(tmpdir(), "bobcat-ocspd-"));
  let n = 0;
  const validity = o.nmin !== undefined
    ? ["-nmin", String(o.nmin)]
    : o.ndays !== undefined
    ? ["-ndays", String(o.ndays)]
    : [];
  const r = (await listen(async (body) => {
    const id = ++n;
    const reqFile = join(work, `req-${id}.der`);
    const respFile = join(work, `resp-${id}.der`);
    writeFileSync(reqFile, body);
    const args = [
      "ocsp",
      "-index",
      o.index,
      "-CA",
      o.ca,
      "-rsigner",
      o.rsigner,
      "-rkey",
      o.rkey,
      "-reqin",
      reqFile,
      "-respout",
      respFile,
      ...validity,
      ...(o.args ?? []),
    ];
    r.lastArgs = args;
    await new Promise<void>((resolve, reject) =>
      execFile(
        "openssl",
        args,
        { timeout: 10_000 },
        (err, _out, stderr) => (err ? reject(new Error(`openssl ocsp failed: ${stderr || err.message}`)) : resolve()),
      )
    );
    return new Uint8Array(readFileSync(respFile));
  })) as Responder & { lastArgs: string[] };
  const stop = r.stop;
  r.stop = async () => {
    await stop();
    rmSync(work, { recursive: true, force: true });
  };
  return r;
}

export async function startFakeResponder(
  answer: (request: Uint8Array) => Uint8Array | Promise<Uint8Array>,
): Promise<Responder> {
  return await listen(async (body) => await answer(body));
}

/** An OCSPResponse with only a non-successful status (tryLater, internalError, ...). */
export function statusOnlyResponse(status: OCSPResponseStatus): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(new OCSPResponse({ responseStatus: status })));
}

export interface BuildOptions {
  cert: X509Certificate;
  issuer: X509Certificate;
  status: "good" | "revoked" | "unknown";
  /** Whose name goes in ResponderID and whose certificate is included (default: the issuer, not included). */
  responderCert?: X509Certificate;
  /** Signing key PEM (any key: a wrong one makes a forged response). */
  signerKeyPem: string;
  /** Certificates placed in the response's certs field. */
  include?: X509Certificate[];
  thisUpdate?: Date;
  nextUpdate?: Date | null;
  revocationTime?: Date;
  revocationReason?: number;
  byKey?: boolean;
  /** Echo this request's nonce. */
  request?: Uint8Array;
  /** Hash of the CertID (default sha1). */
  certIdHash?: CertIdHash;
}

/** ECDSA from WebCrypto is r || s; X.509 wants SEQUENCE { r, s }. */
function ecdsaDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return der.encSeq(der.encInt(raw.subarray(0, half)), der.encInt(raw.subarray(half)));
}

export async function buildResponse(o: BuildOptions): Promise<Uint8Array> {
  const responder = o.responderCert ?? o.issuer;
  const id = certIdOf(o.cert, o.issuer, o.certIdHash ?? "sha1");
  const status = o.status === "good"
    ? new CertStatus({ good: null })
    : o.status === "unknown"
    ? new CertStatus({ unknown: null })
    : new CertStatus({
      revoked: new RevokedInfo({
        revocationTime: o.revocationTime ?? new Date(Date.now() - 3_600_000),
        ...(o.revocationReason !== undefined ? { revocationReason: new CRLReason(o.revocationReason) } : {}),
      }),
    });
  const now = Date.now();
  const single = new SingleResponse({
    certID: new CertID({
      hashAlgorithm: new AlgorithmIdentifier({
        algorithm: Object.entries(HASH_OIDS).find(([, h]) => h === id.hash)![0],
        parameters: null,
      }),
      issuerNameHash: new OctetString(toArrayBuffer(id.issuerNameHash)),
      issuerKeyHash: new OctetString(toArrayBuffer(id.issuerKeyHash)),
      serialNumber: toArrayBuffer(id.serial),
    }),
    certStatus: status,
    thisUpdate: o.thisUpdate ?? new Date(now - 60_000),
    ...(o.nextUpdate === null ? {} : { nextUpdate: o.nextUpdate ?? new Date(now + 3_600_000) }),
  });
  const responderID = o.byKey
    ? new ResponderID({ byKey: new OctetString(toArrayBuffer(digest("sha1", publicKeyBits(responder)))) })
    : new ResponderID({ byName: AsnConvert.parse(responder.subjectName.toArrayBuffer(), Name) });
  const extensions: Extension[] = [];
  if (o.request) {
    const req = AsnConvert.parse(toArrayBuffer(o.request), OCSPRequest);
    const nonce = req.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
    if (nonce) extensions.push(nonce);
  }
  const data = new ResponseData({
    responderID,
    producedAt: new Date(now - 60_000),
    responses: [single],
    ...(extensions.length ? { responseExtensions: extensions } : {}),
  });
  const tbs = new Uint8Array(AsnConvert.serialize(data));

  const pkcs8 = pemPrivateKey(parsePem(o.signerKeyPem)[0], undefined);
  const info = await keyInfo(pkcs8);
  // SHA-256 with whatever key: the algorithm identifiers below say so.
  const hash = "SHA-256";
  const key = await importPrivateKey(pkcs8, info, hash);
  let sig: Uint8Array = new Uint8Array(
    await crypto.subtle.sign(
      info.type === "RSA" ? { name: "RSASSA-PKCS1-v1_5" } : { name: "ECDSA", hash },
      key,
      toArrayBuffer(tbs),
    ),
  );
  if (info.type === "EC") sig = ecdsaDer(sig);
  const algOid = info.type === "RSA" ? "1.2.840.113549.1.1.11" : "1.2.840.10045.4.3.2";
  const basic = new BasicOCSPResponse({
    tbsResponseData: data,
    signatureAlgorithm: new AlgorithmIdentifier({
      algorithm: algOid,
      ...(info.type === "RSA" ? { parameters: null } : {}),
    }),
    signature: toArrayBuffer(sig),
    ...(o.include?.length ? { certs: o.include.map((c) => AsnConvert.parse(c.rawData, Certificate)) } : {}),
  });
  const basicDer = AsnConvert.serialize(basic);
  return new Uint8Array(AsnConvert.serialize(
    new OCSPResponse({
      responseStatus: OCSPResponseStatus.successful,
      responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(basicDer) }),
    }),
  ));
}

/** A test PKI made with bobcat's CA helper, its files in `dir`, certificates naming `ocspUrl`. */
export interface OcspPki {
  dir: string;
  ca: IssuedCertificate;
  /** Delegated responder: extendedKeyUsage OCSPSigning. */
  signer: IssuedCertificate;
  /** Issued by the CA without OCSPSigning: may not answer for it. */
  noEku: IssuedCertificate;
  /** A delegated responder of another CA. */
  rogueSigner: IssuedCertificate;
  server: IssuedCertificate;
  alice: IssuedCertificate;
  /** Revoked (keyCompromise) in index.txt. */
  mallory: IssuedCertificate;
  /** Issued but never entered in index.txt: the responder says unknown. */
  stranger: IssuedCertificate;
  /** No authorityInfoAccess. */
  noAia: IssuedCertificate;
  /** Paths: ca, caKey, signer, signerKey, index, and `<name>` / `<name>Key` for each certificate. */
  files: Record<string, string>;
  /** The responder options for a delegated-signer openssl responder over this PKI. */
  responder(extra?: Partial<OpensslResponderOptions>): OpensslResponderOptions;
}

export async function makeOcspPki(dir: string, ocspUrl: string, keyType: "RSA" | "EC" = "RSA"): Promise<OcspPki> {
  const ca = await createCa({ subject: `CN=OCSP Test ${keyType} CA,O=bobcat`, keyType });
  const signer = await issueOcspSigner(ca, { keyType });
  const rogueCa = await createCa({ subject: "CN=Rogue CA", keyType });
  const rogueSigner = await issueOcspSigner(rogueCa);
  const issue = (cn: string, extra: Partial<IssueOptions> = {}) =>
    issueCertificate({ ca, subject: `CN=${cn}`, keyType, ocspUrl, ...extra });
  const [noEku, server, alice, mallory, stranger, noAia] = await Promise.all([
    issue("not a responder", { san: ["dns:noeku.test"] }),
    issue("localhost", { san: ["dns:localhost", "ip:127.0.0.1"] }),
    issue("alice", { clientAuth: true }),
    issue("mallory", { clientAuth: true }),
    issue("stranger", { clientAuth: true }),
    issue("no aia", { clientAuth: true, ocspUrl: undefined }),
  ]);
  const entries = [server, alice, mallory, noEku, noAia, signer].map((c) => entryFor(c.cert));
  revokeEntry(entries, mallory.serial, { reason: "keyCompromise", date: new Date(Date.now() - 86_400_000) });
  const files: Record<string, string> = { index: join(dir, "index.txt") };
  writeFileSync(files.index, formatIndex(entries));
  writeFileSync(join(dir, "index.txt.attr"), "unique_subject = no\n");
  const all = { ca, signer, noEku, rogueSigner, server, alice, mallory, stranger, noAia };
  for (const [name, c] of Object.entries(all)) {
    files[name] = join(dir, `${name}.pem`);
    files[`${name}Key`] = join(dir, `${name}-key.pem`);
    writeFileSync(files[name], c.certPem);
    writeFileSync(files[`${name}Key`], c.keyPem);
  }
  return {
    dir,
    ...all,
    files,
    responder: (extra = {}) => ({
      index: files.index,
      ca: files.ca,
      rsigner: files.signer,
      rkey: files.signerKey,
      ...extra,
    }),
  };
}

/** Serves `pki` with a real openssl responder, choosing the port before the certificates name it. */
export async function startPkiResponder(
  dir: string,
  opts: { keyType?: "RSA" | "EC"; nmin?: number; ndays?: number; args?: string[] } = {},
) {
  // The URL must be known before the certificates are issued, and openssl reads the index per request.
  const responder = await startOpensslResponder({
    index: join(dir, "index.txt"),
    ca: join(dir, "ca.pem"),
    rsigner: join(dir, "signer.pem"),
    rkey: join(dir, "signer-key.pem"),
    nmin: opts.nmin,
    ndays: opts.ndays,
    args: opts.args,
  });
  const pki = await makeOcspPki(dir, responder.url, opts.keyType);
  return { pki, responder };
}

/**
 * PEM armour (RFC 7468, plus the RFC 1421 headers of traditional OpenSSL keys). Text outside the
 * blocks is allowed — OpenSSL prints "Bag Attributes" and `subject=` lines before them, which
 * keytool rejects and Tomcat's PEMFile skips — and kept per block so aliases can be recovered.
 */
import { fromBase64, toBase64 } from "./bytes.ts";

export class PemError extends Error {
  override name = "PemError";
}

export interface PemBlock {
  label: string;
  /** RFC 1421 headers such as Proc-Type and DEK-Info. */
  headers: Record<string, string>;
  der: Uint8Array;
  /** The text between the previous block (or the start) and this one. */
  preamble: string;
  /** 1-based line of the BEGIN line. */
  line: number;
}

const BEGIN = /^-----BEGIN ([A-Z0-9 ]+)-----\s*$/;
const END = /^-----END ([A-Z0-9 ]+)-----\s*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Quick test used by type detection: is this text with at least one PEM BEGIN line? */
export function looksLikePem(bytes: Uint8Array): boolean {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 64 * 1024));
  return /-----BEGIN [A-Z0-9 ]+-----/.test(head);
}

export function parsePem(text: string): PemBlock[] {
  const lines = text.split(/\r?\n|\r/);
  const blocks: PemBlock[] = [];
  let preamble: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const begin = BEGIN.exec(lines[i].trim());
    if (!begin) {
      preamble.push(lines[i]);
      continue;
    }
    const label = begin[1];
    const startLine = i + 1;
    const headers: Record<string, string> = {};
    const body: string[] = [];
    let ended = false;
    for (i++; i < lines.length; i++) {
      const l = lines[i].trim();
      const end = END.exec(l);
      if (end) {
        if (end[1] !== label) {
          throw new PemError(
            `line ${i + 1}: "-----END ${end[1]}-----" closes a "${label}" block opened on line ${startLine}`,
          );
        }
        ended = true;
        break;
      }
      const h = /^([A-Za-z-]+):\s*(.*)$/.exec(l);
      if (h && body.length === 0) headers[h[1]] = h[2];
      else if (l) body.push(l);
    }
    if (!ended) {
      throw new PemError(`the "${label}" block that begins on line ${startLine} has no END line (file truncated?)`);
    }
    const b64 = body.join("");
    if (!BASE64.test(b64) || b64.length % 4 !== 0 || b64.length === 0) {
      throw new PemError(`the "${label}" block that begins on line ${startLine} is not valid base64`);
    }
    blocks.push({ label, headers, der: fromBase64(b64), preamble: preamble.join("\n"), line: startLine });
    preamble = [];
  }
  return blocks;
}

export function toPem(label: string, der: Uint8Array, headers: Record<string, string> = {}): string {
  const b64 = toBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\n`).join("");
  return `-----BEGIN ${label}-----\n${head}${head ? "\n" : ""}${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * A small ASN.1 DER/BER reader and DER writer. Keystore files are untrusted input, so the reader
 * checks every length against the buffer, limits nesting, and throws only `Asn1Error`; callers
 * turn that into a BobcatError that names the file.
 */
import { concat } from "./bytes.ts";

export class Asn1Error extends Error {
  override name = "Asn1Error";
}

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8: 0x0c,
  PRINTABLE: 0x13,
  IA5: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export interface Node {
  /** The identifier octet (single-byte tags only; keystores need no more). */
  tag: number;
  constructed: boolean;
  /** Content octets (for indefinite-length BER: everything between header and end-of-contents). */
  value: Uint8Array;
  /** The whole encoding, header included. */
  raw: Uint8Array;
  children: Node[];
}

const MAX_DEPTH = 32;

/** Parses exactly one element that must fill `bytes`. */
export function parse(bytes: Uint8Array): Node {
  const [node, end] = readNode(bytes, 0, 0);
  if (end !== bytes.length) throw new Asn1Error(`trailing ${bytes.length - end} byte(s) after the ASN.1 structure`);
  return node;
}

/** Parses one element at the start of `bytes`, ignoring what follows (PKCS#12 files padded by some tools). */
export function parsePrefix(bytes: Uint8Array): Node {
  return readNode(bytes, 0, 0)[0];
}

function readNode(buf: Uint8Array, pos: number, depth: number): [Node, number] {
  if (depth > MAX_DEPTH) throw new Asn1Error("ASN.1 nesting too deep");
  const start = pos;
  if (pos >= buf.length) throw new Asn1Error("unexpected end of data");
  const tag = buf[pos++];
  if ((tag & 0x1f) === 0x1f) throw new Asn1Error(`unsupported multi-byte ASN.1 tag at offset ${start}`);
  const constructed = (tag & 0x20) !== 0;
  if (pos >= buf.length) throw new Asn1Error("unexpected end of data");
  let len = buf[pos++];
  if (len === 0x80) {
    // BER indefinite length: children until an end-of-contents marker.
    if (!constructed) throw new Asn1Error("indefinite length on a primitive ASN.1 element");
    const children: Node[] = [];
    const contentStart = pos;
    for (;;) {
      if (pos + 1 >= buf.length) throw new Asn1Error("unexpected end of data (missing end-of-contents)");
      if (buf[pos] === 0 && buf[pos + 1] === 0) break;
      const [child, next] = readNode(buf, pos, depth + 1);
      children.push(child);
      pos = next;
    }
    const node: Node = {
      tag,
      constructed,
      value: buf.subarray(contentStart, pos),
      raw: buf.subarray(start, pos + 2),
      children,
    };
    return [node, pos + 2];
  }
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4) throw new Asn1Error("ASN.1 length too large");
    if (pos + n > buf.length) throw new Asn1Error("unexpected end of data");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos++];
  }
  const end = pos + len;
  if (end > buf.length) {
    throw new Asn1Error(`ASN.1 element at offset ${start} claims ${len} bytes but only ${buf.length - pos} remain`);
  }
  const value = buf.subarray(pos, end);
  const children: Node[] = [];
  if (constructed) {
    let p = pos;
    while (p < end) {
      const [child, next] = readNode(buf.subarray(0, end), p, depth + 1);
      children.push(child);
      p = next;
    }
  }
  return [{ tag, constructed, value, raw: buf.subarray(start, end), children }, end];
}

// ---- typed accessors: each checks the tag so a malformed structure fails with a clear reason ----

export function expect(node: Node | undefined, tag: number, what: string): Node {
  if (!node) throw new Asn1Error(`missing ${what}`);
  if (node.tag !== tag) {
    throw new Asn1Error(`${what}: expected tag 0x${tag.toString(16)}, found 0x${node.tag.toString(16)}`);
  }
  return node;
}

export function seq(node: Node | undefined, what: string, min = 0): Node[] {
  const n = expect(node, Tag.SEQUENCE, what);
  if (n.children.length < min) throw new Asn1Error(`${what}: expected at least ${min} element(s)`);
  return n.children;
}

export function oidOf(node: Node | undefined, what: string): string {
  const v = expect(node, Tag.OID, what).value;
  if (v.length === 0) throw new Asn1Error(`${what}: empty OID`);
  const parts: number[] = [];
  let acc = 0;
  for (let i = 0; i < v.length; i++) {
    acc = acc * 128 + (v[i] & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER / 128) throw new Asn1Error(`${what}: OID arc too large`);
    if (!(v[i] & 0x80)) {
      if (parts.length === 0) {
        const first = acc < 40 ? 0 : acc < 80 ? 1 : 2;
        parts.push(first, acc - first * 40);
      } else parts.push(acc);
      acc = 0;
    }
  }
  if (v[v.length - 1] & 0x80) throw new Asn1Error(`${what}: truncated OID`);
  return parts.join(".");
}

/** A non-negative INTEGER small enough for a JS number (versions, iteration counts, key lengths). */
export function smallInt(node: Node | undefined, what: string): number {
  const v = expect(node, Tag.INTEGER, what).value;
  if (v.length === 0 || v.length > 6 || v[0] & 0x80) throw new Asn1Error(`${what}: not a small non-negative integer`);
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/** INTEGER content without a leading sign byte (RSA moduli, serial numbers). */
export function unsignedIntBytes(node: Node | undefined, what: string): Uint8Array {
  const v = expect(node, Tag.INTEGER, what).value;
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return v.subarray(i);
}

export function octets(node: Node | undefined, what: string): Uint8Array {
  return expect(node, Tag.OCTET_STRING, what).value;
}

/** OCTET STRING content, accepting the BER constructed form some Windows/NSS PKCS#12 writers use. */
export function octetsBer(node: Node | undefined, what: string): Uint8Array {
  if (node && node.tag === 0x24) return concat(...node.children.map((c) => octetsBer(c, what)));
  return octets(node, what);
}

export function bitString(node: Node | undefined, what: string): Uint8Array {
  const v = expect(node, Tag.BIT_STRING, what).value;
  if (v.length === 0 || v[0] !== 0) throw new Asn1Error(`${what}: unsupported BIT STRING padding`);
  return v.subarray(1);
}

/** `[n]` context-specific child, explicit or implicit, or undefined. */
export function context(children: Node[], n: number): Node | undefined {
  return children.find((c) => (c.tag & 0xdf) === (0x80 | n));
}

export function bmpString(node: Node | undefined, what: string): string {
  const v = expect(node, Tag.BMP, what).value;
  if (v.length % 2) throw new Asn1Error(`${what}: odd-length BMPString`);
  let s = "";
  for (let i = 0; i < v.length; i += 2) s += String.fromCharCode((v[i] << 8) | v[i + 1]);
  return s;
}

// ---- writer ----

function header(tag: number, len: number): Uint8Array {
  if (len < 0x80) return Uint8Array.of(tag, len);
  const bytes: number[] = [];
  for (let l = len; l > 0; l = Math.floor(l / 256)) bytes.unshift(l & 0xff);
  return Uint8Array.of(tag, 0x80 | bytes.length, ...bytes);
}

export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concat(...content);
  return concat(header(tag, body.length), body);
}

export const encSeq = (...items: Uint8Array[]) => tlv(Tag.SEQUENCE, ...items);
export const encSet = (...items: Uint8Array[]) => tlv(Tag.SET, ...items);
export const encOctets = (b: Uint8Array) => tlv(Tag.OCTET_STRING, b);
export const encNull = () => Uint8Array.of(Tag.NULL, 0);
export const encExplicit = (n: number, ...items: Uint8Array[]) => tlv(0xa0 | n, ...items);
export const encImplicit = (n: number, content: Uint8Array) => tlv(0x80 | n, content);

export function encBitString(b: Uint8Array): Uint8Array {
  return tlv(Tag.BIT_STRING, Uint8Array.of(0), b);
}

export function encOid(oid: string): Uint8Array {
  const arcs = oid.split(".").map(Number);
  const out: number[] = [];
  const push = (v: number) => {
    const tmp = [v & 0x7f];
    for (v = Math.floor(v / 128); v > 0; v = Math.floor(v / 128)) tmp.unshift(0x80 | (v & 0x7f));
    out.push(...tmp);
  };
  push(arcs[0] * 40 + arcs[1]);
  for (const a of arcs.slice(2)) push(a);
  return tlv(Tag.OID, Uint8Array.from(out));
}

export function encInt(n: number | Uint8Array): Uint8Array {
  let bytes: Uint8Array;
  if (typeof n === "number") {
    const out: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) out.push(v & 0xff);
    bytes = out.length === 0 ? new Uint8Array(1) : Uint8Array.from(out.reverse());
  } else {
    let start = 0;
    while (start < n.length - 1 && n[start] === 0) start++;
    bytes = n.subarray(start);
  }
  // (Array.prototype.unshift on a 256-byte RSA modulus took a millisecond on Bun: typed arrays only.)
  if (bytes[0]! & 0x80) {
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    bytes = padded;
  }
  return tlv(Tag.INTEGER, bytes);
}

export function encBmp(s: string): Uint8Array {
  const b = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    b[2 * i] = s.charCodeAt(i) >> 8;
    b[2 * i + 1] = s.charCodeAt(i) & 0xff;
  }
  return tlv(Tag.BMP, b);
}

export function encAlg(oid: string, params?: Uint8Array | null): Uint8Array {
  // `null` means an explicit NULL parameter (RSA, PKCS#12 MAC digests); undefined means absent.
  return params === undefined ? encSeq(encOid(oid)) : encSeq(encOid(oid), params ?? encNull());
}

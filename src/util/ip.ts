/**
 * IP addresses as parsed values: the one place that decides what an address is. Forwarded
 * headers, proxy trust and the manager's loopback rule all parse here and compare bytes, so a
 * string such as `127.0.0.1000` or `<script>` is never taken for an address.
 *
 * Accepted: IPv4 dotted quads (four decimal octets 0-255, no leading zeros, which some parsers
 * read as octal) and IPv6 text (RFC 4291, with `::` and a trailing dotted quad). Zone ids
 * (`fe80::1%eth0`) only when the caller allows them (a socket's peer, never a header).
 */

export interface IpAddress {
  /** 4 for IPv4 and IPv4-mapped IPv6 (::ffff:a.b.c.d), 6 otherwise. */
  readonly family: 4 | 6;
  /** 4 bytes for family 4, 16 for family 6. */
  readonly bytes: Uint8Array;
  /**
   * The canonical text: dotted quad for IPv4 (and IPv4-mapped IPv6), RFC 5952 for IPv6
   * (lower case, no leading zeros, the longest run of zero groups as `::`).
   */
  readonly text: string;
}

const DEC_OCTET = /^(?:0|[1-9]\d{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseV4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!DEC_OCTET.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseV6(s: string): Uint8Array | null {
  if (s.length > 45) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string): string[] | null => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const words: number[][] = [[], []];
  const all = [head, tail];
  for (let side = 0; side < 2; side++) {
    const list = all[side]!;
    for (let i = 0; i < list.length; i++) {
      const g = list[i]!;
      const last = side === (halves.length === 2 ? 1 : 0) && i === list.length - 1;
      if (last && g.includes(".")) {
        const v4 = parseV4(g);
        if (!v4) return null;
        words[side]!.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (HEX_GROUP.test(g)) {
        words[side]!.push(parseInt(g, 16));
      } else {
        return null;
      }
    }
  }
  const [a, b] = words as [number[], number[]];
  if (halves.length === 2 ? a.length + b.length > 7 : a.length !== 8) return null;
  const full = [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  const out = new Uint8Array(16);
  full.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

const isMapped = (b: Uint8Array) =>
  b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

function formatV6(b: Uint8Array): string {
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((b[i]! << 8) | b[i + 1]!);
  // RFC 5952: compress the longest run (at least two) of zero groups, the first on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

function make(bytes: Uint8Array): IpAddress {
  if (bytes.length === 4) return { family: 4, bytes, text: Array.from(bytes).join(".") };
  if (isMapped(bytes)) return make(bytes.slice(12));
  return { family: 6, bytes, text: formatV6(bytes) };
}

/**
 * Parses an IP literal; null when `text` is anything else (a host name, a port suffix,
 * brackets, an out-of-range octet, surrounding spaces).
 */
export function parseIp(text: string, opts: { allowZone?: boolean } = {}): IpAddress | null {
  if (typeof text !== "string" || text.length === 0 || text.length > 64) return null;
  let s = text;
  if (s.includes(":")) {
    const pct = s.indexOf("%");
    if (pct >= 0) {
      if (!opts.allowZone || !/^%[0-9A-Za-z_.\-]+$/.test(s.slice(pct))) return null;
      s = s.slice(0, pct);
    }
    const b = parseV6(s);
    return b ? make(b) : null;
  }
  const b = parseV4(s);
  return b ? make(b) : null;
}

/** The canonical text of an IP literal, or null. */
export function canonicalIp(text: string): string | null {
  return parseIp(text)?.text ?? null;
}

export interface IpRange {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** `10.0.0.0/8`, `fc00::/7`, or a single address (a /32 or /128). Throws on anything else. */
export function parseCidr(text: string): IpRange {
  const slash = text.indexOf("/");
  const addr = parseIp(slash < 0 ? text : text.slice(0, slash));
  const max = addr?.family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : text.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!addr || !(prefix >= 0 && prefix <= max)) throw new Error(`not an address range: ${text}`);
  return { family: addr.family, bytes: addr.bytes, prefix };
}

export function inRange(addr: IpAddress, range: IpRange): boolean {
  if (addr.family !== range.family) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr.bytes[i]! & mask) !== (range.bytes[i]! & mask)) return false;
  }
  return true;
}

const LOOPBACK = [parseCidr("127.0.0.0/8"), parseCidr("::1/128")];

/** 127.0.0.0/8, ::1 and ::ffff:127.x.y.z. */
export function isLoopback(addr: IpAddress): boolean {
  return LOOPBACK.some((r) => inRange(addr, r));
}

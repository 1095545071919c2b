import type { Stats } from "node:fs";

/** What a client can revalidate against: Tomcat's weak ETag and the modification time. */
export interface Validators {
  etag: string;
  lastModifiedMs: number;
  lastModifiedHttp: string;
}

export function validatorsFor(stats: Stats): Validators {
  // Whole milliseconds, as Java's File.lastModified() gives Tomcat.
  const lastModifiedMs = Math.trunc(stats.mtimeMs);
  return {
    etag: `W/"${stats.size}-${lastModifiedMs}"`,
    lastModifiedMs,
    lastModifiedHttp: new Date(lastModifiedMs).toUTCString(),
  };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const TIME = String.raw`(?<hour>\d{2}):(?<minute>\d{2}):(?<second>\d{2})`;
const HTTP_DATE_FORMATS = [
  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
  String.raw`^[A-Z][a-z]{2}, (?<day>\d{2}) (?<month>[A-Z][a-z]{2}) (?<year>\d{4}) ${TIME} GMT$`,
  // obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
  String.raw`^[A-Z][a-z]+, (?<day>\d{2})-(?<month>[A-Z][a-z]{2})-(?<yy>\d{2}) ${TIME} GMT$`,
  // obsolete asctime: Sun Nov  6 08:49:37 1994
  String.raw`^[A-Z][a-z]{2} (?<month>[A-Z][a-z]{2}) (?<day>[ \d]\d) ${TIME} (?<year>\d{4})$`,
].map((source) => new RegExp(source));

/**
 * Parses the three HTTP date forms RFC 9110 obliges recipients to accept; null for anything
 * else. Stricter than Date.parse, which would read "1" or a list of dates as some date.
 */
export function parseHttpDate(value: string): number | null {
  const text = value.trim();
  let fields: Record<string, string> | undefined;
  for (const format of HTTP_DATE_FORMATS) {
    fields = format.exec(text)?.groups;
    if (fields) break;
  }
  if (!fields) return null;
  const month = MONTHS.indexOf(fields.month);
  const year = fields.year !== undefined ? Number(fields.year) : twoDigitYear(Number(fields.yy));
  const [day, hour, minute, second] = [fields.day, fields.hour, fields.minute, fields.second].map(Number);
  if (month < 0 || hour > 23 || minute > 59 || second > 59) return null;
  const ms = Date.UTC(year, month, day, hour, minute, second);
  // Date.UTC silently rolls "31 Feb" into March; refuse it instead.
  return new Date(ms).getUTCDate() === day ? ms : null;
}

/** RFC 9110 §5.6.7: a two-digit year more than 50 years ahead belongs to the previous century. */
function twoDigitYear(yy: number): number {
  const now = new Date().getUTCFullYear();
  const year = Math.floor(now / 100) * 100 + yy;
  return year > now + 50 ? year - 100 : year;
}

interface EntityTag {
  weak: boolean;
  opaque: string;
}

const ENTITY_TAG = /[ \t]*(W\/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|$)/y;

/** `*`, a list of entity tags, or null when the header is not valid syntax. */
function parseEntityTags(value: string): "*" | EntityTag[] | null {
  if (value.trim() === "*") return "*";
  const tags: EntityTag[] = [];
  ENTITY_TAG.lastIndex = 0;
  while (ENTITY_TAG.lastIndex < value.length) {
    const m = ENTITY_TAG.exec(value);
    if (!m) return null;
    tags.push({ weak: m[1] !== undefined, opaque: m[2] });
  }
  return tags.length > 0 ? tags : null;
}

function parseOwnTag(etag: string): EntityTag {
  return etag.startsWith("W/") ? { weak: true, opaque: etag.slice(2) } : { weak: false, opaque: etag };
}

function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

export type Precondition = "proceed" | "not-modified" | "precondition-failed" | "bad-request";

/**
 * RFC 9110 §13.2.2 order, as Tomcat's checkIfHeaders: If-Match (else If-Unmodified-Since), then
 * If-None-Match (else If-Modified-Since). Only called for GET and HEAD of an existing file.
 */
export function evaluatePreconditions(headers: Headers, v: Validators): Precondition {
  const own = parseOwnTag(v.etag);

  const ifMatch = headers.get("if-match");
  if (ifMatch !== null) {
    const tags = parseEntityTags(ifMatch);
    if (tags === null) return "bad-request";
    // Strong comparison is required here, so Tomcat's weak ETag only ever satisfies "*".
    if (tags !== "*" && !tags.some((tag) => strongMatch(tag, own))) return "precondition-failed";
  } else {
    const since = parseHttpDate(headers.get("if-unmodified-since") ?? "");
    // HTTP dates have whole seconds; anything within the same second is "not modified since".
    if (since !== null && v.lastModifiedMs >= since + 1000) return "precondition-failed";
  }

  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null) {
    const tags = parseEntityTags(ifNoneMatch);
    if (tags === null) return "bad-request";
    if (tags === "*" || tags.some((tag) => tag.opaque === own.opaque)) return "not-modified";
  } else {
    const since = parseHttpDate(headers.get("if-modified-since") ?? "");
    if (since !== null && v.lastModifiedMs < since + 1000) return "not-modified";
  }
  return "proceed";
}

/**
 * Whether an If-Range header lets the Range apply (true), asks for the whole file (false), or
 * is not one entity tag nor one date (null: Tomcat answers 400). Entity tags compare strongly,
 * so the weak ETag never matches and the client gets the full, current file.
 */
export function ifRangeAllowsPartial(value: string, v: Validators): boolean | null {
  const text = value.trim();
  if (text.startsWith('"') || text.startsWith('W/"')) {
    const tags = parseEntityTags(text);
    if (tags === null || tags === "*" || tags.length !== 1) return null;
    return strongMatch(tags[0], parseOwnTag(v.etag));
  }
  const date = parseHttpDate(text);
  if (date === null) return null;
  return v.lastModifiedMs >= date && v.lastModifiedMs < date + 1000;
}

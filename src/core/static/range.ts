/** Inclusive byte positions, as Content-Range writes them. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeRequest =
  | { kind: "whole" }
  | { kind: "partial"; ranges: ByteRange[] }
  | { kind: "unsatisfiable" };

const RANGE_UNIT = /^[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*=(.*)$/s;
const RANGE_SPEC = /^[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/;

/**
 * Reads a Range header against a file of `size` (> 0) bytes.
 *
 * Follows Tomcat rather than the more lenient RFC 9110 option of ignoring bad syntax: a
 * malformed `bytes=` header is answered with 416, as Tomcat always has. Unknown units are
 * ignored (RFC 9110 §14.2 requires that). Ranges that start beyond the end are dropped and 416
 * is only sent when none is left (RFC 9110 §14.1.1; Tomcat refuses the whole header instead).
 * More than two overlapping ranges are refused as in Tomcat, since they only serve to amplify
 * a response.
 */
export function parseRangeHeader(value: string, size: number): RangeRequest {
  const header = RANGE_UNIT.exec(value);
  if (!header) return { kind: "unsatisfiable" };
  if (header[1].toLowerCase() !== "bytes") return { kind: "whole" };

  const ranges: ByteRange[] = [];
  for (const spec of header[2].split(",")) {
    const m = RANGE_SPEC.exec(spec);
    if (!m || (m[1] === "" && m[2] === "")) return { kind: "unsatisfiable" };
    const [first, last] = [m[1], m[2]].map((digits) => (digits === "" ? null : Number(digits)));
    // Past 2^53 the arithmetic below would silently go wrong; no file is that big anyway.
    if (![first, last].every((n) => n === null || Number.isSafeInteger(n))) return { kind: "unsatisfiable" };

    if (first === null) {
      // Suffix range "-N": the last N bytes; "-0" asks for nothing.
      const suffixLength = last ?? 0;
      if (suffixLength > 0) ranges.push({ start: Math.max(0, size - suffixLength), end: size - 1 });
    } else if (last !== null && first > last) {
      return { kind: "unsatisfiable" };
    } else if (first < size) {
      ranges.push({ start: first, end: last === null ? size - 1 : Math.min(last, size - 1) });
    }
  }
  if (ranges.length === 0 || overlapCount(ranges) > 1) return { kind: "unsatisfiable" };
  return { kind: "partial", ranges };
}

function overlapCount(ranges: ByteRange[]): number {
  let overlaps = 0;
  let furthestEnd = -1;
  for (const range of [...ranges].sort((a, b) => a.start - b.start || a.end - b.end)) {
    if (range.start <= furthestEnd) overlaps++;
    furthestEnd = Math.max(furthestEnd, range.end);
  }
  return overlaps;
}

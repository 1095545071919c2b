/**
 * cookieValues reads the session cookie in place; it must give exactly what splitting the header
 * at `;` and trimming each part gives (its former implementation, kept here as the reference),
 * for the usual headers and for odd whitespace, quotes, `=` in values and look-alike names.
 */
import { describe, expect, test } from "bun:test";
import { cookieValues } from "../../src/core/sessions.ts";

function reference(header: string | null, name: string): string[] {
  if (!header || !header.includes(name)) return [];
  const out: string[] = [];
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let v = part.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (v) out.push(v);
  }
  return out;
}

describe("cookieValues", () => {
  test("the usual headers", () => {
    expect(cookieValues(null, "JSESSIONID")).toEqual([]);
    expect(cookieValues("", "JSESSIONID")).toEqual([]);
    expect(cookieValues("JSESSIONID=ABC", "JSESSIONID")).toEqual(["ABC"]);
    expect(cookieValues("a=1; JSESSIONID=ABC; b=2", "JSESSIONID")).toEqual(["ABC"]);
    expect(cookieValues("JSESSIONID=A; JSESSIONID=B", "JSESSIONID")).toEqual(["A", "B"]);
    expect(cookieValues('JSESSIONID="Q"', "JSESSIONID")).toEqual(["Q"]);
    expect(cookieValues("XJSESSIONID=1; JSESSIONIDX=2", "JSESSIONID")).toEqual([]);
    expect(cookieValues('JSESSIONID=; JSESSIONID=""; JSESSIONID=C', "JSESSIONID")).toEqual(["C"]);
    expect(cookieValues("\tJSESSIONID \t= D \t;", "JSESSIONID")).toEqual(["D"]);
    expect(cookieValues("\u00a0JSESSIONID\u3000=E", "JSESSIONID")).toEqual(["E"]);
    expect(cookieValues("JSESSIONID=a=b; =x; JSESSIONID", "JSESSIONID")).toEqual(["a=b"]);
  });

  test("agrees with split-and-trim on generated headers", () => {
    const names = ["JSESSIONID", "jsessionid", "XJSESSIONID", "JSESSIONIDX", "SID", "", "JSESSION ID"];
    const spaces = ["", " ", "  ", "\t", "\u00a0", "\u3000", "\n", "\ufeff", "\u0085", "\u0001"];
    const values = ["ABC", "", '"Q"', '"', "a=b", " v ", '""', "x;"];
    const seps = [";", "; ", ";;", " ; "];
    let seed = 42;
    const pick = <T>(xs: T[]): T => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return xs[seed % xs.length]!;
    };
    const lookups = ["JSESSIONID", "SID", " JSESSIONID", "JSESSION ID", "jsessionid"];
    for (let i = 0; i < 20000; i++) {
      const parts: string[] = [];
      const count = 1 + (i % 4);
      for (let p = 0; p < count; p++) {
        const noEq = pick([false, false, false, false, true]);
        parts.push(
          noEq
            ? pick(spaces) + pick(names)
            : pick(spaces) + pick(names) + pick(spaces) + "=" + pick(spaces) + pick(values),
        );
      }
      let header = parts[0]!;
      for (let p = 1; p < parts.length; p++) header += pick(seps) + parts[p];
      for (const name of lookups) {
        expect([header, name, cookieValues(header, name)]).toEqual([header, name, reference(header, name)]);
      }
    }
  });
});

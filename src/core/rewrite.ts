/**
 * Tomcat's RewriteValve (org.apache.catalina.valves.rewrite): `rewrite.config` with RewriteCond,
 * RewriteRule and `int:` RewriteMaps, parsed once at start and evaluated per request with
 * Tomcat's semantics (its source and TestRewriteValve are the reference):
 *
 * - a pattern must match the whole string (Java's Matcher.matches), DOTALL, `NC` case-blind;
 * - the URL the rules see is the decoded, normalised path (the host's whole path, or a context's
 *   path below its context path) with literal `%`, `;` and `?` re-encoded, so a rule inserts
 *   them as `%25`, `%3b`, `%3f` and a `?` it writes starts a query string;
 * - `$N` rule and `%N` condition back-references, `%{VAR}`, `%{HTTP:header}`, `%{ENV:attr}`,
 *   `%{SSL:var}`, `${map:key|default}`, `\x` for a literal x;
 * - conditions in order, `OR` joining a condition to the next; `!` negates;
 * - flags R[=code], F, G, L, N, C, S=n, NC, NE, QSA, QSD, B, CO=..., E=..., T=....
 *
 * What the rules produce is not trusted: the engine sends a rewritten path through the same
 * normalisation as a request's (request-target.ts), confined to the context it was written for,
 * and maps it again, so constraints, WEB-INF protection and docBase confinement apply to it.
 *
 * Differences from Tomcat, all deliberate: a variable with no value is "" (Tomcat writes
 * "null"); REQUEST_FILENAME is the path within the context (what `-f`/`-d` take), since every
 * path is served by the default servlet, whose path translation Tomcat leaves null; unknown
 * variables, flags and directives are configuration errors instead of "null" or silence.
 */
import { BobcatError, type Where } from "../util/errors.ts";

/** What a rule may ask about the request (the engine's request context behind it). */
export interface RewriteRequest {
  /** A server variable (`%{NAME}`), "" when it has no value. */
  variable(name: string): string;
  /** `%{HTTP:name}`: the first value of a request header, or "". */
  header(name: string): string;
  /** `%{ENV:name}`: a request attribute (E= sets them), or "". */
  env(name: string): string;
  /** E=name:value: sets the request attribute at once, so later rules see it. */
  setEnv(name: string, value: string): void;
  /** `%{SSL:name}`. */
  ssl(name: string): string;
  /** `-d` (directory), `-f` (file), `-s` (non-empty file): a path within the context. */
  resource(kind: "d" | "f" | "s", path: string): boolean;
}

/** Server variables Tomcat's resolver knows (ResolverImpl), all accepted in `%{...}`. */
export const VARIABLES = new Set([
  "HTTP_USER_AGENT",
  "HTTP_REFERER",
  "HTTP_COOKIE",
  "HTTP_FORWARDED",
  "HTTP_HOST",
  "HTTP_PROXY_CONNECTION",
  "HTTP_ACCEPT",
  "REMOTE_ADDR",
  "REMOTE_HOST",
  "REMOTE_PORT",
  "REMOTE_USER",
  "REMOTE_IDENT",
  "REQUEST_METHOD",
  "SCRIPT_FILENAME",
  "REQUEST_PATH",
  "CONTEXT_PATH",
  "SERVLET_PATH",
  "PATH_INFO",
  "QUERY_STRING",
  "AUTH_TYPE",
  "DOCUMENT_ROOT",
  "SERVER_NAME",
  "SERVER_ADDR",
  "SERVER_PORT",
  "SERVER_PROTOCOL",
  "SERVER_SOFTWARE",
  "THE_REQUEST",
  "REQUEST_URI",
  "REQUEST_FILENAME",
  "HTTPS",
  "TIME_YEAR",
  "TIME_MON",
  "TIME_DAY",
  "TIME_HOUR",
  "TIME_MIN",
  "TIME_SEC",
  "TIME_WDAY",
  "TIME",
]);

type Piece =
  | string
  | { k: "rule" | "cond"; n: number }
  | { k: "var" | "http" | "env" | "ssl"; name: string }
  | { k: "map"; map: (key: string) => string | null; key: Piece[]; def: Piece[] | null };

interface Matched {
  rule: RegExpExecArray | null;
  cond: RegExpExecArray | null;
}

interface Condition {
  test: Piece[];
  negate: boolean;
  kind: "regex" | "<" | ">" | "=" | "d" | "f" | "s";
  regex?: RegExp;
  value?: string;
  or: boolean;
  line: number;
}

export interface RewriteRule {
  /** As written, for logs. */
  text: string;
  line: number;
  pattern: RegExp;
  negate: boolean;
  /** null: `-`, the URL stays as it is. */
  substitution: Piece[] | null;
  conditions: Condition[];
  chain: boolean;
  last: boolean;
  next: boolean;
  skip: number;
  forbidden: boolean;
  gone: boolean;
  redirect: number;
  noescape: boolean;
  qsappend: boolean;
  qsdiscard: boolean;
  escapeBackReferences: boolean;
  type?: string;
  env: Array<[string, Piece[]]>;
  cookie?: {
    name: string;
    value: Piece[];
    domain?: string;
    lifetime: number;
    path?: string;
    secure: boolean;
    httpOnly: boolean;
  };
}

/** What the rules made of a request. */
export type RewriteResult =
  /** 400: a CO= value made from the request is not a cookie value. */
  | { kind: "status"; status: 400 | 403 | 410; rule: RewriteRule }
  | {
    kind: "redirect";
    status: number;
    /** Rewrite-encoded URL ("?" starts its query), before the final encoding. */
    url: string;
    qsappend: boolean;
    qsdiscard: boolean;
    noescape: boolean;
    rule: RewriteRule;
  }
  | {
    kind: "pass";
    /** The rewrite-encoded URL, when a rule changed it. */
    url?: string;
    qsappend: boolean;
    qsdiscard: boolean;
    /** E= request attributes, CO= Set-Cookie values and T= content type, from the rules that matched. */
    attributes: Array<[string, string]>;
    cookies: string[];
    type?: string;
  };

/** Most N (next round) iterations before a request is refused: a rule set that loops forever (httpd's bound). */
const MAX_ROUNDS = 10_000;
/**
 * Most characters of URL that N rounds may go over for one request. Each round runs the rules
 * again over the whole URL, so a textbook rule such as `^(.*)_(.*)$ $1-$2 [N]` costs rounds ×
 * length: a client sending a path with thousands of "_" would get up to 10,000 rounds over ~10 kB
 * (about a second of CPU per request). 1 Mi characters is 1,000 rounds over a 1 kB URL.
 */
const MAX_ROUND_CHARS = 1 << 20;

export class RewriteLoopError extends Error {}

/** The parsed rules of one RewriteValve. */
export class RewriteRules {
  constructor(readonly rules: RewriteRule[]) {}

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** Runs the rules over `url` (already rewrite-encoded: see encodeForRewrite). */
  evaluate(url: string, req: RewriteRequest): RewriteResult {
    const rules = this.rules;
    let current = url;
    let rewritten = false;
    let qsa = false;
    let qsd = false;
    const attributes: Array<[string, string]> = [];
    const cookies: string[] = [];
    let type: string | undefined;
    let rounds = 0;
    let roundChars = 0;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      const hit = evaluateRule(rule, current, req);
      const out = hit?.url ?? null;
      if (out !== null && out !== current) {
        current = out;
        rewritten = true;
      }
      if (out !== null) {
        if (rule.qsappend) qsa = true;
        if (rule.qsdiscard) qsd = true;
        if (rule.forbidden) return { kind: "status", status: 403, rule };
        if (rule.gone) return { kind: "status", status: 410, rule };
        if (rule.redirect) {
          return {
            kind: "redirect",
            status: rule.redirect,
            url: current,
            qsappend: qsa,
            qsdiscard: qsd,
            noescape: rule.noescape,
            rule,
          };
        }
        if (rule.cookie) {
          // A value taken from the request ("%1" of a header or the query) must not add cookie
          // attributes ("; Domain=...") or break the header: Tomcat's cookie processor refuses it too.
          if (!isCookieValue(hit!.cookie!)) return { kind: "status", status: 400, rule };
          cookies.push(cookieHeader(rule.cookie, hit!.cookie!));
        }
        for (const [name, value] of hit!.env ?? []) {
          attributes.push([name, value]);
          req.setEnv(name, value);
        }
        if (rule.type !== undefined) type = rule.type;
      }
      if (rule.chain && out === null) {
        // Skip the rest of the chain, and the rule that ends it.
        let j = i + 1;
        while (j < rules.length && rules[j]!.chain) j++;
        i = j;
        continue;
      }
      if (out === null) continue;
      if (rule.last) break;
      if (rule.next) {
        if (++rounds > MAX_ROUNDS) {
          throw new RewriteLoopError(`the N flag of rule at line ${rule.line} looped ${MAX_ROUNDS} times`);
        }
        roundChars += current.length;
        if (roundChars > MAX_ROUND_CHARS) {
          throw new RewriteLoopError(
            `the N flag of rule at line ${rule.line} went ${rounds} times over a URL of ${current.length} characters, more than the ${MAX_ROUND_CHARS} characters of rewriting a request may cost`,
          );
        }
        i = -1;
        continue;
      }
      i += rule.skip;
    }
    return {
      kind: "pass",
      url: rewritten ? current : undefined,
      qsappend: qsa,
      qsdiscard: qsd,
      attributes,
      cookies,
      type,
    };
  }
}

/** A rule's result when it applies: the URL, and its E= and CO= values. */
interface RuleOut {
  url: string;
  env?: Array<[string, string]>;
  cookie?: string;
}

function evaluateRule(rule: RewriteRule, url: string, req: RewriteRequest): RuleOut | null {
  rule.pattern.lastIndex = 0;
  const m = rule.pattern.exec(url);
  if ((m !== null) === rule.negate) return null;
  const matched: Matched = { rule: m, cond: null };
  let ok = true;
  const conds = rule.conditions;
  for (let pos = 0; pos < conds.length; pos++) {
    const c = conds[pos]!;
    const r = evaluateCondition(c, matched, req);
    ok = r.ok;
    if (ok) {
      if (r.match) matched.cond = r.match;
      if (c.or) {
        // The conditions joined by OR to this one are satisfied with it.
        do pos++; while (pos < conds.length && conds[pos]!.or);
      }
    } else if (!c.or) {
      break;
    }
  }
  if (!ok) return null;
  const out: RuleOut = { url: rule.substitution ? evaluatePieces(rule.substitution, matched, req, rule) : url };
  if (rule.env.length > 0) {
    out.env = rule.env.map(([name, value]) => [name, evaluatePieces(value, matched, req, rule)]);
  }
  if (rule.cookie) out.cookie = evaluatePieces(rule.cookie.value, matched, req, rule);
  return out;
}

function evaluateCondition(
  c: Condition,
  matched: Matched,
  req: RewriteRequest,
): { ok: boolean; match: RegExpExecArray | null } {
  const value = evaluatePieces(c.test, matched, req);
  let ok: boolean;
  let match: RegExpExecArray | null = null;
  switch (c.kind) {
    case "regex":
      c.regex!.lastIndex = 0;
      match = c.regex!.exec(value);
      ok = match !== null;
      break;
    case "<":
      ok = value < c.value!;
      break;
    case ">":
      ok = value > c.value!;
      break;
    case "=":
      ok = value === c.value!;
      break;
    default:
      ok = req.resource(c.kind, value);
  }
  return c.negate ? { ok: !ok, match: null } : { ok, match };
}

function evaluatePieces(pieces: Piece[], matched: Matched, req: RewriteRequest, rule?: RewriteRule): string {
  let out = "";
  for (const p of pieces) {
    if (typeof p === "string") {
      out += p;
      continue;
    }
    switch (p.k) {
      case "rule": {
        const g = matched.rule?.[p.n] ?? "";
        out += rule?.escapeBackReferences ? encodeDefault(g) : g;
        break;
      }
      case "cond":
        out += matched.cond?.[p.n] ?? "";
        break;
      case "var":
        out += req.variable(p.name);
        break;
      case "http":
        out += req.header(p.name);
        break;
      case "env":
        out += req.env(p.name);
        break;
      case "ssl":
        out += req.ssl(p.name);
        break;
      case "map": {
        const key = evaluatePieces(p.key, matched, req, rule);
        out += p.map(key) ?? (p.def ? evaluatePieces(p.def, matched, req, rule) : "");
        break;
      }
    }
  }
  return out;
}

/**
 * RFC 6265 cookie-value: cookie-octets (visible ASCII but for `"`, `,`, `;` and `\\`), optionally
 * inside one pair of double quotes.
 */
export function isCookieValue(v: string): boolean {
  const quoted = v.length >= 2 && v.charCodeAt(0) === 0x22 && v.charCodeAt(v.length - 1) === 0x22;
  const [from, to] = quoted ? [1, v.length - 1] : [0, v.length];
  for (let i = from; i < to; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x22 || c === 0x2c || c === 0x3b || c === 0x5c) return false;
  }
  return true;
}

function cookieHeader(c: NonNullable<RewriteRule["cookie"]>, value: string): string {
  let s = `${c.name}=${value}`;
  if (c.domain) s += `; Domain=${c.domain}`;
  if (c.lifetime >= 0) {
    s += `; Max-Age=${c.lifetime}; Expires=${new Date(Date.now() + c.lifetime * 1000).toUTCString()}`;
  }
  if (c.path) s += `; Path=${c.path}`;
  if (c.secure) s += "; Secure";
  if (c.httpOnly) s += "; HttpOnly";
  return s;
}

// ---------------------------------------------------------------------------------------------
// Encoding, as Tomcat's RewriteValve does it in three steps.

const HEX = "0123456789ABCDEF";

/** Step 1: literal "%", ";" and "?" in the decoded path become %25, %3b, %3f (Tomcat writes lower case). */
export function encodeForRewrite(decoded: string): string {
  if (!/[%;?]/.test(decoded)) return decoded;
  return decoded.replace(/[%;?]/g, (c) => "%" + c.charCodeAt(0).toString(16));
}

/** Characters left as they are by Tomcat's URLEncoder.DEFAULT (paths), plus "%" (already encoded). */
const PATH_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@/%]/;
/** URLEncoder.QUERY's safe set, plus "%". */
const QUERY_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]/;

function encodeWith(s: string, safe: RegExp): string {
  let out = "";
  for (const ch of s) {
    if (safe.test(ch)) out += ch;
    else {
      for (const b of new TextEncoder().encode(ch)) out += "%" + HEX[b >> 4] + HEX[b & 15];
    }
  }
  return out;
}

/** Step 3 for the path: everything that is not a path character is percent-encoded as UTF-8; "%" stays. */
export function encodeRewrittenPath(s: string): string {
  return encodeWith(s, PATH_SAFE);
}

/** Step 3 for a query string. */
export function encodeRewrittenQuery(s: string): string {
  return encodeWith(s, QUERY_SAFE);
}

/** Tomcat's URLEncoder.DEFAULT, for the B flag (back-references escaped, "%" included). */
function encodeDefault(s: string): string {
  return encodeWith(s, /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/);
}

/** Percent-decoding that leaves malformed escapes as they are (UDecoder for NE redirects). */
export function decodeLoosely(s: string): string {
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Parsing.

/** The `int:` maps (InternalRewriteMap). */
const INTERNAL_MAPS: Record<string, (key: string) => string | null> = {
  toupper: (k) => k.toUpperCase(),
  tolower: (k) => k.toLowerCase(),
  escape: (k) => encodeDefault(k),
  unescape: (k) => {
    try {
      return decodeURIComponent(k);
    } catch {
      return k;
    }
  },
};

/** httpd directives Tomcat's valve does not have, and what to do instead. */
const HTTPD_ONLY: Record<string, string> = {
  RewriteEngine: "remove the line: the valve is on while it is configured (enabled: false turns it off)",
  RewriteBase: "remove the line and write full paths in the substitutions (a context's valve sees paths within it)",
  RewriteOptions: "remove the line: Tomcat's RewriteValve has no options",
  RewriteLog: "remove the line: set logging.components.core to debug to see rewrites",
  RewriteLogLevel: "remove the line: set logging.components.core to debug to see rewrites",
  RewriteLock: "remove the line",
};

const RULE_FLAGS =
  "R[=code|temp|permanent|seeother], F, G, L, N, C, S=n, NC, NE, QSA, QSD, B, CO=name:value[:domain[:lifetime[:path[:secure[:httponly]]]]], E=name:value, T=type";

/** Splits a line into words as Tomcat's QuotedStringTokenizer does: blanks separate, "..." quotes (\ escapes), # starts a comment. */
export function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let mode: "spaces" | "quoted" | "escaped" | "simple" | "comment" = "spaces";
  let cur = "";
  for (const ch of line) {
    switch (mode) {
      case "spaces":
        if (/\s/.test(ch)) break;
        if (ch === '"') mode = "quoted";
        else if (ch === "#") mode = "comment";
        else {
          cur += ch;
          mode = "simple";
        }
        break;
      case "quoted":
        if (ch === '"') {
          tokens.push(cur);
          cur = "";
          mode = "spaces";
        } else if (ch === "\\") mode = "escaped";
        else cur += ch;
        break;
      case "escaped":
        cur += ch;
        mode = "quoted";
        break;
      case "simple":
        if (/\s/.test(ch)) {
          tokens.push(cur);
          cur = "";
          mode = "spaces";
        } else cur += ch;
        break;
      case "comment":
        break;
    }
  }
  if (cur !== "") tokens.push(cur);
  return tokens;
}

/**
 * Parses a rewrite configuration. `where` names the file (or the config attribute holding the
 * rules inline); `firstLine` is the line number of the text's first line there.
 */
export function parseRewriteConfig(text: string, where: Where, firstLine = 1, inline = false): RewriteRules {
  const rules: RewriteRule[] = [];
  let conditions: Condition[] = [];
  const maps = new Map<string, (key: string) => string | null>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = firstLine + i;
    // Rules inline in a config attribute: the attribute is the place, the line is within its text.
    const at = inline ? where : { ...where, line };
    const fail = (message: string, fix: string): never => {
      throw new BobcatError("config.rewrite", inline ? `line ${line} of the rules: ${message}` : message, {
        where: at,
        fix,
      });
    };
    const words = tokenize(lines[i]!);
    if (words.length === 0) continue;
    const [directive, ...args] = words as [string, ...string[]];
    if (directive === "RewriteCond") {
      if (args.length < 2 || args.length > 3) {
        fail(
          `RewriteCond takes TestString CondPattern [flags], not ${args.length} word(s)`,
          'write RewriteCond %{HTTPS} !=on [NC], quoting a pattern with blanks in "..."',
        );
      }
      conditions.push(parseCondition(args[0]!, args[1]!, args[2], maps, fail, line));
    } else if (directive === "RewriteRule") {
      if (args.length < 2 || args.length > 3) {
        fail(
          `RewriteRule takes Pattern Substitution [flags], not ${args.length} word(s)`,
          'write RewriteRule ^/old/(.*)$ /new/$1 [R=301,L], quoting a pattern with blanks in "..."',
        );
      }
      const rule = parseRule(args[0]!, args[1]!, args[2], maps, fail, line, lines[i]!.trim());
      const condRef = rule.substitution?.find((p) => typeof p !== "string" && p.k === "cond");
      if (condRef && !conditions.some((c) => c.kind === "regex")) {
        fail(
          `the substitution refers to %${
            (condRef as { n: number }).n
          } (a RewriteCond group), but the rule has no RewriteCond with a pattern`,
          "write \\% for a literal % (so %20 is \\%20), or add the RewriteCond whose group it means",
        );
      }
      rule.conditions = conditions;
      conditions = [];
      rules.push(rule);
    } else if (directive === "RewriteMap") {
      if (args.length < 2) fail("RewriteMap takes a name and a map", "write RewriteMap lc int:tolower");
      const [name, kind] = args as [string, string];
      const internal = kind.startsWith("int:") ? INTERNAL_MAPS[kind.slice(4)] : undefined;
      if (!internal) {
        fail(
          `RewriteMap ${name}: bobcat has the int: maps (int:toupper, int:tolower, int:escape, int:unescape), not ${kind}`,
          "use an int: map, or write the mapping out as RewriteRules",
        );
      }
      maps.set(name, internal!);
    } else if (HTTPD_ONLY[directive]) {
      fail(
        `${directive} is an Apache httpd directive that Tomcat's RewriteValve does not have`,
        HTTPD_ONLY[directive]!,
      );
    } else {
      fail(
        `unknown directive ${JSON.stringify(directive)}`,
        "a rewrite.config has RewriteCond, RewriteRule, RewriteMap and # comments (directives are case-sensitive)",
      );
    }
  }
  if (conditions.length > 0) {
    const line = conditions[0]!.line;
    throw new BobcatError(
      "config.rewrite",
      (inline ? `line ${line} of the rules: ` : "") + "RewriteCond lines at the end apply to no RewriteRule",
      {
        where: inline ? where : { ...where, line },
        fix: "follow the conditions with the RewriteRule they are for, or remove them",
      },
    );
  }
  return new RewriteRules(rules);
}

type Fail = (message: string, fix: string) => never;

function flagList(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const inner = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
  return inner.split(",").filter((f) => f !== "");
}

/** A Java regex as a JavaScript one that must match the whole string (Matcher.matches), DOTALL. */
function compile(source: string, nocase: boolean, what: string, fail: Fail): RegExp {
  const unescaped = source.replace(/\\./g, "");
  if (/\(\?[idmsuxU-]+[:)]/.test(unescaped)) {
    fail(
      `${what} ${
        JSON.stringify(source)
      } uses Java inline flags, which bobcat's (JavaScript) regular expressions do not have`,
      "use the NC flag for case-blind matching, and write the pattern without (?i) or similar",
    );
  }
  if (/[*+?}]\+/.test(unescaped.replace(/\[[^\]]*\]/g, ""))) {
    fail(
      `${what} ${
        JSON.stringify(source)
      } uses a possessive quantifier (*+, ++, ?+), which JavaScript regular expressions do not have`,
      "use the greedy form (*, +, ?)",
    );
  }
  try {
    return new RegExp(`^(?:${source})$`, nocase ? "si" : "s");
  } catch (e) {
    return fail(
      `${what} ${JSON.stringify(source)} is not a valid regular expression: ${(e as Error).message}`,
      "fix the pattern (it is matched against the whole string, as Tomcat's Matcher.matches)",
    );
  }
}

function groupCount(re: RegExp): number {
  return new RegExp(`${re.source}|`, re.flags).exec("")!.length - 1;
}

function parseCondition(
  test: string,
  rawPattern: string,
  rawFlags: string | undefined,
  maps: Map<string, (key: string) => string | null>,
  fail: Fail,
  line: number,
): Condition {
  let nocase = false;
  let or = false;
  for (const f of flagList(rawFlags)) {
    if (f === "NC" || f === "nocase") nocase = true;
    else if (f === "OR" || f === "ornext") or = true;
    else {
      fail(
        `RewriteCond flag ${JSON.stringify(f)} is not one Tomcat has`,
        "RewriteCond takes [NC] (case-blind) and [OR] (or the next condition), comma-separated",
      );
    }
  }
  const c: Condition = { test: parsePieces(test, maps, fail, "test string"), negate: false, kind: "regex", or, line };
  let pattern = rawPattern;
  if (pattern.startsWith("!")) {
    c.negate = true;
    pattern = pattern.slice(1);
  }
  const first = pattern[0];
  if (first === "<" || first === ">" || first === "=") {
    c.kind = first;
    c.value = pattern.slice(1);
  } else if (pattern === "-d" || pattern === "-f" || pattern === "-s") {
    c.kind = pattern[1] as "d" | "f" | "s";
  } else if (/^-[a-zA-Z]+$/.test(pattern)) {
    fail(
      `RewriteCond test ${pattern} is not one Tomcat has`,
      "Tomcat's RewriteValve tests -d (directory), -f (file) and -s (non-empty file) in the web application, and compares with <, > and =",
    );
  } else {
    c.regex = compile(pattern, nocase, "the RewriteCond pattern", fail);
  }
  return c;
}

function parseRule(
  rawPattern: string,
  sub: string,
  rawFlags: string | undefined,
  maps: Map<string, (key: string) => string | null>,
  fail: Fail,
  line: number,
  text: string,
): RewriteRule {
  const rule: RewriteRule = {
    text,
    line,
    pattern: /^$/,
    negate: false,
    substitution: null,
    conditions: [],
    chain: false,
    last: false,
    next: false,
    skip: 0,
    forbidden: false,
    gone: false,
    redirect: 0,
    noescape: false,
    qsappend: false,
    qsdiscard: false,
    escapeBackReferences: false,
    env: [],
  };
  const badFlag = (f: string, why = `RewriteRule flag ${JSON.stringify(f)} is not one bobcat has`): never =>
    fail(why, `the flags are ${RULE_FLAGS}, comma-separated in [...]`);
  let nocase = false;
  for (const f of flagList(rawFlags)) {
    const eq = f.indexOf("=");
    const name = eq < 0 ? f : f.slice(0, eq);
    const value = eq < 0 ? undefined : f.slice(eq + 1);
    switch (name) {
      case "B":
        rule.escapeBackReferences = true;
        break;
      case "C":
      case "chain":
        rule.chain = true;
        break;
      case "F":
      case "forbidden":
        rule.forbidden = true;
        break;
      case "G":
      case "gone":
        rule.gone = true;
        break;
      case "L":
      case "last":
        rule.last = true;
        break;
      case "N":
      case "next":
        rule.next = true;
        break;
      case "NC":
      case "nocase":
        nocase = true;
        break;
      case "NE":
      case "noescape":
        rule.noescape = true;
        break;
      case "QSA":
      case "qsappend":
        rule.qsappend = true;
        break;
      case "QSD":
      case "qsdiscard":
        rule.qsdiscard = true;
        break;
      case "R":
      case "redirect": {
        const code = value === undefined || value === "temp"
          ? 302
          : value === "permanent"
          ? 301
          : value === "seeother"
          ? 303
          : /^\d{3}$/.test(value)
          ? Number(value)
          : 0;
        if (code < 300 || code > 399) {
          badFlag(f, `RewriteRule flag ${f}: a redirect's status is 300–399, temp, permanent or seeother`);
        }
        rule.redirect = code;
        break;
      }
      case "S":
      case "skip":
        if (value === undefined || !/^\d+$/.test(value)) {
          badFlag(f, `RewriteRule flag ${f}: S= takes a number of rules`);
        }
        rule.skip = Number(value);
        break;
      case "T":
      case "type":
        if (!value) badFlag(f, `RewriteRule flag ${f}: T= takes a media type`);
        rule.type = value;
        break;
      case "E":
      case "env": {
        const colon = value?.indexOf(":") ?? -1;
        if (colon <= 0 || colon === value!.length - 1) {
          badFlag(f, `RewriteRule flag ${f}: E= takes name:value`);
        }
        rule.env.push([value!.slice(0, colon), parsePieces(value!.slice(colon + 1), maps, fail, "E= value")]);
        break;
      }
      case "CO":
      case "cookie": {
        const parts = (value ?? "").split(":");
        if (parts.length < 2 || !parts[0]) badFlag(f, `RewriteRule flag ${f}: CO= takes name:value[:domain...]`);
        const lifetime = parts[3] === undefined || parts[3] === "" ? -1 : Number(parts[3]);
        if (!Number.isInteger(lifetime)) badFlag(f, `RewriteRule flag ${f}: the cookie lifetime is whole seconds`);
        if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(parts[0]!)) {
          badFlag(f, `RewriteRule flag ${f}: ${JSON.stringify(parts[0])} is not a cookie name`);
        }
        rule.cookie = {
          name: parts[0]!,
          value: parsePieces(parts[1]!, maps, fail, "CO= value"),
          domain: parts[2] || undefined,
          lifetime,
          path: parts[4] || undefined,
          secure: parts[5] === "true",
          httpOnly: parts[6] === "true",
        };
        break;
      }
      case "H":
      case "host":
      case "VS":
      case "valveSkip":
        badFlag(
          f,
          `RewriteRule flag ${f} (${
            name.startsWith("H") || name === "host" ? "rewriting the host name" : "skipping the next valve"
          }) is not supported by bobcat`,
        );
        break;
      case "P":
      case "proxy":
        badFlag(f, `RewriteRule flag ${f}: Tomcat cannot proxy, and neither can bobcat`);
        break;
      default:
        badFlag(f);
    }
  }
  let pattern = rawPattern;
  if (pattern.startsWith("!")) {
    rule.negate = true;
    pattern = pattern.slice(1);
  }
  rule.pattern = compile(pattern, nocase, "the RewriteRule pattern", fail);
  if (sub !== "-") {
    rule.substitution = parsePieces(sub, maps, fail, "substitution");
    const groups = groupCount(rule.pattern);
    for (const p of rule.substitution) {
      if (typeof p !== "string" && p.k === "rule" && p.n > groups) {
        fail(
          `the substitution refers to $${p.n}, but the pattern has ${groups} group(s)`,
          "refer to a group the pattern has, or add the group",
        );
      }
    }
  }
  if (rule.redirect && rule.substitution === null) {
    fail("a redirect (R) needs a substitution, not -", "write the URL to redirect to");
  }
  return rule;
}

function parsePieces(
  sub: string,
  maps: Map<string, (key: string) => string | null>,
  fail: Fail,
  what: string,
): Piece[] {
  const pieces: Piece[] = [];
  let text = "";
  const flush = () => {
    if (text) pieces.push(text);
    text = "";
  };
  let i = 0;
  while (i < sub.length) {
    const c = sub[i]!;
    if (c === "\\") {
      if (i + 1 === sub.length) fail(`the ${what} ${JSON.stringify(sub)} ends in a lone \\`, "write \\\\ for a \\");
      text += sub[i + 1];
      i += 2;
      continue;
    }
    if (c !== "$" && c !== "%") {
      text += c;
      i++;
      continue;
    }
    const next = sub[i + 1];
    if (next !== undefined && next >= "0" && next <= "9") {
      flush();
      pieces.push({ k: c === "$" ? "rule" : "cond", n: Number(next) });
      i += 2;
      continue;
    }
    if (next !== "{") {
      fail(
        `the ${what} ${JSON.stringify(sub)} has a ${c} that is not followed by a digit or {`,
        `write \\${c} for a literal ${c}${c === "%" ? " (so %20 is \\%20)" : ""}`,
      );
    }
    const close = matchingBrace(sub, i + 1);
    if (close < 0) fail(`the ${what} ${JSON.stringify(sub)} has an unclosed ${c}{`, "close it with }");
    const body = sub.slice(i + 2, close);
    flush();
    if (c === "$") {
      const colon = topLevel(body, ":");
      if (colon <= 0) fail(`the map lookup \${${body}} has no name:key`, "write ${mapname:key|default}");
      const name = body.slice(0, colon);
      const map = maps.get(name);
      if (!map) fail(`no RewriteMap named ${JSON.stringify(name)}`, "define it above with RewriteMap NAME int:...");
      const rest = body.slice(colon + 1);
      const bar = topLevel(rest, "|");
      pieces.push({
        k: "map",
        map: map!,
        key: parsePieces(bar < 0 ? rest : rest.slice(0, bar), maps, fail, what),
        def: bar < 0 ? null : parsePieces(rest.slice(bar + 1), maps, fail, what),
      });
    } else {
      const colon = body.indexOf(":");
      if (colon >= 0) {
        const type = body.slice(0, colon);
        const key = body.slice(colon + 1);
        if (type === "HTTP") {
          if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(key)) {
            fail(`%{${body}}: ${JSON.stringify(key)} is not a header name`, "write %{HTTP:Header-Name}");
          }
          pieces.push({ k: "http", name: key });
        } else if (type === "ENV") pieces.push({ k: "env", name: key });
        else if (type === "SSL") pieces.push({ k: "ssl", name: key });
        else fail(`%{${body}}: ${type} is not a variable type`, "write %{HTTP:header}, %{ENV:name} or %{SSL:name}");
      } else {
        if (!VARIABLES.has(body)) {
          fail(
            `%{${body}} is not a server variable Tomcat has`,
            `use one of ${[...VARIABLES].join(", ")}, or %{HTTP:header-name}`,
          );
        }
        pieces.push({ k: "var", name: body });
      }
    }
    i = close + 1;
  }
  flush();
  return pieces;
}

function matchingBrace(s: string, open: number): number {
  let depth = 1;
  for (let i = open + 1; i < s.length; i++) {
    const c = s[i];
    if (c === "{" && (s[i - 1] === "$" || s[i - 1] === "%")) depth++;
    else if (c === "}" && --depth === 0) return i;
  }
  return -1;
}

function topLevel(s: string, ch: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "{" && (s[i - 1] === "$" || s[i - 1] === "%")) depth++;
    else if (c === "}") depth--;
    else if (c === ch && depth === 0) return i;
  }
  return -1;
}

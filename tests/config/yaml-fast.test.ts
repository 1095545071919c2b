/**
 * A config is read by yaml-plain.ts when it keeps to the plain subset (src/config/source.ts), on
 * Bun what that leaves by Bun.YAML, by the `yaml` package otherwise. These compare the
 * readers: wherever a fast path answers, its data must equal the `yaml` package's; where the two
 * would differ, it must not answer. Where yaml-plain.ts reads a text it also gives the positions
 * of its nodes and keys (error messages name them): the same as the `yaml` package's, checked for
 * every path of every text it reads here.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { fastYaml, parseSource, type PathSeg, PLAIN_YAML } from "../../src/config/source.ts";
import { parseYamlSource } from "../../src/config/source-yaml.ts";
import { DEFAULT_CONFIG_YAML } from "../../src/cli/default-config.ts";

const ROOT = join(import.meta.dir, "../..");
const yamlRead = (text: string) => parse(text, { uniqueKeys: true }) ?? {};

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === "node_modules" ? [] : yamlFiles(p);
    return /\.ya?ml$/.test(name) ? [p] : [];
  });
}

const READERS = [
  { name: "Bun.YAML", parser: Bun.YAML, unanswered: [] as string[] },
  // Block scalars, continued plain scalars and \u / \x escapes are left to the yaml package.
  { name: "yaml-plain.ts", parser: PLAIN_YAML, unanswered: ["a: |", "a: 'it", "a: plain"] },
];

for (const { name: reader, parser, unanswered } of READERS) {
  describe(`${reader} fast path`, () => {
    const fast = (text: string) => fastYaml(parser, text);

    test("the default config is read by the fast path, with the yaml package's data", () => {
      for (const text of [readFileSync(join(ROOT, "config/server.yaml"), "utf8"), DEFAULT_CONFIG_YAML]) {
        const data = fast(text);
        expect(data).toBeDefined();
        expect(data).toEqual(yamlRead(text));
      }
    });

    test("every YAML file of the project and its fixtures: same data, or no fast answer", () => {
      const files = [
        ...yamlFiles(join(ROOT, "config")),
        ...yamlFiles(join(ROOT, "tests")),
        ...yamlFiles(join(ROOT, "examples")),
      ];
      expect(files.length).toBeGreaterThan(1);
      let answered = 0;
      for (const f of files) {
        const text = readFileSync(f, "utf8");
        const data = fast(text);
        if (data === undefined) continue;
        answered++;
        expect({ f, data }).toEqual({ f, data: yamlRead(text) });
      }
      expect(answered).toBeGreaterThan(0);
    });

    // Each of these the two parsers read differently (or only one refuses): the fast path must not answer.
    const differ: Record<string, string> = {
      "duplicate key": "a: 1\na: 2",
      "duplicate key, nested": "s:\n  x: 1\n  y: 2\n  x: 3\n",
      "duplicate key in a flow mapping": "a: { x: 1, x: 2 }",
      "duplicate quoted key": '"a": 1\na: 2',
      // Keys the count would miss, which would make up for a duplicate (Bun.YAML keeps the last).
      "duplicate key beside a flow key with no space": "a: 1\na: 2\nb: {c:1}",
      "duplicate key beside a quoted flow key with no space": 'a: 1\na: 2\nb: {"c":1}',
      "duplicate key beside a flow entry with no value": "a: 1\na: 2\nb: { c: 1, d }",
      "duplicate key beside a flow key right before a collection": "a: 1\na: 2\nb: { c:{ } }",
      "duplicate key beside a key ending in a colon": "a: 1\na: 2\nk:: 3",
      "duplicate key after a block scalar in a nested sequence": "s:\n  - { a: 1, a: 2 }\n  - - |\n    - { b: 1 }\n",
      "merge key": "base: &b {x: 1}\nd:\n  <<: *b\n  y: 3",
      "merge of a list": "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]",
      "tag": "a: !!int '3'",
      "YAML 1.1 directive": "%YAML 1.1\n---\na: yes",
      "several documents": "a: 1\n---\nb: 2",
      "complex key": "? [a, b]\n: c",
      "null key": "null: c",
      "numeric key": "1: a",
      "unresolved alias": "a: *nothing",
      "syntax error": "a: b: c",
      "bad indentation": "a:\n  - 1\n - 2",
      "multi-line flow": "a: [1,\n  2]",
      "multi-line quoted": 'a: "x\n  y"',
      "signed hexadecimal": "a: -0x1F",
      "signed octal": "a: [+0o7]",
      "hexadecimal beyond 2^53": "a: 0xFFFFFFFFFFFFFFFFF",
      "tab": "a:\t1",
      "CRLF": "a: 1\r\nb: 2\r\n",
    };
    for (const [name, text] of Object.entries(differ)) {
      test(`not answered: ${name}`, () => expect(fast(text)).toBeUndefined());
    }

    // Scalars of YAML 1.2's core schema (what bobcat accepts): both read them alike.
    const same = [
      "a: yes\nb: on\nc: True\nd: TRUE\ne: off\nf: ~\ng: null\nh: Null\ni: false",
      "b: 017\nc: 1_000\ne: 1e3\nf: .inf\ng: -.Inf\nh: .nan\ni: +12\nj: 1.0\nk: 0b101\nl: 12:30",
      "a: 08\nb: 0.5.1\nc: 1.2e+3\nd: -0\ne: .5\nf: 1.\ng: 12345678901234567890\nh: 1e400\ni: -.inf",
      "a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00",
      "a: |\n  line1\n  line2\nb: >-\n  folded\n  text\nc: |+\n  kept\n\nd: 1\n",
      "a: 'it''s'\nb: \"\\u00e9\\t\\x41\"\nc: it's\nd: foo#bar\ne: foo # comment",
      "a: plain\n  continued\n  lines\nb: 2",
      's:\n  - a\n  - b: 1\n    c: [x, "/*"]\n  - { d: 2, e: {f: 3} }\n  -\n    g: 4',
      'p: ${env.X:-8080}\nq: "${a}"\nr: http://x:80/y',
      "",
      "# only a comment\n",
      "a: {}\nb: []\nc:\nd: ''",
    ];
    for (const text of same) {
      test(`same data: ${JSON.stringify(text).slice(0, 50)}`, () => {
        const data = fast(text);
        if (unanswered.some((start) => text.startsWith(start))) expect(data).toBeUndefined();
        else {
          expect(data).toBeDefined();
          expect(data).toEqual(yamlRead(text));
        }
      });
    }
  });
}

// The plain reader's own choices: what it reads, and where it must leave the text to the yaml package.
describe("yaml-plain.ts", () => {
  const plain = (text: string) => fastYaml(PLAIN_YAML, text);
  const reads = [
    'a:\n- x\n- \'y\'\n- "z\\n\\"q"\nb: 1',
    "a:\n  - b: 1\n    c: 2\n  - - x\n    - y\n  -\n    q: 1\n  - [1, [2, {r: s}]]\n",
    "a: { b: , c: [x y, \"p,q\", 'r]'], }\nd: -1.5e-3\ne: '#x' # c",
    "a:\n\n  # comment\n  b:    spaced value  \n  c:\nd: -foo\ne: x-y",
    "- a\n- b: 1\n  c:\n    - 2",
    "a: [  ]\nb: { }\nc: \"\"\nd: ''''\ne: \"a#b\" #c",
  ];
  for (const text of reads) {
    test(`reads ${JSON.stringify(text).slice(0, 50)}`, () => {
      const data = plain(text);
      expect(data).toBeDefined();
      expect(data).toEqual(yamlRead(text));
    });
  }
  const leaves: Record<string, string> = {
    "continued sequence item": "- a\n  b",
    "more-indented key": "a: 1\n  b: 2",
    "less-indented key": "a:\n    b: 1\n  c: 2",
    "sequence after a value": "a: 1\n- b",
    "key after a sequence at its column": "a:\n  - 1\n  b: 2",
    "dash on a key's line": "k: - x",
    "value ending in a colon": "a: b:",
    "colon in a flow scalar": "a: [x:y]",
    "quoted key": "'a': 1",
    "key with a space": "a b: 1",
    "duplicate flow key": "a: {x: 1, x: 2}",
    "__proto__": "__proto__: {a: 1}",
    "unclosed flow": "a: [1, 2",
    "text after a flow": "a: [1] x",
    "text after a quote": "a: 'x' y",
    "unknown escape": 'a: "\\e"',
    "flow starting with a comma": "a: [, 1]",
    "plain scalar starting with a bracket": "a: ]x",
  };
  for (const [name, text] of Object.entries(leaves)) {
    test(`leaves to the yaml package: ${name}`, () => expect(plain(text)).toBeUndefined());
  }
});

test("on Bun, Bun.YAML reads only what yaml-plain.ts leaves (its parser then stays out of the server's memory)", () => {
  const yaml = Bun.YAML as { parse(text: string): unknown };
  const parse = yaml.parse;
  const texts: string[] = [];
  yaml.parse = (text: string) => (texts.push(text), parse(text));
  try {
    const plain = "server:\n  port: 8080\n  names: [a, b]\n";
    expect(parseSource("plain.yaml", plain).data).toEqual({ server: { port: 8080, names: ["a", "b"] } });
    expect(texts).toEqual([]);
    // A block scalar: yaml-plain.ts does not answer, Bun.YAML does.
    const block = "rules: |\n  RewriteRule ^/a$ /b\n  RewriteRule ^/c$ /d\n";
    expect(parseSource("block.yaml", block).data).toEqual({ rules: "RewriteRule ^/a$ /b\nRewriteRule ^/c$ /d\n" });
    expect(texts).toEqual([block]);
  } finally {
    yaml.parse = parse;
  }
});

/**
 * Every path of `data` (each node, plus a key that is not there and an index past the end, whose
 * nearest node is answered), for comparing positions.
 */
function paths(data: unknown, at: PathSeg[] = []): PathSeg[][] {
  const out: PathSeg[][] = [at, [...at, "no-such-key"]];
  if (Array.isArray(data)) {
    out.push([...at, data.length]);
    data.forEach((v, i) => out.push(...paths(v, [...at, i])));
  } else if (data !== null && typeof data === "object") {
    for (const [k, v] of Object.entries(data)) out.push(...paths(v, [...at, k]));
  }
  return out;
}

describe("yaml-plain.ts positions (error messages' line and column)", () => {
  const texts = [
    ...[...yamlFiles(join(ROOT, "config")), ...yamlFiles(join(ROOT, "tests")), ...yamlFiles(join(ROOT, "examples"))]
      .map((f) => readFileSync(f, "utf8")),
    DEFAULT_CONFIG_YAML,
    'a:\n- x\n- \'y\'\n- "z\\n\\"q"\nb: 1',
    "a:\n  - b: 1\n    c: 2\n  - - x\n    - y\n  -\n    q: 1\n  - [1, [2, {r: s}]]\n",
    "a: { b: , c: [x y, \"p,q\", 'r]'], }\nd: -1.5e-3\ne: '#x' # c",
    "a:\n\n  # comment\n  b:    spaced value  \n  c:\nd: -foo\ne: x-y",
    "- a\n- b: 1\n  c:\n    - 2",
    "a: [  ]\nb: { }\nc: \"\"\nd: ''''\ne: \"a#b\" #c",
    "a:\nb: 1\nc:   # x\nd:\n  - \n  -\n  - x: \n    y: 2\ne: { f: , g: [1, ] }\n",
    "k   :   v\nl:\n- 1\n-   - 2\n    -    3\nm:   {  a  :  1 ,b:[ x ,  y ]}  \n",
    "  indented: 1\n  root: [2]\n",
    "lone scalar",
    "[1, {a: b}]",
    "",
    "# nothing\n",
  ];

  test("the same as the yaml package's for every path, key or value, of every text yaml-plain.ts reads", () => {
    let compared = 0;
    let textsRead = 0;
    for (const text of texts) {
      if (fastYaml(PLAIN_YAML, text) === undefined) continue; // not read by yaml-plain.ts
      textsRead++;
      const plain = parseSource("plain.yaml", text);
      const full = parseYamlSource("plain.yaml", text);
      for (const path of paths(plain.data)) {
        for (const key of [false, true]) {
          expect({ text, path, key, at: plain.locate(path, key) }).toEqual({
            text,
            path,
            key,
            at: full.locate(path, key),
          });
          compared++;
        }
      }
    }
    expect(textsRead).toBeGreaterThan(12);
    expect(compared).toBeGreaterThan(900);
  });

  test("a plain config's positions come without the yaml package (Bun.YAML not asked either)", () => {
    const yaml = Bun.YAML as { parse(text: string): unknown };
    const parse = yaml.parse;
    let asked = 0;
    yaml.parse = (text: string) => (asked++, parse(text));
    try {
      const source = parseSource("plain.yaml", "server:\n  port: x\n  names: [a, b]\n");
      expect(source.locate(["server", "port"])).toEqual({ line: 2, column: 9 });
      expect(source.locate(["server", "names", 1])).toEqual({ line: 3, column: 14 });
      expect(source.locate(["server", "names"], true)).toEqual({ line: 3, column: 3 });
      expect(asked).toBe(0);
    } finally {
      yaml.parse = parse;
    }
  });
});

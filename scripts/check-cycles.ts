/**
 * Circular-import check of a source tree (default: src/ of this repository).
 *
 *   bun scripts/check-cycles.ts [DIR]
 *
 * Two kinds of cycle fail it:
 * - file cycles: a.ts imports b.ts which (through any chain) imports a.ts;
 * - folder cycles: the top-level folders under DIR (config, core, tls, ...) import each other in
 *   a loop, e.g. config → core → config, even where no single file chain closes the loop. The
 *   folders are the layers of the server; a loop between them means neither can be understood,
 *   tested or reused without the other.
 *
 * The import graph comes from dpdm (TypeScript's parser). Type-only imports count too: they carry
 * no code at run time, but a type that one layer borrows from another is the same coupling, and
 * excluding them would let the layering rot in silence. Dynamic `import()` counts as well.
 *
 * Exit code 0 without cycles, 1 with (each printed with the imports that close it).
 */
import { parseCircular, parseDependencyTree } from "dpdm";
import { existsSync } from "node:fs";
import { relative, resolve, sep } from "node:path";

export interface CycleReport {
  /** File cycles, each a list of paths relative to DIR, the first importing the second, ... the last the first. */
  files: string[][];
  /** Folder cycles: the folders of each strongly connected group and one import for each edge inside it. */
  folders: { folders: string[]; edges: { from: string; to: string; example: string }[] }[];
}

export async function findCycles(dir: string): Promise<CycleReport> {
  const root = resolve(dir);
  const tree = await parseDependencyTree("**/*.{ts,tsx,mts}", {
    context: root,
    cwd: root,
    transform: false,
    skipDynamicImports: false,
    exclude: /node_modules/,
  });
  // Keys and ids are relative to the context (DIR); only files inside it matter.
  const rel = (p: string) => relative(root, resolve(root, p)).split(sep).join("/");
  const inside = (p: string) => !rel(p).startsWith("..");
  const edges = new Map<string, Set<string>>();
  for (const [file, deps] of Object.entries(tree)) {
    if (!inside(file)) continue;
    const out = new Set<string>();
    for (const d of deps ?? []) if (d.id && inside(d.id) && existsSync(resolve(root, d.id))) out.add(rel(d.id));
    edges.set(rel(file), out);
  }
  const files = parseCircular(tree).map((c) => c.map(rel)).filter((c) => c.every((f) => !f.startsWith("..")));

  // Folder graph: a file directly under DIR is a layer of its own.
  const folderOf = (f: string) => f.split("/")[0]!;
  const fEdges = new Map<string, Map<string, string>>();
  for (const [from, tos] of edges) {
    for (const to of tos) {
      const a = folderOf(from), b = folderOf(to);
      if (a === b) continue;
      if (!fEdges.has(a)) fEdges.set(a, new Map());
      const m = fEdges.get(a)!;
      if (!m.has(b)) m.set(b, `${from} imports ${to}`);
    }
  }
  const folders: CycleReport["folders"] = [];
  for (const scc of stronglyConnected([...new Set([...edges.keys()].map(folderOf))], fEdges)) {
    if (scc.length < 2) continue;
    const set = new Set(scc);
    const inner: { from: string; to: string; example: string }[] = [];
    for (const a of scc) {
      for (const [b, example] of fEdges.get(a) ?? []) if (set.has(b)) inner.push({ from: a, to: b, example });
    }
    folders.push({ folders: scc.sort(), edges: inner.sort((x, y) => (x.from + x.to).localeCompare(y.from + y.to)) });
  }
  return { files, folders };
}

/** Tarjan's algorithm over the folder graph. */
function stronglyConnected(nodes: string[], edges: Map<string, Map<string, string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), on = new Set<string>();
  const stack: string[] = [], out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      for (;;) {
        const w = stack.pop()!;
        on.delete(w);
        scc.push(w);
        if (w === v) break;
      }
      out.push(scc);
    }
  };
  for (const n of nodes.sort()) if (!idx.has(n)) visit(n);
  return out;
}

export function formatReport(dir: string, r: CycleReport): string {
  const lines: string[] = [];
  for (const c of r.files) lines.push(`  file cycle: ${[...c, c[0]].map((f) => `${dir}/${f}`).join(" → ")}`);
  for (const g of r.folders) {
    lines.push(`  folder cycle between ${g.folders.map((f) => `${dir}/${f}`).join(", ")}:`);
    for (const e of g.edges) {
      lines.push(`    ${e.from} → ${e.to} (${dir}/${e.example.replace(" imports ", ` imports ${dir}/`)})`);
    }
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const dir = process.argv[2] ?? "src";
  const report = await findCycles(dir);
  const n = report.files.length + report.folders.length;
  if (n === 0) {
    console.log(`no circular imports in ${dir}/`);
  } else {
    console.error(
      `circular imports in ${dir}/ (${report.files.length} file cycle(s), ${report.folders.length} folder cycle(s)):\n${
        formatReport(dir, report)
      }\nfix: move the shared code or type into the lower layer (or a new module both import), or pass it in as a parameter`,
    );
    process.exit(1);
  }
}

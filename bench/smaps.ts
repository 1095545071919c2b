/**
 * Where a process's resident memory is, from /proc/<pid>/smaps and /proc/<pid>/pagemap (Linux):
 * the runtime binary's pages attributed to its ELF sections (machine code, read-only data, Bun's
 * JS builtins, the `.bun` section where `bun build --compile` embeds the app's sources and
 * bytecode), other files (shared libraries), and anonymous memory by kind. Used by
 * `bench/startup.ts --smaps`.
 */
import { closeSync, openSync, readFileSync, readlinkSync, readSync } from "node:fs";

const PAGE = 4096;

interface Section {
  name: string;
  offset: number;
  size: number;
}

/** The file-backed sections of a 64-bit little-endian ELF file, by file offset (empty for anything else). */
export function elfSections(path: string): Section[] {
  const fd = openSync(path, "r");
  try {
    const read = (pos: number, len: number) => {
      const b = Buffer.alloc(len);
      readSync(fd, b, 0, len, pos);
      return b;
    };
    const h = read(0, 64);
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return [];
    const shoff = Number(h.readBigUInt64LE(0x28));
    const shentsize = h.readUInt16LE(0x3a), shnum = h.readUInt16LE(0x3c), shstrndx = h.readUInt16LE(0x3e);
    const table = read(shoff, shentsize * shnum);
    const at = (i: number) => ({
      name: table.readUInt32LE(i * shentsize),
      type: table.readUInt32LE(i * shentsize + 4),
      offset: Number(table.readBigUInt64LE(i * shentsize + 0x18)),
      size: Number(table.readBigUInt64LE(i * shentsize + 0x20)),
    });
    const strtab = at(shstrndx);
    const names = read(strtab.offset, strtab.size);
    const out: Section[] = [];
    for (let i = 1; i < shnum; i++) {
      const s = at(i);
      if (s.type === 8 /* NOBITS */ || s.size === 0) continue;
      const end = names.indexOf(0, s.name);
      out.push({ name: names.toString("latin1", s.name, end), offset: s.offset, size: s.size });
    }
    return out.sort((a, b) => a.offset - b.offset);
  } finally {
    closeSync(fd);
  }
}

/** The row a runtime binary's section counts under. */
function sectionRow(name: string): string {
  if (name === ".text" || name === ".init" || name === ".fini" || name === ".plt") {
    return "runtime machine code (.text)";
  }
  if (name === ".bun") return "embedded app (.bun: sources + bytecode)";
  if (name === ".bun_builtins") return "runtime JS builtins (.bun_builtins)";
  if (name === ".rodata") return "runtime read-only data (.rodata)";
  return "runtime other sections (relocations, .data, …)";
}

/** The rows, in the order tables print them. */
export const SMAPS_ROWS = [
  "total (VmRSS)",
  "runtime machine code (.text)",
  "runtime read-only data (.rodata)",
  "runtime JS builtins (.bun_builtins)",
  "runtime other sections (relocations, .data, …)",
  "embedded app (.bun: sources + bytecode)",
  "shared libraries and other files",
  "heap arena (1 GiB reservation: JS heap + allocator)",
  "JIT code (anonymous, executable)",
  "brk heap (glibc malloc)",
  "stacks",
  "other anonymous (Deno: the V8 heap; stacks, small mmaps, .bss)",
];

/** KiB resident per row, and `total (VmRSS)`, their sum. */
export function smapsBreakdown(pid: number): Map<string, number> {
  const exe = readlinkSync(`/proc/${pid}/exe`);
  const sections = elfSections(exe);
  const rows = new Map<string, number>();
  const add = (row: string, kib: number) => rows.set(row, (rows.get(row) ?? 0) + kib);
  const pagemap = openSync(`/proc/${pid}/pagemap`, "r");
  try {
    let vma: { start: number; end: number; perms: string; offset: number; path: string; size: number } | undefined;
    const lines = readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n");
    for (const line of lines) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
      if (m) {
        const start = parseInt(m[1]!, 16), end = parseInt(m[2]!, 16);
        vma = { start, end, perms: m[3]!, offset: parseInt(m[4]!, 16), path: m[5]!, size: end - start };
        continue;
      }
      if (!vma) continue;
      const rss = /^Rss:\s+(\d+)/.exec(line);
      if (!rss) continue;
      const kib = Number(rss[1]);
      add("total (VmRSS)", kib);
      if (kib === 0) continue;
      if (vma.path === exe) {
        // Which pages are present, attributed by file offset to the section holding them.
        const pages = (vma.end - vma.start) / PAGE;
        const buf = Buffer.alloc(pages * 8);
        readSync(pagemap, buf, 0, buf.length, (vma.start / PAGE) * 8);
        let s = 0;
        for (let i = 0; i < pages; i++) {
          if (!(buf.readBigUInt64LE(i * 8) >> 63n)) continue;
          const off = vma.offset + i * PAGE;
          while (s < sections.length && sections[s]!.offset + sections[s]!.size <= off) s++;
          // A page can straddle two sections: it counts for the one it starts in (or the next one it reaches).
          const sec = sections[s];
          add(
            sec && sec.offset < off + PAGE ? sectionRow(sec.name) : "runtime other sections (relocations, .data, …)",
            4,
          );
        }
      } else if (vma.path.startsWith("/")) add("shared libraries and other files", kib);
      else if (vma.perms.includes("x")) add("JIT code (anonymous, executable)", kib);
      else if (vma.path === "[heap]") add("brk heap (glibc malloc)", kib);
      else if (vma.path.startsWith("[stack")) add("stacks", kib);
      else if (vma.size >= 512 << 20) add("heap arena (1 GiB reservation: JS heap + allocator)", kib);
      else add("other anonymous (Deno: the V8 heap; stacks, small mmaps, .bss)", kib);
    }
  } finally {
    closeSync(pagemap);
  }
  return rows;
}

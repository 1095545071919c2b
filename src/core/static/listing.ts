import { readdir } from "node:fs/promises";
import { encodePath, locate } from "./path.ts";

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Tomcat's format: KiB with one decimal, never "0.0" for a non-empty file. */
function renderSize(size: number): string {
  const kib = Math.floor(size / 1024);
  const tenths = Math.floor((size % 1024) / 103);
  return `${kib}.${kib === 0 && tenths === 0 && size > 0 ? 1 : tenths} KiB`;
}

interface Entry {
  name: string;
  isDirectory: boolean;
  size: number;
  mtimeMs: number;
}

/**
 * Entries a client could actually fetch: links leaving docBase, dangling links, sockets and
 * the protected WEB-INF / META-INF (hidden at every level, as Tomcat's listing does) are left out.
 */
async function listEntries(realBase: string, segments: string[], realDir: string): Promise<Entry[]> {
  const names = (await readdir(realDir)).filter((name) => !/^(web-inf|meta-inf)$/i.test(name));
  const located = await Promise.all(names.map((name) => locate(realBase, [...segments, name])));
  const entries: Entry[] = [];
  located.forEach((found, i) => {
    if (found) {
      const { stats } = found;
      entries.push({ name: names[i], isDirectory: stats.isDirectory(), size: stats.size, mtimeMs: stats.mtimeMs });
    }
  });
  return entries.sort((a, b) =>
    Number(b.isDirectory) - Number(a.isDirectory) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
}

/** The HTML page Tomcat's DefaultServlet shows for a directory when `listings` is on. */
export async function renderListing(
  realBase: string,
  segments: string[],
  realDir: string,
  contextPath: string,
): Promise<string> {
  const entries = await listEntries(realBase, segments, realDir);
  const shownPath = escapeHtml("/" + segments.map((s) => s + "/").join(""));
  const title = `Directory Listing For [${shownPath}]`;

  let heading = title;
  if (segments.length > 0) {
    const parent = segments.slice(0, -1);
    const parentHref = contextPath + encodePath(parent) + "/";
    const parentShown = "/" + parent.map((s) => s + "/").join("");
    heading += ` \u2013 <a href="${escapeHtml(parentHref)}"><b>Up To [${escapeHtml(parentShown)}]</b></a>`;
  }

  const rows = entries.map((entry) => {
    const slash = entry.isDirectory ? "/" : "";
    const href = contextPath + encodePath([...segments, entry.name]) + slash;
    return [
      "<tr>",
      `<td><a href="${escapeHtml(href)}"><tt>${escapeHtml(entry.name)}${slash}</tt></a></td>`,
      `<td class="size"><tt>${entry.isDirectory ? "&nbsp;" : renderSize(entry.size)}</tt></td>`,
      `<td class="date"><tt>${new Date(Math.trunc(entry.mtimeMs)).toUTCString()}</tt></td>`,
      "</tr>",
    ].join("");
  });

  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<title>${title}</title>`,
    "<style>body{font-family:sans-serif}table{width:100%;border-collapse:collapse}" +
    "th,td{padding:4px 8px}th{text-align:left}.size,.date{text-align:right}tbody tr:nth-child(even){background:#eee}</style>",
    "</head>",
    "<body>",
    `<h1>${heading}</h1>`,
    "<hr>",
    "<table>",
    '<thead><tr><th>Filename</th><th class="size">Size</th><th class="date">Last Modified</th></tr></thead>',
    "<tbody>",
    ...rows,
    "</tbody>",
    "</table>",
    "<hr>",
    "</body>",
    "</html>",
    "",
  ].join("\r\n");
}

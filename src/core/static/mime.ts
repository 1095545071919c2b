/**
 * Built-in extension → media type table, so the answer is the same on every runtime and does
 * not depend on the host's /etc/mime.types.
 */
const TYPES = new Map<string, string>(Object.entries({
  // documents and code
  html: "text/html",
  htm: "text/html",
  xhtml: "application/xhtml+xml",
  css: "text/css",
  js: "text/javascript", // RFC 9239 made text/javascript the one registered type
  mjs: "text/javascript",
  cjs: "text/javascript",
  json: "application/json",
  jsonld: "application/ld+json",
  map: "application/json",
  webmanifest: "application/manifest+json",
  txt: "text/plain",
  text: "text/plain",
  log: "text/plain",
  md: "text/markdown",
  markdown: "text/markdown",
  csv: "text/csv",
  tsv: "text/tab-separated-values",
  xml: "application/xml",
  xsl: "application/xslt+xml",
  xslt: "application/xslt+xml",
  rss: "application/rss+xml",
  atom: "application/atom+xml",
  yaml: "application/yaml",
  yml: "application/yaml",
  ics: "text/calendar",
  vtt: "text/vtt",
  rtf: "application/rtf",
  pdf: "application/pdf",
  wasm: "application/wasm",
  // images
  svg: "image/svg+xml",
  png: "image/png",
  apng: "image/apng",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  jfif: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/x-icon",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  // fonts
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  eot: "application/vnd.ms-fontobject",
  // audio and video
  mp4: "video/mp4",
  m4v: "video/mp4",
  webm: "video/webm",
  ogv: "video/ogg",
  mov: "video/quicktime",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  aac: "audio/aac",
  ogg: "audio/ogg",
  oga: "audio/ogg",
  opus: "audio/ogg",
  wav: "audio/wav",
  flac: "audio/flac",
  mid: "audio/midi",
  midi: "audio/midi",
  // archives
  zip: "application/zip",
  gz: "application/gzip",
  tgz: "application/gzip",
  bz2: "application/x-bzip2",
  xz: "application/x-xz",
  "7z": "application/x-7z-compressed",
  tar: "application/x-tar",
  jar: "application/java-archive",
  war: "application/java-archive",
  // office formats
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ppt: "application/vnd.ms-powerpoint",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  odt: "application/vnd.oasis.opendocument.text",
  ods: "application/vnd.oasis.opendocument.spreadsheet",
  odp: "application/vnd.oasis.opendocument.presentation",
  epub: "application/epub+zip",
}));

const FALLBACK = "application/octet-stream";

/** Textual types get an explicit charset so browsers do not guess one. */
function isTextual(type: string): boolean {
  return type.startsWith("text/") || /[/+](json|xml|yaml)$/.test(type);
}

/** Media type for a file name or path, judged by its last extension (case-insensitive). */
/** `overrides`: a context's mime mappings (web.xml <mime-mapping>), extension in lower case → type. */
export function contentTypeFor(path: string, overrides?: ReadonlyMap<string, string>): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  // A leading dot marks a hidden file (".env"), not an extension.
  if (dot <= 0) return FALLBACK;
  // A Map, not an object lookup, so "x.constructor" cannot hit Object.prototype.
  const ext = name.slice(dot + 1).toLowerCase();
  const type = overrides?.get(ext) ?? TYPES.get(ext);
  if (type === undefined) return FALLBACK;
  return isTextual(type) ? `${type}; charset=utf-8` : type;
}

/** Error pages in the spirit of Tomcat's ErrorReportValve (no server version, no stack trace). */
const REASONS: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  421: "Misdirected Request",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "Error";
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Responses errorPage() made (bobcat's own, not a handler's), with their message: what an
 * ErrorReportValve may render again and a context's error pages (web.xml) may replace.
 */
const REPORTS = new WeakMap<Response, string>();

export function isGeneratedError(res: Response): boolean {
  return REPORTS.has(res);
}

export interface ErrorReportSettings {
  showReport: boolean;
  showServerInfo: boolean;
  /** Status ("404", "0" for any) → page content (ErrorReportValve errorCode.NNN). */
  pages: Map<string, string>;
}

function page(status: number, message: string, report: boolean, serverInfo: boolean): string {
  const title = `HTTP Status ${status} – ${reasonPhrase(status)}`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}h1{font-size:1.4rem;border-bottom:1px solid #ccc;padding-bottom:.3rem}</style>
</head><body><h1>${title}</h1>${report ? `<p><b>Message</b> ${escapeHtml(message)}</p>` : ""}${
    serverInfo ? "<hr><p>bobcat</p>" : ""
  }</body></html>\n`;
}

/**
 * A body bobcat writes itself, as bytes with their Content-Length: the access log's %b and %B
 * count a response's bytes by that header, as Tomcat logs the bytes of the page it sent.
 */
export function sizedBody(text: string, headers: Headers): Uint8Array<ArrayBuffer> {
  const bytes = ENCODER.encode(text);
  headers.set("content-length", String(bytes.byteLength));
  return bytes;
}
const ENCODER = new TextEncoder();

export function errorPage(status: number, message: string, headers: Record<string, string> = {}): Response {
  const head = new Headers({ "content-type": "text/html; charset=utf-8", ...headers });
  const res = new Response(sizedBody(page(status, message, true, true), head), { status, headers: head });
  REPORTS.set(res, message);
  return res;
}

/** The response as an ErrorReportValve renders it, when errorPage() made it; otherwise unchanged. */
export function applyErrorReport(res: Response, settings: ErrorReportSettings): Response {
  const message = REPORTS.get(res);
  if (message === undefined) return res;
  const custom = settings.pages.get(String(res.status)) ?? settings.pages.get("0");
  const body = custom ?? page(res.status, message, settings.showReport, settings.showServerInfo);
  const headers = new Headers(res.headers);
  headers.set("content-type", "text/html; charset=utf-8");
  void res.body?.cancel();
  return new Response(sizedBody(body, headers), { status: res.status, headers });
}

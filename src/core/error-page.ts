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

/** Responses bobcat made itself (not a handler's): a context's error pages (web.xml) may replace their body. */
const GENERATED = new WeakSet<Response>();

export function isGeneratedError(res: Response): boolean {
  return GENERATED.has(res);
}

export function errorPage(status: number, message: string, headers: Record<string, string> = {}): Response {
  const title = `HTTP Status ${status} – ${reasonPhrase(status)}`;
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}h1{font-size:1.4rem;border-bottom:1px solid #ccc;padding-bottom:.3rem}</style>
</head><body><h1>${title}</h1><p><b>Message</b> ${escapeHtml(message)}</p><hr><p>bobcat</p></body></html>\n`;
  const res = new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8", ...headers } });
  GENERATED.add(res);
  return res;
}

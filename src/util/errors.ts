/**
 * Errors that reach a user. Every one says where (file, line, attribute) and how to fix it,
 * so the CLI can print it without a stack trace.
 */
export interface Where {
  file?: string;
  line?: number;
  column?: number;
  /** Dotted config path, e.g. `server.services[0].connectors[1].port`. */
  path?: string;
  /** Attribute name as written in the config, e.g. `certificateKeystoreFile`. */
  attribute?: string;
}

export class BobcatError extends Error {
  readonly where: Where;
  readonly fix?: string;
  /** Stable machine-readable code, e.g. `keystore.notFound`. */
  readonly code: string;
  constructor(code: string, message: string, opts: { where?: Where; fix?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "BobcatError";
    this.code = code;
    this.where = opts.where ?? {};
    this.fix = opts.fix;
  }

  /** One readable block: `file:line:col: attribute: message\n  fix: ...`. */
  format(): string {
    return formatProblem(this.message, this.where, this.fix);
  }
}

/** Several problems found together (config validation reports all of them at once). */
export class BobcatErrors extends Error {
  readonly errors: BobcatError[];
  constructor(errors: BobcatError[], title = `${errors.length} problem(s) found`) {
    super(title + "\n" + errors.map((e) => e.format()).join("\n"));
    this.name = "BobcatErrors";
    this.errors = errors;
  }
}

export function formatWhere(w: Where): string {
  let loc = w.file ?? "";
  if (w.line !== undefined) loc += `:${w.line}` + (w.column !== undefined ? `:${w.column}` : "");
  const parts = [loc, w.path ?? w.attribute].filter((p) => p);
  return parts.join(": ");
}

export function formatProblem(message: string, where: Where, fix?: string): string {
  const loc = formatWhere(where);
  return (loc ? `${loc}: ` : "") + message + (fix ? `\n    fix: ${fix}` : "");
}

/**
 * A command line that cannot be run as written (unknown option, missing value): the command
 * prints the message and how to get its usage, and exits with status 2 (keytool keeps keytool's
 * own status 1). `command` is the sub-command whose usage applies, where there is one.
 */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

/**
 * keytool's command line: one command, then options in any order. Password options also take
 * keytool's `:env NAME` and `:file PATH` forms (`-storepass:env STOREPASS`).
 */
import { readFileSync } from "node:fs";
import process from "node:process";

import { UsageError } from "../../util/errors.ts";

export { UsageError };

/** keytool's error text for a failed operation: printed as "keytool error: <message>". */
export class KeytoolError extends Error {
  override name = "KeytoolError";
  constructor(message: string, readonly fix?: string) {
    super(message);
  }
}

export const COMMAND_ALIASES: Record<string, string> = {
  genkey: "genkeypair",
  import: "importcert",
  export: "exportcert",
};

export const PASSWORD_OPTIONS = [
  "storepass",
  "keypass",
  "new",
  "srcstorepass",
  "deststorepass",
  "srckeypass",
  "destkeypass",
] as const;
export type PasswordOption = (typeof PASSWORD_OPTIONS)[number];

type OptionKinds = Record<string, "flag" | "value" | "multi">;

/** How every command that opens a keystore is told which one (keytool lists them in this order). */
const KEYSTORE_OPTIONS: OptionKinds = {
  keystore: "value",
  storepass: "value",
  storetype: "value",
  providername: "value",
  v: "flag",
};

/** What the certificate that genkeypair and gencert sign carries. */
const ISSUED_CERT_OPTIONS: OptionKinds = {
  sigalg: "value",
  dname: "value",
  startdate: "value",
  ext: "multi",
  validity: "value",
};

/** Options each command accepts: name → "flag" | "value" | "multi". */
export const COMMANDS: Record<string, { about: string; options: OptionKinds }> = {
  genkeypair: {
    about: "Generates a key pair",
    options: {
      alias: "value",
      keyalg: "value",
      keysize: "value",
      groupname: "value",
      ...ISSUED_CERT_OPTIONS,
      keypass: "value",
      ...KEYSTORE_OPTIONS,
    },
  },
  certreq: {
    about: "Generates a certificate request",
    options: {
      alias: "value",
      sigalg: "value",
      file: "value",
      keypass: "value",
      keystore: "value",
      dname: "value",
      ext: "multi",
      storepass: "value",
      storetype: "value",
      keyalg: "value",
      providername: "value",
      v: "flag",
    },
  },
  importcert: {
    about: "Imports a certificate or a certificate chain",
    options: {
      noprompt: "flag",
      trustcacerts: "flag",
      alias: "value",
      file: "value",
      keypass: "value",
      ...KEYSTORE_OPTIONS,
    },
  },
  list: {
    about: "Lists entries in a keystore",
    options: {
      rfc: "flag",
      alias: "value",
      ...KEYSTORE_OPTIONS,
    },
  },
  exportcert: {
    about: "Exports certificate",
    options: {
      rfc: "flag",
      alias: "value",
      file: "value",
      ...KEYSTORE_OPTIONS,
    },
  },
  delete: {
    about: "Deletes an entry",
    options: {
      alias: "value",
      ...KEYSTORE_OPTIONS,
    },
  },
  changealias: {
    about: "Changes an entry's alias",
    options: {
      alias: "value",
      destalias: "value",
      keypass: "value",
      ...KEYSTORE_OPTIONS,
    },
  },
  storepasswd: {
    about: "Changes the store password of a keystore",
    options: {
      new: "value",
      ...KEYSTORE_OPTIONS,
    },
  },
  keypasswd: {
    about: "Changes the key password of an entry",
    options: {
      alias: "value",
      keypass: "value",
      new: "value",
      ...KEYSTORE_OPTIONS,
    },
  },
  importkeystore: {
    about: "Imports one or all entries from another keystore",
    options: {
      srckeystore: "value",
      destkeystore: "value",
      srcstoretype: "value",
      deststoretype: "value",
      srcstorepass: "value",
      deststorepass: "value",
      srcalias: "value",
      destalias: "value",
      srckeypass: "value",
      destkeypass: "value",
      noprompt: "flag",
      srcprovidername: "value",
      destprovidername: "value",
      v: "flag",
    },
  },
  gencert: {
    about: "Generates certificate from a certificate request",
    options: {
      rfc: "flag",
      infile: "value",
      outfile: "value",
      alias: "value",
      ...ISSUED_CERT_OPTIONS,
      keypass: "value",
      ...KEYSTORE_OPTIONS,
    },
  },
  printcert: {
    about: "Prints the content of a certificate",
    options: { rfc: "flag", file: "value", v: "flag" },
  },
};

// Scripts pass -noprompt to every keytool command; accept it everywhere as keytool users expect.
for (const c of Object.values(COMMANDS)) c.options.noprompt ??= "flag";

export interface ParsedArgs {
  command: string;
  values: Record<string, string>;
  multi: Record<string, string[]>;
  flags: Set<string>;
  /** How each password option was given. */
  passwordForms: Partial<Record<PasswordOption, "plain" | "env" | "file">>;
  help: boolean;
}

export function parseArgs(argv: string[]): ParsedArgs | { help: true; command?: string } {
  if (argv.length === 0 || argv[0] === "-help" || argv[0] === "--help" || argv[0] === "-h") return { help: true };
  const name = argv[0].replace(/^--?/, "");
  const command = COMMAND_ALIASES[name] ?? name;
  if (!argv[0].startsWith("-") || !COMMANDS[command]) throw new UsageError(`Illegal option:  ${argv[0]}`);
  const spec = COMMANDS[command].options;
  const out: ParsedArgs = { command, values: {}, multi: {}, flags: new Set(), passwordForms: {}, help: false };
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-help" || arg === "--help") return { help: true, command };
    // The one JVM option keytool users pass: write PKCS12 that Java before 8u301 can read.
    if (/^-J-Dkeystore\.pkcs12\.legacy(=(true)?)?$/.test(arg)) {
      out.flags.add("legacy");
      continue;
    }
    const m = /^-([a-z]+)(?::(env|file))?$/.exec(arg);
    if (!m || !spec[m[1]]) throw new UsageError(`Illegal option:  ${arg}`, command);
    const [, opt, form] = m;
    if (form && !(PASSWORD_OPTIONS as readonly string[]).includes(opt)) {
      throw new UsageError(`Illegal option:  ${arg}`, command);
    }
    if (spec[opt] === "flag") {
      out.flags.add(opt);
      continue;
    }
    if (i + 1 >= argv.length) throw new UsageError(`Command option ${arg} needs an argument.`, command);
    const value = argv[++i];
    if (spec[opt] === "multi") (out.multi[opt] ??= []).push(value);
    else {
      if (opt in out.values) throw new UsageError(`Only one ${arg} is allowed`, command);
      out.values[opt] = value;
      if ((PASSWORD_OPTIONS as readonly string[]).includes(opt)) {
        out.passwordForms[opt as PasswordOption] = (form as "env" | "file") ?? "plain";
      }
    }
  }
  return out;
}

/** A password option's value, resolving `:env` and `:file`; undefined when not given. */
export function passwordOption(args: ParsedArgs, opt: PasswordOption): string | undefined {
  const v = args.values[opt];
  if (v === undefined) return undefined;
  switch (args.passwordForms[opt]) {
    case "env": {
      const e = process.env[v];
      if (e === undefined) throw new KeytoolError(`Cannot find environment variable: ${v}`);
      return e;
    }
    case "file":
      try {
        return readFileSync(v, "utf8").replace(/^\uFEFF/, "").split(/\r?\n/)[0];
      } catch {
        throw new KeytoolError(`File not found: ${v}`);
      }
    default:
      return v;
  }
}

/** -help: the command list, and the options of one command. */
import { COMMANDS } from "./args.ts";

const OPTION_HELP: Record<string, string> = {
  alias: "alias name of the entry to process",
  keyalg: "key algorithm name (RSA or EC)",
  keysize: "key bit size",
  groupname: "Group name. For example, an Elliptic Curve name.",
  sigalg: "signature algorithm name",
  dname: "distinguished name",
  startdate: "certificate validity start date/time",
  ext: "X.509 extension (SAN, BC, KU, EKU, AIA)",
  validity: "validity number of days",
  keypass: "key password",
  keystore: "keystore name",
  storepass: "keystore password",
  storetype: "keystore type (PKCS12, JKS, PEM)",
  providername: "provider name (ignored)",
  v: "verbose output",
  file: "input or output file name",
  noprompt: "do not prompt",
  trustcacerts: "trust certificates from the system CA bundle",
  rfc: "output in RFC style (PEM)",
  destalias: "destination alias",
  new: "new password",
  srckeystore: "source keystore name",
  destkeystore: "destination keystore name",
  srcstoretype: "source keystore type",
  deststoretype: "destination keystore type",
  srcstorepass: "source keystore password",
  deststorepass: "destination keystore password",
  srcalias: "source alias",
  srckeypass: "source key password",
  destkeypass: "destination key password",
  srcprovidername: "source keystore provider name (ignored)",
  destprovidername: "destination keystore provider name (ignored)",
  infile: "input file name",
  outfile: "output file name",
};

export function helpText(command?: string): string {
  if (command && COMMANDS[command]) {
    const c = COMMANDS[command];
    const lines = Object.entries(c.options).map(([o, kind]) => {
      const flag = `-${o}${kind === "flag" ? "" : ` <${o}>`}`;
      return ` ${flag.padEnd(28)}${OPTION_HELP[o] ?? ""}${kind === "multi" ? " (may repeat)" : ""}`;
    });
    return `bobcat keytool -${command} [OPTION]...\n\n${c.about}\n\nOptions:\n\n${lines.join("\n")}\n\n` +
      "Password options also accept :env <VARIABLE> and :file <path>, e.g. -storepass:env STOREPASS.\n" +
      "-J-Dkeystore.pkcs12.legacy writes PKCS12 with the legacy algorithms (RC2/3DES, SHA-1 MAC) for Java before 8u301.\n";
  }
  const cmds = Object.entries(COMMANDS).map(([n, c]) => ` -${n.padEnd(20)}${c.about}`);
  return `Key and Certificate Management Tool\n\nCommands:\n\n${cmds.join("\n")}\n\n` +
    `Use "bobcat keytool -?, -h, or --help" for this help message\nUse "bobcat keytool -command_name --help" for usage of command_name.\n`;
}

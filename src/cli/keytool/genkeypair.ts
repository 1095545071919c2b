/** -genkeypair: a new key entry holding a key pair and a self-signed certificate. */
import type { Name } from "@peculiar/x509";
import { findEntry } from "../../tls/keystore/index.ts";
import { generateKeyPair, type KeyAlgorithm } from "../../tls/keystore/keys.ts";
import { KeytoolError, passwordOption } from "./args.ts";
import type { Ctx } from "./context.ts";
import { javaName, parseDname } from "../../tls/certgen/dname.ts";
import { parseExtensions } from "../../tls/certgen/ext.ts";
import {
  chooseHash,
  issueCertificate,
  parseStartDate,
  parseValidity,
  sigAlgLabel,
  subjectKeyIdentifier,
} from "../../tls/certgen/sign.ts";
import { askPassword, openStore, saveStore } from "./store.ts";

const GROUPS: Record<string, "P-256" | "P-384" | "P-521"> = {
  secp256r1: "P-256",
  prime256v1: "P-256",
  "p-256": "P-256",
  nistp256: "P-256",
  secp384r1: "P-384",
  "p-384": "P-384",
  nistp384: "P-384",
  secp521r1: "P-521",
  "p-521": "P-521",
  nistp521: "P-521",
};
const CURVE_LABEL = { "P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1" };
const EC_SIZES: Record<string, "P-256" | "P-384" | "P-521"> = { "256": "P-256", "384": "P-384", "521": "P-521" };

/** keytool's interactive questions when -dname is missing. */
async function askDname(ctx: Ctx): Promise<Name> {
  const questions: [string, string][] = [
    ["CN", "What is your first and last name?"],
    ["OU", "What is the name of your organizational unit?"],
    ["O", "What is the name of your organization?"],
    ["L", "What is the name of your City or Locality?"],
    ["ST", "What is the name of your State or Province?"],
    ["C", "What is the two-letter country code for this unit?"],
  ];
  for (let round = 0; round < 3; round++) {
    const parts: string[] = [];
    for (const [key, q] of questions) {
      const a = await ctx.prompter.ask(`${q}\n  [Unknown]:  `);
      if (a === null) {
        throw new KeytoolError("No distinguished name given", 'pass -dname "CN=www.example.com, O=Example, C=US"');
      }
      parts.push(`${key}=${(a.trim() || "Unknown").replace(/([,+="\\<>;])/g, "\\$1")}`);
    }
    const dname = parts.join(", ");
    const ok = await ctx.prompter.ask(`Is ${dname} correct?\n  [no]:  `);
    if (ok !== null && /^(y|yes)$/i.test(ok.trim())) return parseDname(dname);
  }
  throw new KeytoolError("Too many retries, program terminated");
}

export async function genkeypair(ctx: Ctx): Promise<number> {
  const { values, multi } = ctx.args;
  const alg = values.keyalg?.toUpperCase();
  if (!alg) throw new KeytoolError("The -keyalg option must be specified.", "add -keyalg RSA (or -keyalg EC)");
  if (alg !== "RSA" && alg !== "EC") {
    throw new KeytoolError(`Cannot generate ${values.keyalg} key pair (supported -keyalg: RSA, EC)`);
  }
  const type = alg as KeyAlgorithm;

  let size: number | "P-256" | "P-384" | "P-521";
  let label: string;
  if (type === "RSA") {
    if (values.groupname) throw new KeytoolError("-groupname is only for EC keys");
    size = values.keysize === undefined ? 2048 : Number(values.keysize);
    if (!Number.isInteger(size) || size < 1024 || size > 16384) {
      throw new KeytoolError(`Illegal RSA key size: ${values.keysize} (1024..16384)`);
    }
    label = `${size.toLocaleString("en-US")} bit RSA`;
  } else {
    if (values.groupname && values.keysize) throw new KeytoolError("Only one of -groupname and -keysize may be given");
    const curve = values.groupname
      ? GROUPS[values.groupname.toLowerCase()]
      : values.keysize
      ? EC_SIZES[values.keysize]
      : "P-384";
    if (!curve) {
      throw new KeytoolError(
        `Unsupported EC ${values.groupname ? "group" : "key size"}: ${
          values.groupname ?? values.keysize
        } (use secp256r1, secp384r1 or secp521r1)`,
      );
    }
    size = curve;
    label = `${curve.slice(2)} bit EC (${CURVE_LABEL[curve]})`;
  }
  const days = parseValidity(values.validity);
  const notBefore = parseStartDate(values.startdate);
  const extensions = parseExtensions(multi.ext ?? []);

  const h = await openStore(ctx, { create: true });
  const alias = values.alias ?? "mykey";
  if (findEntry(h.store, alias)) throw new KeytoolError(`Key pair not generated, alias <${alias}> already exists`);
  const subject = values.dname !== undefined ? parseDname(values.dname) : await askDname(ctx);

  let keyPass = passwordOption(ctx.args, "keypass");
  if (h.type !== "JKS") {
    if (keyPass !== undefined && keyPass !== h.password) {
      ctx.info(
        `Warning:  Different store and key passwords not supported for ${h.type} KeyStores. Ignoring user-specified -keypass value.`,
      );
    }
    keyPass = undefined;
  } else if (keyPass === undefined && ctx.io.isTTY) {
    keyPass = (await askPassword(ctx, `Enter key password for <${alias}>\n\t(RETURN if same as keystore password):  `, {
      allowEmpty: true,
    })) || undefined;
  }

  const { pkcs8, info } = await generateKeyPair(type, size);
  const hash = chooseHash(info, values.sigalg);
  ctx.info(
    `Generating ${label} key pair and self-signed certificate (${
      sigAlgLabel(info, hash)
    }) with a validity of ${days} days\n\tfor: ${javaName(subject)}`,
  );
  const cert = await issueCertificate({
    subject,
    issuer: subject,
    spki: info.spki,
    signerPkcs8: pkcs8,
    signerInfo: info,
    hash,
    notBefore,
    days,
    extensions: [...extensions, await subjectKeyIdentifier(info.spki)],
  });
  h.store.entries.push({ kind: "privateKey", alias, date: new Date(), key: { pkcs8 }, chain: [cert] });
  if (keyPass !== undefined) h.keyPasswords.set(alias.toLowerCase(), keyPass);
  await saveStore(ctx, h);
  return 0;
}

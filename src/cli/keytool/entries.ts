/** -delete, -changealias, -keypasswd and -storepasswd: editing entries and passwords in place. */
import { findEntry } from "../../tls/keystore/index.ts";
import { KeytoolError, passwordOption } from "./args.ts";
import type { Ctx } from "./context.ts";
import { askPassword, MIN_PASSWORD, openStore, saveStore, unlockEntry } from "./store.ts";

async function newPassword(ctx: Ctx, question: string, confirm: string): Promise<string> {
  const pw = passwordOption(ctx.args, "new") ?? (await askPassword(ctx, question, { confirm }));
  if (pw === null) {
    throw new KeytoolError("No new password given", "pass -new <password>, -new:env <VARIABLE> or -new:file <path>");
  }
  if (pw.length < MIN_PASSWORD) throw new KeytoolError(`New password must be at least ${MIN_PASSWORD} characters`);
  return pw;
}

export async function deleteEntry(ctx: Ctx): Promise<number> {
  const h = await openStore(ctx);
  const alias = ctx.args.values.alias ?? (await ctx.prompter.ask("Enter alias name:  "));
  const e = alias ? findEntry(h.store, alias) : undefined;
  if (!e) throw new KeytoolError(`Alias <${alias ?? ""}> does not exist`);
  h.store.entries = h.store.entries.filter((x) => x !== e);
  await saveStore(ctx, h);
  return 0;
}

export async function changealias(ctx: Ctx): Promise<number> {
  const h = await openStore(ctx);
  const alias = ctx.args.values.alias ?? "mykey";
  const e = findEntry(h.store, alias);
  if (!e) throw new KeytoolError(`Alias <${alias}> does not exist`);
  const dest = ctx.args.values.destalias ?? (await ctx.prompter.ask("Enter destination alias name:  "));
  if (!dest) throw new KeytoolError("Must specify destination alias");
  const clash = findEntry(h.store, dest);
  if (clash && clash !== e) throw new KeytoolError(`Target alias <${dest}> already exists`);
  if (e.kind === "privateKey") {
    // keytool recovers the key to re-store it under the new name, so a wrong key password fails here too.
    const pkcs8 = await unlockEntry(ctx, h, e);
    const pw = h.keyPasswords.get(e.alias.toLowerCase()) ?? passwordOption(ctx.args, "keypass");
    e.key = { pkcs8 };
    if (pw !== undefined) h.keyPasswords.set(dest.toLowerCase(), pw);
  }
  e.alias = dest;
  await saveStore(ctx, h);
  return 0;
}

export async function keypasswd(ctx: Ctx): Promise<number> {
  const h = await openStore(ctx);
  if (h.type !== "JKS") {
    throw new KeytoolError(
      `-keypasswd commands not supported if -storetype is ${h.type}`,
      "a PKCS12 key uses the store password: change it with -storepasswd",
    );
  }
  const alias = ctx.args.values.alias ?? "mykey";
  const e = findEntry(h.store, alias);
  if (!e || e.kind !== "privateKey") throw new KeytoolError(`Alias <${alias}> ${e ? "has no key" : "does not exist"}`);
  const pkcs8 = await unlockEntry(ctx, h, e);
  const pw = await newPassword(ctx, `New key password for <${alias}>: `, `Re-enter new key password for <${alias}>: `);
  e.key = { pkcs8 };
  h.keyPasswords.set(alias.toLowerCase(), pw);
  await saveStore(ctx, h);
  return 0;
}

export async function storepasswd(ctx: Ctx): Promise<number> {
  const h = await openStore(ctx);
  const pw = await newPassword(ctx, "New keystore password: ", "Re-enter new keystore password: ");
  if (h.type !== "JKS") {
    // PKCS12 and PEM keys are protected with the store password, so they move to the new one;
    // JKS keys keep their own (encrypted entries are copied as they are).
    for (const e of h.store.entries) if (e.kind === "privateKey") e.key = { pkcs8: await unlockEntry(ctx, h, e) };
  }
  h.password = pw;
  await saveStore(ctx, h);
  return 0;
}

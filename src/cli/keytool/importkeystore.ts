/**
 * -importkeystore: copies one or all entries between stores of any supported type (JKS, PKCS12,
 * PEM). With the same file as source and destination it migrates in place and keeps the old
 * file as <name>.old, as keytool suggests for JKS → PKCS12.
 */
import { copyFile } from "node:fs/promises";
import { findEntry, type KeystoreEntry, parseStoreType } from "../../tls/keystore/index.ts";
import { KeytoolError, passwordOption } from "./args.ts";
import type { Ctx } from "./context.ts";
import { askPassword, openStore, saveStore, type StoreHandle, storePath, unlockEntry, wrap } from "./store.ts";

export async function importkeystore(ctx: Ctx): Promise<number> {
  const { values, flags } = ctx.args;
  if (values.srckeystore === undefined) throw new KeytoolError("Please specify -srckeystore");
  if (values.srcalias === undefined && values.destalias !== undefined) {
    throw new KeytoolError("-destalias needs -srcalias");
  }
  const src = await openStore(ctx, {
    pathOpt: "srckeystore",
    typeOpt: "srcstoretype",
    passOpt: "srcstorepass",
    label: "source keystore",
  });
  const inPlace = storePath(ctx, "srckeystore") === storePath(ctx, "destkeystore");
  let dest: StoreHandle;
  if (inPlace) {
    const type = values.deststoretype === undefined ? "PKCS12" : wrap(() => parseStoreType(values.deststoretype));
    let password = passwordOption(ctx.args, "deststorepass") ?? src.password;
    if (password === null) {
      password = await askPassword(ctx, "Enter destination keystore password:  ", {
        confirm: "Re-enter new password: ",
      });
    }
    if (password === null) throw new KeytoolError("No password given for -deststorepass");
    dest = {
      path: src.path,
      exists: true,
      type,
      password,
      store: { type, entries: [], verified: true },
      keyPasswords: new Map(),
    };
  } else {
    dest = await openStore(ctx, {
      pathOpt: "destkeystore",
      typeOpt: "deststoretype",
      passOpt: "deststorepass",
      create: true,
      label: "destination keystore",
    });
  }

  let chosen: KeystoreEntry[] = src.store.entries;
  if (values.srcalias !== undefined) {
    const e = findEntry(src.store, values.srcalias);
    if (!e) throw new KeytoolError(`Alias <${values.srcalias}> does not exist`);
    chosen = [e];
  }
  let ok = 0;
  let skipped = 0;
  for (const e of chosen) {
    const alias = values.destalias ?? e.alias;
    const clash = findEntry(dest.store, alias);
    if (clash) {
      const a = flags.has("noprompt")
        ? "yes"
        : await ctx.prompter.ask(`Existing entry alias <${alias}> exists, overwrite? [no]:  `);
      if (a === null || !/^(y|yes)$/i.test(a.trim())) {
        ctx.info(`Entry for alias ${alias} not imported.`);
        skipped++;
        continue;
      }
      dest.store.entries = dest.store.entries.filter((x) => x !== clash);
    }
    if (e.kind === "privateKey") {
      const pkcs8 = await unlockEntry(ctx, src, e, "srckeypass");
      const srcKeyPass = passwordOption(ctx.args, "srckeypass") ?? src.keyPasswords.get(e.alias.toLowerCase()) ??
        src.password!;
      dest.store.entries.push({ ...e, alias, key: { pkcs8 } });
      if (dest.type === "JKS") {
        dest.keyPasswords.set(alias.toLowerCase(), passwordOption(ctx.args, "destkeypass") ?? srcKeyPass);
      }
    } else {
      dest.store.entries.push({ ...e, alias });
    }
    ctx.info(`Entry for alias ${alias} successfully imported.`);
    ok++;
  }
  if (inPlace) await copyFile(src.path, `${src.path}.old`);
  await saveStore(ctx, dest);
  ctx.info(`Import command completed:  ${ok} entries successfully imported, ${skipped} entries failed or cancelled`);
  if (inPlace) {
    ctx.info(`\nMigrated "${src.path}" to ${dest.type}. The ${src.type} keystore is backed up as "${src.path}.old".`);
  }
  return skipped ? 1 : 0;
}

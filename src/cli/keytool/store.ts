/**
 * Opening and saving the keystore a keytool command works on, with keytool's password prompts
 * and defaults (~/.keystore, PKCS12). Saves are atomic: a temporary file renamed over the old one.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { BobcatError } from "../../util/errors.ts";
import { WrongPasswordError } from "../../tls/keystore/epki.ts";
import {
  detectStoreType,
  type Keystore,
  parseStoreType,
  type PrivateKeyEntry,
  readKeystore,
  type StoreType,
  unlockKey,
  writeKeystore,
} from "../../tls/keystore/index.ts";
import { KeytoolError, type PasswordOption, passwordOption } from "./args.ts";
import type { Ctx } from "./context.ts";
import { writeFileAtomic } from "../../util/atomic-file.ts";

export interface StoreHandle {
  path: string;
  exists: boolean;
  type: StoreType;
  password: string | null;
  store: Keystore;
  /** Passwords for keys added or re-protected in this run (JKS keeps one per key). */
  keyPasswords: Map<string, string>;
}

export interface StoreOptions {
  pathOpt?: string;
  typeOpt?: string;
  passOpt?: PasswordOption;
  /** Create an empty store when the file does not exist. */
  create?: boolean;
  /** JKS can be listed without its password (integrity not checked). */
  passwordOptional?: boolean;
  label?: string;
}

export const MIN_PASSWORD = 6;

export function storePath(ctx: Ctx, opt = "keystore"): string {
  const p = ctx.args.values[opt];
  return p === undefined ? join(homedir(), ".keystore") : resolve(p);
}

/** Prompts for a password; `confirm` asks twice and enforces keytool's 6-character minimum. */
export async function askPassword(
  ctx: Ctx,
  question: string,
  opts: { confirm?: string; allowEmpty?: boolean } = {},
): Promise<string | null> {
  for (let tries = 0; tries < 3; tries++) {
    const pw = await ctx.prompter.ask(question, true);
    if (pw === null) return null;
    if (pw === "" && opts.allowEmpty) return pw;
    if (opts.confirm) {
      if (pw.length < MIN_PASSWORD) {
        ctx.info(`Password is too short - must be at least ${MIN_PASSWORD} characters`);
        continue;
      }
      const again = await ctx.prompter.ask(opts.confirm, true);
      if (again !== pw) {
        ctx.info("They don't match. Try again");
        continue;
      }
    }
    return pw;
  }
  throw new KeytoolError("Too many failures - try later");
}

const noPassword = (opt: string) =>
  new KeytoolError(
    `No password given for -${opt}`,
    `pass -${opt} <password>, -${opt}:env <VARIABLE> or -${opt}:file <path>, or run in a terminal to be prompted`,
  );

export async function openStore(ctx: Ctx, o: StoreOptions = {}): Promise<StoreHandle> {
  const pathOpt = o.pathOpt ?? "keystore";
  const passOpt = o.passOpt ?? "storepass";
  const path = storePath(ctx, pathOpt);
  const typeName = ctx.args.values[o.typeOpt ?? "storetype"];
  const declared = typeName === undefined ? undefined : wrap(() => parseStoreType(typeName));
  let password = passwordOption(ctx.args, passOpt) ?? null;
  const exists = existsSync(path);
  if (!exists) {
    if (!o.create) throw new KeytoolError(`Keystore file does not exist: ${path}`);
    if (password === null) {
      password = await askPassword(ctx, "Enter keystore password:  ", { confirm: "Re-enter new password: " });
    }
    if (password === null) throw noPassword(passOpt);
    if (password.length < MIN_PASSWORD && (declared ?? "PKCS12") !== "PEM") {
      throw new KeytoolError(`Keystore password must be at least ${MIN_PASSWORD} characters`);
    }
    const type = declared ?? "PKCS12";
    return { path, exists, type, password, store: { type, entries: [], verified: true }, keyPasswords: new Map() };
  }
  const bytes = new Uint8Array(await readFile(path));
  // Only a JKS can be opened without its password (listed without checking its integrity).
  const optional = o.passwordOptional && detectStoreType(bytes) === "JKS";
  if (password === null) {
    password = await askPassword(ctx, `Enter ${o.label ?? "keystore"} password:  `, { allowEmpty: optional });
    if (password === null && !optional) throw noPassword(passOpt);
  }
  const store = await readKeystore(bytes, !password && optional ? null : password, declared);
  return { path, exists, type: store.type, password, store, keyPasswords: new Map() };
}

export async function saveStore(ctx: Ctx, h: StoreHandle): Promise<void> {
  if (h.password === null) throw noPassword("storepass");
  const bytes = writeKeystore(h.store, h.type, h.password, {
    keyPassword: (alias) => h.keyPasswords.get(alias.toLowerCase()) ?? h.password!,
    pkcs12: { legacy: ctx.args.flags.has("legacy") },
  });
  try {
    await writeFileAtomic(h.path, bytes, { mode: 0o600, unique: true });
  } catch (e) {
    throw new KeytoolError(`Cannot write keystore ${h.path}: ${(e as Error).message}`);
  }
  if (h.type === "JKS") jksWarning(ctx, h.path);
}

export function jksWarning(ctx: Ctx, path: string): void {
  ctx.info("\nWarning:");
  ctx.info(
    `The JKS keystore uses a proprietary format. It is recommended to migrate to PKCS12 which is an industry standard format using "bobcat keytool -importkeystore -srckeystore ${path} -destkeystore ${path} -deststoretype pkcs12".`,
  );
}

/** The key password for an existing entry: -keypass, else the store password, else a prompt. */
export async function unlockEntry(
  ctx: Ctx,
  h: StoreHandle,
  e: PrivateKeyEntry,
  passOpt: PasswordOption = "keypass",
): Promise<Uint8Array> {
  const given = passwordOption(ctx.args, passOpt);
  const first = given ?? h.keyPasswords.get(e.alias.toLowerCase()) ?? h.password ?? "";
  try {
    return unlockKey(e, first);
  } catch (err) {
    if (!(err instanceof WrongPasswordError) || given !== undefined || !ctx.io.isTTY) {
      throw err instanceof WrongPasswordError
        ? new KeytoolError("Cannot recover key", `give the key password with -${passOpt}`)
        : err;
    }
  }
  const pw = await askPassword(ctx, `Enter key password for <${e.alias}>`);
  try {
    const key = unlockKey(e, pw ?? "");
    h.keyPasswords.set(e.alias.toLowerCase(), pw ?? "");
    return key;
  } catch {
    throw new KeytoolError("Cannot recover key");
  }
}

/** Runs a parser-level step and turns its BobcatError into keytool's error text. */
export function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BobcatError) throw new KeytoolError(e.message, e.fix);
    throw e;
  }
}

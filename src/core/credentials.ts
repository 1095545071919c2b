/**
 * Tomcat's CredentialHandlers: how a realm compares the password a user typed with the one it
 * stores. The stored forms are Tomcat's, so a tomcat-users.xml (or a users table) whose passwords
 * `digest.sh` hashed works unchanged:
 *  - MessageDigestCredentialHandler: without `algorithm`, plain text; with one, a hex digest, or
 *    `salt$iterations$digest` (hex salt, hex digest: digest(salt ‖ password), then digest of the
 *    result iterations-1 more times), or `{SHA}`/`{MD5}` Base64 and `{SSHA}` (LDAP) forms;
 *  - SecretKeyCredentialHandler: PBKDF2, `salt$iterations$key` (hex), the key length taken from
 *    the stored key;
 *  - NestedCredentialHandler: any of its handlers matches.
 */
import { nodeCrypto } from "../util/node-crypto.ts";
import type { CredentialHandlerConfig } from "../config/model.ts";

export interface CredentialHandler {
  matches(input: string, stored: string | undefined): boolean;
  /** The stored form of `input`, as digest.sh prints it (with a fresh random salt). */
  mutate(input: string): string;
  /** The MessageDigest algorithm when stored passwords are plain digests (for DIGEST logins). */
  readonly digestAlgorithm?: string;
  /** Stored passwords are the passwords themselves (DIGEST can compute from them). */
  readonly plain: boolean;
}

/** The validated `<CredentialHandler>` element (its type comes from the config schema). */
export type { CredentialHandlerConfig };

/** Java's MessageDigest names → node:crypto's, or null when the runtime lacks it. */
export function nodeDigestName(javaName: string): string | null {
  const n = javaName.trim().toUpperCase();
  const map: Record<string, string> = {
    MD5: "md5",
    MD2: "md2",
    SHA: "sha1",
    "SHA-1": "sha1",
    SHA1: "sha1",
    "SHA-224": "sha224",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
    "SHA-512/224": "sha512-224",
    "SHA-512/256": "sha512-256",
    "SHA3-224": "sha3-224",
    "SHA3-256": "sha3-256",
    "SHA3-384": "sha3-384",
    "SHA3-512": "sha3-512",
  };
  const name = map[n];
  if (!name) return null;
  try {
    const hashes = nodeCrypto().getHashes();
    if (hashes.length > 0 && !hashes.includes(name)) return null;
  } catch { /* a runtime without getHashes: try it when used */ }
  return name;
}

/** `PBKDF2WithHmacSHA512` → `sha512`, or null. */
export function pbkdf2Digest(javaName: string): string | null {
  const m = /^PBKDF2WithHmac(SHA1|SHA224|SHA256|SHA384|SHA512)$/i.exec(javaName.trim());
  return m ? m[1]!.toLowerCase() : null;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const fromHex = (s: string): Uint8Array | null => (/^([0-9a-fA-F]{2})*$/.test(s) ? Buffer.from(s, "hex") : null);
const randomSalt = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/** Compares without stopping at the first difference (Tomcat's DigestCredentialHandlerBase.equals). */
export function constantTimeEquals(a: string, b: string, ignoreCase = false): boolean {
  const x = new TextEncoder().encode(ignoreCase ? a.toLowerCase() : a);
  const y = new TextEncoder().encode(ignoreCase ? b.toLowerCase() : b);
  if (x.length !== y.length) {
    nodeCrypto().timingSafeEqual(x, x);
    return false;
  }
  return nodeCrypto().timingSafeEqual(x, y);
}

/** `salt$iterations$encoded` split, or null. */
function splitStored(stored: string): { salt: Uint8Array; iterations: number; encoded: string } | null {
  const s1 = stored.indexOf("$");
  const s2 = stored.indexOf("$", s1 + 1);
  if (s1 < 0 || s2 < 0) return null;
  const salt = fromHex(stored.slice(0, s1));
  const itText = stored.slice(s1 + 1, s2);
  const iterations = /^\d{1,9}$/.test(itText) ? Number(itText) : NaN;
  if (!salt || !(iterations >= 1)) return null;
  return { salt, iterations, encoded: stored.slice(s2 + 1) };
}

export class MessageDigestCredentialHandler implements CredentialHandler {
  private readonly node: string | null;

  constructor(readonly config: Extract<CredentialHandlerConfig, { className: "MessageDigestCredentialHandler" }>) {
    this.node = config.algorithm ? nodeDigestName(config.algorithm) : null;
    if (config.algorithm && !this.node) {
      throw new Error(
        `MessageDigestCredentialHandler algorithm "${config.algorithm}" is not a digest this runtime has (use SHA-256, SHA-512, SHA-1 or MD5)`,
      );
    }
  }

  get plain(): boolean {
    return !this.node;
  }

  get digestAlgorithm(): string | undefined {
    return this.config.algorithm;
  }

  private digest(iterations: number, ...parts: Uint8Array[]): Uint8Array {
    let h = nodeCrypto().createHash(this.node!);
    for (const p of parts) h.update(p);
    let out: Uint8Array = h.digest();
    for (let i = 1; i < iterations; i++) {
      h = nodeCrypto().createHash(this.node!);
      out = h.update(out).digest();
    }
    return out;
  }

  private bytes(s: string): Uint8Array {
    const enc = this.config.encoding.toUpperCase().replace("_", "-");
    return enc === "ISO-8859-1" || enc === "LATIN1" ? Buffer.from(s, "latin1") : new TextEncoder().encode(s);
  }

  matches(input: string, stored: string | undefined): boolean {
    if (stored === undefined) return false;
    if (!this.node) return constantTimeEquals(input, stored);
    const latin1 = Buffer.from(input, "latin1");
    if (stored.startsWith("{MD5}") || stored.startsWith("{SHA}")) {
      return constantTimeEquals(Buffer.from(this.digest(1, latin1)).toString("base64"), stored.slice(5));
    }
    if (stored.startsWith("{SSHA}") || stored.startsWith("{SSHAv2}")) {
      const v2 = stored.startsWith("{SSHAv2}");
      const raw = Buffer.from(stored.slice(v2 ? 8 : 6), "base64");
      if (raw.length <= 20) return false;
      const [digest, salt] = v2 ? [raw.subarray(20), raw.subarray(0, 20)] : [raw.subarray(0, 20), raw.subarray(20)];
      const mine = this.digest(1, latin1, salt);
      return mine.length === digest.length && nodeCrypto().timingSafeEqual(mine, digest);
    }
    if (stored.includes("$")) {
      const parts = splitStored(stored);
      if (!parts) return false;
      return constantTimeEquals(hex(this.digest(parts.iterations, parts.salt, this.bytes(input))), parts.encoded, true);
    }
    return constantTimeEquals(hex(this.digest(1, this.bytes(input))), stored, true);
  }

  mutate(input: string): string {
    if (!this.node) return input;
    const { iterations, saltLength } = this.config;
    const salt = randomSalt(saltLength);
    const digest = hex(this.digest(iterations, salt, this.bytes(input)));
    return saltLength === 0 && iterations === 1 ? digest : `${hex(salt)}$${iterations}$${digest}`;
  }
}

export class SecretKeyCredentialHandler implements CredentialHandler {
  readonly plain = false;
  private readonly digest: string;

  constructor(readonly config: Extract<CredentialHandlerConfig, { className: "SecretKeyCredentialHandler" }>) {
    const d = pbkdf2Digest(config.algorithm);
    if (!d) {
      throw new Error(
        `SecretKeyCredentialHandler algorithm "${config.algorithm}" is not supported (use PBKDF2WithHmacSHA1, PBKDF2WithHmacSHA256 or PBKDF2WithHmacSHA512)`,
      );
    }
    this.digest = d;
  }

  private derive(input: string, salt: Uint8Array, iterations: number, bits: number): string {
    return hex(
      nodeCrypto().pbkdf2Sync(new TextEncoder().encode(input), salt, iterations, Math.ceil(bits / 8), this.digest),
    );
  }

  matches(input: string, stored: string | undefined): boolean {
    if (stored === undefined) return false;
    const parts = splitStored(stored);
    if (!parts || !fromHex(parts.encoded) || parts.encoded.length === 0) return false;
    // Tomcat takes the key length from the stored key, whatever keyLength says.
    return constantTimeEquals(
      this.derive(input, parts.salt, parts.iterations, parts.encoded.length * 4),
      parts.encoded,
      true,
    );
  }

  mutate(input: string): string {
    const { iterations, saltLength, keyLength } = this.config;
    const salt = randomSalt(saltLength);
    return `${hex(salt)}$${iterations}$${this.derive(input, salt, iterations, keyLength)}`;
  }
}

export class NestedCredentialHandler implements CredentialHandler {
  constructor(private readonly handlers: CredentialHandler[]) {}
  get plain(): boolean {
    return this.handlers.some((h) => h.plain);
  }
  get digestAlgorithm(): string | undefined {
    return this.handlers.find((h) => h.digestAlgorithm)?.digestAlgorithm;
  }
  matches(input: string, stored: string | undefined): boolean {
    return this.handlers.some((h) => h.matches(input, stored));
  }
  mutate(input: string): string {
    return this.handlers[0]?.mutate(input) ?? input;
  }
}

/** Tomcat's defaults: a realm without a handler compares plain text. */
export const PLAIN: CredentialHandler = new MessageDigestCredentialHandler({
  className: "MessageDigestCredentialHandler",
  iterations: 1,
  saltLength: 0,
  encoding: "UTF-8",
});

export function createCredentialHandler(config: CredentialHandlerConfig | undefined): CredentialHandler {
  if (!config) return PLAIN;
  switch (config.className) {
    case "MessageDigestCredentialHandler":
      return new MessageDigestCredentialHandler(config);
    case "SecretKeyCredentialHandler":
      return new SecretKeyCredentialHandler(config);
    case "NestedCredentialHandler":
      return new NestedCredentialHandler(config.credentialHandlers.map(createCredentialHandler));
  }
}

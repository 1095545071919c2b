/**
 * Sun's JKS private-key protection (sun.security.provider.KeyProtector, OID 1.3.6.1.4.1.42.2.17.1.1):
 * a SHA-1 keystream seeded by a 20-byte salt and the password as UTF-16BE, XORed with the PKCS#8
 * key, followed by SHA-1(password || key) as a check value. A wrong password fails that check,
 * which Java reports as "Cannot recover key".
 */
import { nodeCrypto } from "../../util/node-crypto.ts";
import { concat, equal, randomBytes, utf16be } from "./bytes.ts";

const SALT = 20;
const DIGEST = 20;

export class KeyProtectorError extends Error {
  override name = "KeyProtectorError";
}

function keystream(password: Uint8Array, salt: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let digest = salt;
  for (let off = 0; off < length; off += DIGEST) {
    digest = new Uint8Array(nodeCrypto().createHash("sha1").update(password).update(digest).digest());
    out.set(digest.subarray(0, Math.min(DIGEST, length - off)), off);
  }
  return out;
}

/** `protectedKey` is the EncryptedPrivateKeyInfo's encryptedData. Returns the PKCS#8 DER. */
export function recover(protectedKey: Uint8Array, password: string): Uint8Array {
  if (protectedKey.length <= SALT + DIGEST) throw new KeyProtectorError("protected key too short");
  const pw = utf16be(password);
  const salt = protectedKey.subarray(0, SALT);
  const enc = protectedKey.subarray(SALT, protectedKey.length - DIGEST);
  const check = protectedKey.subarray(protectedKey.length - DIGEST);
  const ks = keystream(pw, salt, enc.length);
  const plain = enc.map((b, i) => b ^ ks[i]);
  const expected = new Uint8Array(nodeCrypto().createHash("sha1").update(pw).update(plain).digest());
  if (!equal(expected, check)) throw new KeyProtectorError("Cannot recover key");
  return plain;
}

export function protect(pkcs8: Uint8Array, password: string): Uint8Array {
  const pw = utf16be(password);
  const salt = randomBytes(SALT);
  const ks = keystream(pw, salt, pkcs8.length);
  const enc = pkcs8.map((b, i) => b ^ ks[i]);
  const check = new Uint8Array(nodeCrypto().createHash("sha1").update(pw).update(pkcs8).digest());
  return concat(salt, enc, check);
}

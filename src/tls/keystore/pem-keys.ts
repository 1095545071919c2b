/**
 * Private keys from PEM blocks, as Tomcat's PEMFile reads them: PKCS#8, encrypted PKCS#8,
 * PKCS#1 `RSA PRIVATE KEY` and SEC1 `EC PRIVATE KEY`, the last two optionally encrypted the
 * traditional OpenSSL way (`Proc-Type: 4,ENCRYPTED` + `DEK-Info`, key from EVP_BytesToKey/MD5).
 * Output is always unencrypted PKCS#8 DER.
 */
import { nodeCrypto } from "../../util/node-crypto.ts";
import { concat, fromHex, utf8 } from "./bytes.ts";
import { cbcDecrypt, type CipherName, KEY_LENGTH, PaddingError } from "./ciphers.ts";
import { decryptPrivateKeyInfo, WrongPasswordError } from "./epki.ts";
import { UnsupportedAlgorithmError } from "./pbe.ts";
import type { PemBlock } from "./pem.ts";
import { pkcs1ToPkcs8, sec1ToPkcs8 } from "./keys.ts";

export const PRIVATE_KEY_LABELS = [
  "PRIVATE KEY",
  "ENCRYPTED PRIVATE KEY",
  "RSA PRIVATE KEY",
  "EC PRIVATE KEY",
  "DSA PRIVATE KEY",
];

/** The key is encrypted and no password was given (Tomcat: pemFile.noPassword). */
export class PasswordRequiredError extends Error {
  override name = "PasswordRequiredError";
}

const DEK_CIPHERS: Record<string, CipherName> = {
  "AES-128-CBC": "aes-128-cbc",
  "AES-192-CBC": "aes-192-cbc",
  "AES-256-CBC": "aes-256-cbc",
  "DES-EDE3-CBC": "des-ede3-cbc",
  "DES-CBC": "des-cbc",
};

/** OpenSSL's EVP_BytesToKey with MD5 and one iteration, salted with the first 8 IV bytes. */
function bytesToKey(password: string, salt: Uint8Array, length: number): Uint8Array {
  let out: Uint8Array = new Uint8Array(0);
  let prev: Uint8Array = new Uint8Array(0);
  while (out.length < length) {
    prev = new Uint8Array(nodeCrypto().createHash("md5").update(prev).update(utf8(password)).update(salt).digest());
    out = concat(out, prev);
  }
  return out.subarray(0, length);
}

function decryptTraditional(block: PemBlock, password: string): Uint8Array {
  const dek = /^([A-Z0-9-]+),([0-9A-Fa-f]+)$/.exec(block.headers["DEK-Info"] ?? "");
  if (!dek) throw new UnsupportedAlgorithmError(`unreadable DEK-Info header "${block.headers["DEK-Info"] ?? ""}"`);
  const cipher = DEK_CIPHERS[dek[1].toUpperCase()];
  if (!cipher) {
    throw new UnsupportedAlgorithmError(`PEM encryption ${dek[1]} (supported: ${Object.keys(DEK_CIPHERS).join(", ")})`);
  }
  const iv = fromHex(dek[2]);
  try {
    return cbcDecrypt(
      { name: cipher, key: bytesToKey(password, iv.subarray(0, 8), KEY_LENGTH[cipher]), iv },
      block.der,
    );
  } catch (e) {
    if (e instanceof PaddingError) throw new WrongPasswordError("Cannot recover key");
    throw e;
  }
}

/** Decodes a private-key PEM block to PKCS#8 DER. `password` is ignored for unencrypted keys, as in Tomcat. */
export function pemPrivateKey(block: PemBlock, password: string | undefined): Uint8Array {
  const encrypted = block.label === "ENCRYPTED PRIVATE KEY" || /ENCRYPTED/.test(block.headers["Proc-Type"] ?? "");
  if (encrypted && password === undefined) {
    throw new PasswordRequiredError("A password is required to decrypt the private key");
  }
  switch (block.label) {
    case "PRIVATE KEY":
      return block.der;
    case "ENCRYPTED PRIVATE KEY":
      return decryptPrivateKeyInfo(block.der, password!);
    case "RSA PRIVATE KEY":
    case "EC PRIVATE KEY": {
      const raw = encrypted ? decryptTraditional(block, password!) : block.der;
      try {
        return block.label === "RSA PRIVATE KEY" ? pkcs1ToPkcs8(raw) : sec1ToPkcs8(raw);
      } catch (e) {
        // Garbage after decryption means the password was wrong, not that the file is bad.
        if (encrypted) throw new WrongPasswordError("Cannot recover key");
        throw e;
      }
    }
    default:
      throw new UnsupportedAlgorithmError(`"${block.label}" keys are not supported (use RSA or EC)`);
  }
}

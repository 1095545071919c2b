/**
 * The Bun back-end writes out the SSL_OP_* flags it sets instead of reading node:crypto's
 * constants (so that an HTTPS start does not load node:crypto): they must be the runtime's values.
 */
import { expect, test } from "bun:test";
import { constants } from "node:crypto";
import { SSL_OP } from "../../src/runtime/bun.ts";

test("the SSL_OP flags the Bun back-end sets are node:crypto's constants", () => {
  const node = constants as unknown as Record<string, number>;
  for (const [name, value] of Object.entries(SSL_OP)) {
    expect([name, value as number]).toEqual([name, node[`SSL_OP_${name}`]!]);
  }
});

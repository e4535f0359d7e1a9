// SHA-256 as the tests compute it: node:crypto, independent of the native addon
// and of the gateway's own hashing code. No vitest import: thread and process
// fixtures built into dist/ use it too (through ledger.ts).
import { createHash } from 'node:crypto';

/** SHA-256 of the parts one after another (strings as UTF-8). */
export function sha256(...parts: (Uint8Array | string)[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** The same digest as lowercase hex, the form replies and proofs carry. */
export function sha256Hex(...parts: (Uint8Array | string)[]): string {
  return sha256(...parts).toString('hex');
}

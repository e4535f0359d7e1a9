// Test-only references: the RFC 6962 tree hash written as the RFC states it (recursive split
// at the largest power of two below n), deliberately unlike the iterative code under test
// (src/ledger/merkle.ts and the native addon's merkleRoot). Its SHA-256 is node:crypto's.
import { sha256 } from './hash.js';

/** MTH(D[lo:hi]) of RFC 6962 section 2.1 over arbitrary leaf data. */
export function referenceTreeHash(leaves: readonly Uint8Array[], lo = 0, hi = leaves.length): Buffer {
  const n = hi - lo;
  if (n === 0) return sha256();
  if (n === 1) return sha256(Uint8Array.of(0x00), leaves[lo] ?? new Uint8Array());
  let k = 1;
  while (k * 2 < n) k *= 2;
  return sha256(Uint8Array.of(0x01), referenceTreeHash(leaves, lo, lo + k), referenceTreeHash(leaves, lo + k, hi));
}

/** Splits packed 32-byte entry hashes into the leaf data of a block tree. */
export function splitHashes(packed: Uint8Array, n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => packed.subarray(32 * i, 32 * i + 32));
}

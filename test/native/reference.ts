// Test-only references: the RFC 6962 tree hash written as the RFC states it (recursive split
// at the largest power of two below n), deliberately unlike the iterative code under test.
import { createHash } from 'node:crypto';

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return h.digest();
}

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

/** A small seeded PRNG (mulberry32) so a failing case can be reproduced. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(random: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

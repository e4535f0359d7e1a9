// The sealer's hot path — block roots, directory leaves and roots — goes through
// the native batch hasher; src/native falls back to pure JS by itself when the
// addon is missing. merkle.ts stays the independent JS reference that tests
// compare against, and every proof the store serves is re-checked in JS.
import { hashing } from '../native/index.js';
import { HASH_BYTES } from './hash.js';
import type { RootFunction } from './merkle.js';
import type { DirectoryEntry } from './records.js';

export const fastRoot: RootFunction = (leafData32, n) => hashing.merkleRoot(leafData32, n);

/** Directory leaf data, SHA-256(chainId ‖ blockHash) per entry, n × 32 bytes, in one native call. */
export function directoryLeaves(entries: readonly DirectoryEntry[]): Buffer {
  const pairs = Buffer.allocUnsafe(entries.length * 2 * HASH_BYTES);
  const spans = new Int32Array(entries.length * 2);
  entries.forEach((e, i) => {
    e.chainId.copy(pairs, i * 2 * HASH_BYTES);
    e.blockHash.copy(pairs, (i * 2 + 1) * HASH_BYTES);
    spans[2 * i] = i * 2 * HASH_BYTES;
    spans[2 * i + 1] = 2 * HASH_BYTES;
  });
  const leaves = Buffer.allocUnsafe(entries.length * HASH_BYTES);
  hashing.sha256Spans(pairs, spans, entries.length, leaves, 0);
  return leaves;
}

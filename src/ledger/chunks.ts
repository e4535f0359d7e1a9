// A block tree seen as chunks of 256 leaves. The RFC splits at powers of two, so
// for n > 256 every split falls on a chunk boundary: the block root is the RFC
// tree over the chunk roots (as nodes), and an entry's audit path is its path
// inside its chunk followed by its chunk's path among the chunk roots. Storing the
// chunk roots (32 bytes per 256 entries) lets a proof re-hash one chunk instead of
// the whole block.
import { HASH_BYTES } from './hash.js';
import { auditPath, nodesRoot } from './merkle.js';
import type { RootFunction } from './merkle.js';

export const CHUNK_LEAVES = 256;

export function chunkCount(count: number): number {
  return Math.ceil(count / CHUNK_LEAVES);
}

/** Root of each run of 256 leaves (the last one may be shorter), concatenated. */
export function chunkRootsOf(entryHashes: Uint8Array, count: number, rootOf: RootFunction): Buffer {
  const chunks = chunkCount(count);
  const out = Buffer.allocUnsafe(chunks * HASH_BYTES);
  for (let c = 0; c < chunks; c++) {
    const start = c * CHUNK_LEAVES;
    const size = Math.min(CHUNK_LEAVES, count - start);
    rootOf(entryHashes.subarray(start * HASH_BYTES, (start + size) * HASH_BYTES), size).copy(out, c * HASH_BYTES);
  }
  return out;
}

export function rootOfChunks(chunkRoots: Uint8Array, chunks: number): Buffer {
  return nodesRoot(chunkRoots, chunks);
}

/** RFC 6962 PATH(index, D[count]) from the entry's chunk and the stored chunk roots. */
export function chunkedAuditPath(entryHashes: Uint8Array, count: number, index: number, chunkRoots: Uint8Array, rootOf: RootFunction): Buffer[] {
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`merkle: index ${index} outside a tree of ${count} leaves`);
  const chunk = Math.floor(index / CHUNK_LEAVES);
  const start = chunk * CHUNK_LEAVES;
  const size = Math.min(CHUNK_LEAVES, count - start);
  const inner = auditPath(entryHashes.subarray(start * HASH_BYTES, (start + size) * HASH_BYTES), size, index - start, rootOf);
  return [...inner, ...auditPath(chunkRoots, chunkCount(count), chunk, nodesRoot)];
}

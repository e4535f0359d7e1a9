// One entry block's own checks, the part of `verify` that costs: every entry's
// content re-hashed against its stored hash, the chunk roots and the block root
// recomputed from those hashes. It needs nothing but the record's bytes, so the
// walk (verify-store.ts) can hand it to other threads (block-check-pool.ts)
// while it follows the hash links in order itself.
import { hashing } from '../native/index.js';
import { chunkCount, chunkRootsOf, rootOfChunks } from './chunks.js';
import { HASH_BYTES } from './hash.js';
import { decodeBlockRecord, RecordFormatError, type BlockRecord } from './records.js';
import { fastRoot } from './roots.js';

/**
 * What is wrong with the entries of the block record `bytes`, phrased after
 * `at` (e.g. `chain "bank" block 7`), or undefined when its contents, entry
 * hashes, chunk roots and root agree.
 */
export function blockEntriesProblem(bytes: Uint8Array, at: string): string | undefined {
  let record: BlockRecord;
  let spans: Int32Array;
  try {
    record = decodeBlockRecord(bytes);
    spans = contentSpans(record);
  } catch (error) {
    return `${at}: ${error instanceof Error ? error.message : String(error)}`;
  }
  const { count, firstSeq, root } = record.header;
  const bad = firstBadEntry(record, spans);
  if (bad !== undefined) return `${at} seq ${firstSeq + bad}: entry hash does not match its content`;
  const chunkRoots = chunkRootsOf(record.entryHashes, count, fastRoot);
  if (!rootOfChunks(chunkRoots, chunkCount(count)).equals(root)) return `${at}: root mismatch`;
  if (!chunkRoots.equals(record.chunkRoots)) return `${at}: stored chunk roots do not match its entry hashes`;
  return undefined;
}

/** Each entry's content length; throws when the record's content ends decrease. */
export function entryLengths(record: BlockRecord): Uint32Array {
  const lengths = new Uint32Array(record.header.count);
  const ends = record.contentEnds;
  let start = 0;
  for (let i = 0; i < lengths.length; i++) {
    const end = ends.readUInt32BE(i * 4);
    if (end < start) throw new RecordFormatError(`block record: content ends decrease at entry ${i}`);
    lengths[i] = end - start;
    start = end;
  }
  return lengths;
}

/**
 * The index of the first entry whose stored hash is not SHA-256 of its content,
 * or undefined when all are. One native call for the block's hashes and one
 * comparison of them all: a JS call per entry cost ~0.8 µs, most of a verify's
 * time. Throws RecordFormatError when the content ends decrease.
 */
export function firstBadEntry(record: BlockRecord, spans = contentSpans(record)): number | undefined {
  const { count } = record.header;
  const hashes = Buffer.allocUnsafe(count * HASH_BYTES);
  hashing.sha256Spans(record.contents, spans, count, hashes, 0);
  if (hashes.equals(record.entryHashes)) return undefined;
  return firstDifferentHash(hashes, record.entryHashes, count);
}

/** (start, length) of each entry in the record's contents, as sha256Spans takes them. */
function contentSpans(record: BlockRecord): Int32Array {
  const lengths = entryLengths(record);
  const spans = new Int32Array(lengths.length * 2);
  let start = 0;
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i] ?? 0;
    spans[2 * i] = start;
    spans[2 * i + 1] = length;
    start += length;
  }
  return spans;
}

function firstDifferentHash(a: Uint8Array, b: Uint8Array, count: number): number {
  for (let i = 0; i < count; i++) {
    const at = i * HASH_BYTES;
    if (Buffer.compare(a.subarray(at, at + HASH_BYTES), b.subarray(at, at + HASH_BYTES)) !== 0) return i;
  }
  return count;
}

// A block's record built straight from where the sealer holds its entries, in
// one native call per block: chunk roots, entry hashes, content ends and
// contents are written into the record's final memory, and JavaScript never
// touches an entry. Only the record's head (version, header, directory height)
// is left: it needs the chain's height and previous hash, which the ledger
// owns, and the header needs the root computed here.
import { hashing } from '../native/index.js';
import { CHUNK_LEAVES } from './chunks.js';
import { HASH_BYTES } from './hash.js';
import { BLOCK_BODY_AT, blockRecordBytes } from './records.js';

/** A block's entries where they lie: hashes back to back, ends absolute in `contents`. */
export interface BlockSource {
  count: number;
  /** count × 32 bytes from offset 0. */
  hashes: Uint8Array;
  /** count values from index 0: where entry i ends in `contents`. */
  ends: Uint32Array;
  /** Where entry 0 starts in `contents`. */
  contentStart: number;
  contents: Uint8Array;
}

/** A block record whose head is not written yet, and the block's Merkle root. */
export interface PreparedRecord {
  record: Buffer;
  root: Buffer;
}

/** `alloc(bytes)` gives the record's memory (the sealer reuses one arena from seal to seal). */
export function prepareBlockRecord(src: BlockSource, alloc: (bytes: number) => Uint8Array): PreparedRecord {
  if (src.count < 1) throw new RangeError('prepareBlockRecord: a block has at least one entry');
  const contentBytes = src.ends[src.count - 1]! - src.contentStart;
  const memory = alloc(blockRecordBytes(src.count, contentBytes));
  const record = Buffer.from(memory.buffer, memory.byteOffset, memory.byteLength);
  const root = hashing.blockBody(
    src.hashes.subarray(0, src.count * HASH_BYTES), src.ends, src.count, src.contentStart, src.contents, CHUNK_LEAVES, record.subarray(BLOCK_BODY_AT),
  );
  return { record, root };
}

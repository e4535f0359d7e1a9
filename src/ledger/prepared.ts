// A block's record built straight from where the sealer holds its entries, in
// one native call per block: chunk roots, entry hashes, content ends and
// contents are written into the record's final memory, and JavaScript never
// touches an entry. A block held in several places (backlog segments) is
// written from its pieces directly. Only the record's head (version, header,
// directory height) is left: it needs the chain's height and previous hash,
// which the ledger owns, and the header needs the root computed here.
import { hashing, type BlockPiece } from '../native/index.js';
import { CHUNK_LEAVES } from './chunks.js';
import { BLOCK_BODY_AT, blockRecordBytes } from './records.js';

export type { BlockPiece };

/** A block's entries where they lie: one piece or several, in seq order. */
export type BlockSource = readonly BlockPiece[];

/** A block record whose head is not written yet, and the block's Merkle root. */
export interface PreparedRecord {
  record: Buffer;
  root: Buffer;
}

/** `alloc(bytes)` gives the record's memory (the sealer reuses one arena from seal to seal). */
export function prepareBlockRecord(src: BlockSource, alloc: (bytes: number) => Uint8Array): PreparedRecord {
  let count = 0;
  let contentBytes = 0;
  for (const piece of src) {
    if (piece.count < 1) throw new RangeError('prepareBlockRecord: every piece of a block has at least one entry');
    count += piece.count;
    contentBytes += piece.ends[piece.count - 1]! - piece.contentStart;
  }
  if (count < 1) throw new RangeError('prepareBlockRecord: a block has at least one entry');
  const memory = alloc(blockRecordBytes(count, contentBytes));
  const record = Buffer.from(memory.buffer, memory.byteOffset, memory.byteLength);
  const root = hashing.blockBody(src, CHUNK_LEAVES, record.subarray(BLOCK_BODY_AT));
  return { record, root };
}

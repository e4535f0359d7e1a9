// Client frame ids in the store (docs/replicas.md part 7): for each admitted
// frame that carried an id, one row written in the seal transaction of the
// block that holds its first seq, so a restarted gateway (or a standby that
// took the chain over) rebuilds each chain's window from its last rows:
//
//   frameIds  chainId(32) ‖ seq u64 → producer(8) ‖ n u64 ‖ count u32
//
// `seq` is the frame's first seq and `count` its entries (a frame may run on
// into the chain's next block). A shipped seal carries its blocks' rows as
// they are stored, key ‖ value, in key order (FRAME_ID_ROW_BYTES each).
import { HASH_BYTES } from './hash.js';
import { chainIdOf } from './headers.js';
import { chainKey, decodeBlockRecord, readU64, RecordFormatError } from './records.js';
import { LedgerCorruptionError, type LedgerPlace } from './errors.js';
import { lastKeyOfChain, type LedgerTables } from './tables.js';

/** One frame id as the store keeps it. */
export interface StoredFrameId {
  /** The frame's first seq. */
  seq: number;
  /** The producer's 8 bytes, 16 lower-case hex digits (src/protocol/frame-id.ts). */
  producer: string;
  n: number;
  /** The frame's entries. */
  count: number;
}

const PRODUCER_BYTES = 8;
const KEY_BYTES = HASH_BYTES + 8;
const VALUE_BYTES = PRODUCER_BYTES + 8 + 4;
/** A row as shipped: key ‖ value. */
export const FRAME_ID_ROW_BYTES = KEY_BYTES + VALUE_BYTES;
const PRODUCER_HEX = /^[0-9a-f]{16}$/;

/** A frame id row refused: the message names the chain, the seq and what does not hold. */
export class FrameIdRowError extends Error {
  override name = 'FrameIdRowError';
}

/**
 * The rows of a block's ids, checked: each id's first seq is in the block
 * [firstSeq, firstSeq + count), ascending and distinct (so a block has at
 * most `count` of them), its count ≥ 1, its producer 8 bytes, its n a safe integer.
 */
export function frameIdRows(
  chainName: string,
  chainId: Buffer,
  firstSeq: number,
  count: number,
  ids: readonly StoredFrameId[],
): { key: Buffer; value: Buffer }[] {
  const fail = (problem: string): never => {
    throw new FrameIdRowError(`chain ${JSON.stringify(chainName)} block at seq ${firstSeq}: ${problem}`);
  };
  if (ids.length > count) fail(`${ids.length} frame ids for a block of ${count} entries`);
  let previous = firstSeq - 1;
  return ids.map((id) => {
    if (!Number.isSafeInteger(id.seq) || id.seq <= previous || id.seq >= firstSeq + count)
      fail(`frame id at seq ${id.seq} is not in the block, or not after the one before it`);
    previous = id.seq;
    if (typeof id.producer !== 'string' || !PRODUCER_HEX.test(id.producer)) fail(`frame id at seq ${id.seq}: its producer is not 8 bytes of hex`);
    if (!Number.isSafeInteger(id.n) || id.n < 0) fail(`frame id at seq ${id.seq}: n is not an integer from 0 to 2^53 − 1`);
    if (!Number.isInteger(id.count) || id.count < 1 || id.count > 0xffff_ffff) fail(`frame id at seq ${id.seq}: count ${id.count}`);
    return { key: chainKey(chainId, id.seq), value: encodeValue(id) };
  });
}

function encodeValue(id: StoredFrameId): Buffer {
  const value = Buffer.allocUnsafe(VALUE_BYTES);
  value.write(id.producer, 0, PRODUCER_BYTES, 'hex');
  value.writeBigUInt64BE(BigInt(id.n), PRODUCER_BYTES);
  value.writeUInt32BE(id.count, PRODUCER_BYTES + 8);
  return value;
}

/** A stored row back as an id; throws FrameIdRowError on a value of another size. */
export function decodeFrameIdRow(key: Uint8Array, value: Uint8Array): StoredFrameId & { chainId: Buffer } {
  if (key.length !== KEY_BYTES || value.length !== VALUE_BYTES) throw new FrameIdRowError(`a frame id row is ${KEY_BYTES} + ${VALUE_BYTES} bytes`);
  const v = Buffer.from(value.buffer, value.byteOffset, value.length);
  return {
    chainId: Buffer.from(key.subarray(0, HASH_BYTES)),
    seq: readU64(key, HASH_BYTES),
    producer: v.toString('hex', 0, PRODUCER_BYTES),
    n: readU64(v, PRODUCER_BYTES),
    count: v.readUInt32BE(PRODUCER_BYTES + 8),
  };
}

/** Shipped rows (key ‖ value …) split into key and value views; throws FrameIdRowError on a ragged length. */
export function splitShippedRows(bytes: Uint8Array): { key: Buffer; value: Buffer }[] {
  if (bytes.length % FRAME_ID_ROW_BYTES !== 0) throw new FrameIdRowError(`the frame ids are ${bytes.length} bytes, not a multiple of ${FRAME_ID_ROW_BYTES}`);
  const all = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const rows: { key: Buffer; value: Buffer }[] = [];
  for (let at = 0; at < all.length; at += FRAME_ID_ROW_BYTES)
    rows.push({ key: all.subarray(at, at + KEY_BYTES), value: all.subarray(at + KEY_BYTES, at + FRAME_ID_ROW_BYTES) });
  return rows;
}

/** A stored id with its entries' hashes, for a window rebuilt at start or at takeover. */
export interface RecentFrameId extends StoredFrameId {
  /** count × 32 bytes, from the blocks holding its entries. */
  hashes: Buffer;
}

/**
 * The last `limit` ids of a chain, oldest first, with their hashes, taking
 * ids newest first until their hashes pass `maxBytes` (the window's byte
 * bound would evict the rest at once). An id whose entries are not all in
 * the store (its frame ran on into a block a crash lost) is left out: a
 * repeat of it is written again, as any frame the window does not hold.
 */
export function recentFrameIds(tables: LedgerTables, chainName: string, limit: number, maxBytes: number): RecentFrameId[] {
  const chainId = chainIdOf(chainName);
  const out: RecentFrameId[] = [];
  let bytes = 0;
  const end = Buffer.concat([chainId, Buffer.alloc(8, 0xff)]);
  for (const { key, value } of tables.frameIds.getRange({ start: end, end: chainId, reverse: true, limit })) {
    const id = corruptUnless(() => decodeFrameIdRow(key, value), { chain: chainName });
    if (!id.chainId.equals(chainId)) break;
    bytes += id.count * HASH_BYTES;
    if (bytes > maxBytes) break;
    const hashes = corruptUnless(() => hashesOf(tables, chainId, id.seq, id.seq + id.count), { chain: chainName, seq: id.seq });
    if (hashes !== null) out.push({ seq: id.seq, producer: id.producer, n: id.n, count: id.count, hashes });
  }
  return out.reverse();
}

/** A row or block that does not decode is the store's corruption, named with its place, like any other read's. */
function corruptUnless<T>(read: () => T, place: LedgerPlace): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof FrameIdRowError || error instanceof RecordFormatError || error instanceof RangeError)
      throw new LedgerCorruptionError(place, `frame ids: ${error.message}`);
    throw error;
  }
}

/** The entry hashes of seqs [from, to) of `chainName`, copied from the blocks holding them; null when one is missing. */
export function storedEntryHashes(tables: LedgerTables, chainName: string, from: number, to: number): Buffer | null {
  return corruptUnless(() => hashesOf(tables, chainIdOf(chainName), from, to), { chain: chainName, seq: from });
}

/** The entry hashes of seqs [from, to) of a chain, copied from the blocks holding them; null when one is missing. */
function hashesOf(tables: LedgerTables, chainId: Buffer, from: number, to: number): Buffer | null {
  const parts: Buffer[] = [];
  for (let seq = from; seq < to;) {
    const key = lastKeyOfChain(tables.seqIndex, chainId, seq);
    const height = key === undefined ? undefined : tables.seqIndex.get(key);
    const bytes = height === undefined ? undefined : tables.blocks.getBinaryFast(chainKey(chainId, readU64(height, 0)));
    if (bytes === undefined) return null;
    const record = decodeBlockRecord(bytes);
    const { firstSeq, count } = record.header;
    if (seq < firstSeq || seq >= firstSeq + count) return null;
    const last = Math.min(to, firstSeq + count);
    parts.push(Buffer.from(record.entryHashes.subarray((seq - firstSeq) * HASH_BYTES, (last - firstSeq) * HASH_BYTES)));
    seq = last;
  }
  return Buffer.concat(parts);
}

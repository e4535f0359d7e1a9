// How blocks sit in lmdb: one value per entry block and per directory block, so
// sealing costs a handful of puts per block whatever the number of entries.
// These layouts are private to the store (the contract is the headers); the
// leading version byte lets them change later without guessing.
import { decodeDirectoryHeader, decodeEntryBlockHeader, DIRECTORY_HEADER_BYTES, ENTRY_BLOCK_HEADER_BYTES } from './headers.js';
import type { DirectoryHeader, EntryBlockHeader } from './headers.js';
import { chunkCount } from './chunks.js';
import { HASH_BYTES } from './hash.js';

const RECORD_VERSION = 1;

// ---- keys: fixed-width big-endian, so lmdb's bytewise order is numeric order ----

export function heightKey(height: number): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeBigUInt64BE(BigInt(height));
  return key;
}

/** chainId ‖ u64: entry blocks by (chainId, height) and the seq index by (chainId, firstSeq). */
export function chainKey(chainId: Uint8Array, n: number): Buffer {
  const key = Buffer.allocUnsafe(HASH_BYTES + 8);
  key.set(chainId, 0);
  key.writeBigUInt64BE(BigInt(n), HASH_BYTES);
  return key;
}

export function readU64(bytes: Uint8Array, at: number): number {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return Number(view.readBigUInt64BE(at));
}

// ---- entry block record ----
// version u8 ‖ header (124) ‖ directory height u64 ‖ ⌈count/256⌉ × chunk root (32)
//   ‖ count × entry hash (32) ‖ count × content end u32 (exclusive, big-endian) ‖ contents

export interface BlockRecordInput {
  header: Buffer;
  directoryHeight: number;
  chunkRoots: Uint8Array;
  entryHashes: Uint8Array;
  contentEnds: Uint32Array;
  contents: Uint8Array;
  count: number;
}

const BLOCK_FIXED = 1 + ENTRY_BLOCK_HEADER_BYTES + 8;

/**
 * A decoded record's directory height when another gateway's directory holds
 * the block (adopted.ts): the stored field is 0xff × 8 (2^64 − 1).
 */
export const ADOPTED_DIRECTORY = -1;
const ADOPTED_FIELD = 0xffff_ffff_ffff_ffffn;

/** The header bytes of a block record, without decoding the rest (a view). */
export function blockRecordHeader(record: Uint8Array): Uint8Array {
  if (record.length < BLOCK_FIXED || record[0] !== RECORD_VERSION) throw new RecordFormatError('block record: bad version or length');
  return record.subarray(1, 1 + ENTRY_BLOCK_HEADER_BYTES);
}

export function encodeBlockRecord(input: BlockRecordInput): Buffer {
  const { count } = input;
  const { hashesAt, endsAt, contentsAt } = blockLayout(count);
  if (input.chunkRoots.length !== hashesAt - BLOCK_FIXED) throw new RangeError('block record: chunk roots do not fit the count');
  const out = Buffer.allocUnsafe(contentsAt + input.contents.length);
  writeBlockRecordHead(out, input.header, input.directoryHeight);
  out.set(input.chunkRoots, BLOCK_FIXED);
  out.set(input.entryHashes.subarray(0, count * HASH_BYTES), hashesAt);
  for (let i = 0; i < count; i++) out.writeUInt32BE(input.contentEnds[i] ?? 0, endsAt + i * 4);
  out.set(input.contents, contentsAt);
  return out;
}

/** Where a block record's body starts: what `hashing.blockBody` writes, from the chunk roots on. */
export const BLOCK_BODY_AT = BLOCK_FIXED;

/** The length of a block record of `count` entries with `contentBytes` of contents in all. */
export function blockRecordBytes(count: number, contentBytes: number): number {
  return blockLayout(count).contentsAt + contentBytes;
}

/** Writes a block record's fixed part (version, header, directory height) in place, before its body. */
export function writeBlockRecordHead(record: Buffer, header: Buffer, directoryHeight: number): void {
  record[0] = RECORD_VERSION;
  header.copy(record, 1);
  record.writeBigUInt64BE(BigInt(directoryHeight), 1 + ENTRY_BLOCK_HEADER_BYTES);
}

function blockLayout(count: number): { hashesAt: number; endsAt: number; contentsAt: number } {
  const hashesAt = BLOCK_FIXED + chunkCount(count) * HASH_BYTES;
  const endsAt = hashesAt + count * HASH_BYTES;
  return { hashesAt, endsAt, contentsAt: endsAt + count * 4 };
}

/** A decoded block record. Views alias the bytes it was decoded from. */
export interface BlockRecord {
  header: EntryBlockHeader;
  headerBytes: Buffer;
  directoryHeight: number;
  chunkRoots: Buffer;
  entryHashes: Buffer;
  /** count × u32 big-endian: where each entry ends in `contents` (exclusive); not checked to increase (`span` checks). */
  contentEnds: Buffer;
  contents: Buffer;
  /** [start, end) of entry `index` within `contents`. */
  span(index: number): [number, number];
}

export class RecordFormatError extends Error {
  override name = 'RecordFormatError';
}

export function decodeBlockRecord(bytes: Uint8Array): BlockRecord {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length < BLOCK_FIXED || buf[0] !== RECORD_VERSION) throw new RecordFormatError('block record: bad version or length');
  const headerBytes = buf.subarray(1, 1 + ENTRY_BLOCK_HEADER_BYTES);
  const header = decodeEntryBlockHeader(headerBytes);
  const { hashesAt, endsAt, contentsAt } = blockLayout(header.count);
  if (buf.length < contentsAt) throw new RecordFormatError('block record: truncated before contents');
  const contents = buf.subarray(contentsAt);
  const endOf = (i: number): number => (i < 0 ? 0 : buf.readUInt32BE(endsAt + i * 4));
  if (header.count > 0 && endOf(header.count - 1) !== contents.length)
    throw new RecordFormatError('block record: contents length does not match the last content end');
  return {
    header,
    headerBytes,
    directoryHeight: directoryHeightOf(buf.readBigUInt64BE(1 + ENTRY_BLOCK_HEADER_BYTES)),
    chunkRoots: buf.subarray(BLOCK_FIXED, hashesAt),
    entryHashes: buf.subarray(hashesAt, endsAt),
    contentEnds: buf.subarray(endsAt, contentsAt),
    contents,
    span(index) {
      const start = endOf(index - 1);
      const end = endOf(index);
      if (start > end) throw new RecordFormatError(`block record: content ends decrease at entry ${index}`);
      return [start, end];
    },
  };
}

function directoryHeightOf(field: bigint): number {
  return field === ADOPTED_FIELD ? ADOPTED_DIRECTORY : Number(field);
}

// ---- directory record ----
// version u8 ‖ header (84) ‖ count × (chainId 32 ‖ height u64 ‖ entry block hash 32)

export interface DirectoryEntry {
  chainId: Buffer;
  height: number;
  blockHash: Buffer;
}

const DIRECTORY_ENTRY_BYTES = HASH_BYTES + 8 + HASH_BYTES;

/** The length of a directory record listing `count` blocks. */
export function directoryRecordBytes(count: number): number {
  return 1 + DIRECTORY_HEADER_BYTES + count * DIRECTORY_ENTRY_BYTES;
}

/** The header bytes of a directory record (a view). */
export function directoryRecordHeader(record: Uint8Array): Uint8Array {
  if (record.length < 1 + DIRECTORY_HEADER_BYTES || record[0] !== RECORD_VERSION) throw new RecordFormatError('directory record: bad version or length');
  return record.subarray(1, 1 + DIRECTORY_HEADER_BYTES);
}

export function encodeDirectoryRecord(header: Buffer, entries: readonly DirectoryEntry[]): Buffer {
  const out = Buffer.allocUnsafe(1 + DIRECTORY_HEADER_BYTES + entries.length * DIRECTORY_ENTRY_BYTES);
  out[0] = RECORD_VERSION;
  header.copy(out, 1);
  entries.forEach((e, i) => {
    const at = 1 + DIRECTORY_HEADER_BYTES + i * DIRECTORY_ENTRY_BYTES;
    e.chainId.copy(out, at);
    out.writeBigUInt64BE(BigInt(e.height), at + HASH_BYTES);
    e.blockHash.copy(out, at + HASH_BYTES + 8);
  });
  return out;
}

export interface DirectoryRecord {
  header: DirectoryHeader;
  headerBytes: Buffer;
  entries: DirectoryEntry[];
}

export function decodeDirectoryRecord(bytes: Uint8Array): DirectoryRecord {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length < 1 + DIRECTORY_HEADER_BYTES || buf[0] !== RECORD_VERSION) throw new RecordFormatError('directory record: bad version or length');
  const headerBytes = Buffer.from(buf.subarray(1, 1 + DIRECTORY_HEADER_BYTES));
  const body = buf.subarray(1 + DIRECTORY_HEADER_BYTES);
  if (body.length % DIRECTORY_ENTRY_BYTES !== 0) throw new RecordFormatError('directory record: ragged entry list');
  const entries: DirectoryEntry[] = [];
  for (let at = 0; at < body.length; at += DIRECTORY_ENTRY_BYTES) {
    entries.push({
      chainId: Buffer.from(body.subarray(at, at + HASH_BYTES)),
      height: Number(body.readBigUInt64BE(at + HASH_BYTES)),
      blockHash: Buffer.from(body.subarray(at + HASH_BYTES + 8, at + DIRECTORY_ENTRY_BYTES)),
    });
  }
  return { header: decodeDirectoryHeader(headerBytes), headerBytes, entries };
}

// ---- anchor record: directory hash (32) ‖ sealedAt u64 ----

export function encodeAnchorRecord(hash: Buffer, sealedAt: number): Buffer {
  const out = Buffer.allocUnsafe(HASH_BYTES + 8);
  hash.copy(out, 0);
  out.writeBigUInt64BE(BigInt(sealedAt), HASH_BYTES);
  return out;
}

export function decodeAnchorRecord(bytes: Uint8Array): { hash: Buffer; sealedAt: number } {
  if (bytes.length !== HASH_BYTES + 8) throw new RecordFormatError('anchor record: bad length');
  return { hash: Buffer.from(bytes.subarray(0, HASH_BYTES)), sealedAt: readU64(bytes, HASH_BYTES) };
}

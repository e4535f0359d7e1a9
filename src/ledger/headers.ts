// Entry block and directory block headers: the exact bytes of docs/protocol.md
// §8 "Data layer". Big-endian throughout; a block's hash is SHA-256(header). The
// field offsets are src/protocol/formats.ts's.
import { DIRECTORY_HEADER, DIRECTORY_HEADER_BYTES, ENTRY_BLOCK_HEADER, ENTRY_BLOCK_HEADER_BYTES, HASH_BYTES } from '../protocol/index.js';
import { sha256, sha256Concat } from './hash.js';

export { DIRECTORY_HEADER_BYTES, ENTRY_BLOCK_HEADER_BYTES };

export interface EntryBlockHeader {
  chainId: Buffer;
  height: number;
  /** Hash of the chain's previous entry block; 32 zeros at height 0. */
  prevHash: Buffer;
  root: Buffer;
  firstSeq: number;
  count: number;
  /** Milliseconds since the epoch. */
  sealedAt: number;
}

export interface DirectoryHeader {
  height: number;
  /** Hash of the previous directory block; 32 zeros at height 0. */
  prevHash: Buffer;
  root: Buffer;
  count: number;
  sealedAt: number;
}

/** chainId = SHA-256(UTF-8 bytes of the chain name). */
export function chainIdOf(chainName: string): Buffer {
  return sha256(Buffer.from(chainName, 'utf8'));
}

/** A directory leaf's data: SHA-256(chainId ‖ entry block hash). */
export function directoryLeafData(chainId: Uint8Array, blockHash: Uint8Array): Buffer {
  return sha256Concat(chainId, blockHash);
}

/** Directory leaves are ordered by chainId, bytewise. */
export function compareChainIds(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function encodeEntryBlockHeader(h: EntryBlockHeader): Buffer {
  const at = ENTRY_BLOCK_HEADER;
  const out = new HeaderWriter(at.bytes);
  out.hash(at.chainId, h.chainId, 'chainId');
  out.u64(at.height, h.height, 'height');
  out.hash(at.prevHash, h.prevHash, 'prevHash');
  out.hash(at.root, h.root, 'root');
  out.u64(at.firstSeq, h.firstSeq, 'firstSeq');
  out.u32(at.count, h.count, 'count');
  out.u64(at.sealedAt, h.sealedAt, 'sealedAt');
  return out.buf;
}

export function decodeEntryBlockHeader(bytes: Uint8Array): EntryBlockHeader {
  const at = ENTRY_BLOCK_HEADER;
  const r = new HeaderReader(bytes, at.bytes, 'entry block header');
  return {
    chainId: r.hash(at.chainId),
    height: r.u64(at.height),
    prevHash: r.hash(at.prevHash),
    root: r.hash(at.root),
    firstSeq: r.u64(at.firstSeq),
    count: r.u32(at.count),
    sealedAt: r.u64(at.sealedAt),
  };
}

export function encodeDirectoryHeader(h: DirectoryHeader): Buffer {
  const at = DIRECTORY_HEADER;
  const out = new HeaderWriter(at.bytes);
  out.u64(at.height, h.height, 'height');
  out.hash(at.prevHash, h.prevHash, 'prevHash');
  out.hash(at.root, h.root, 'root');
  out.u32(at.count, h.count, 'count');
  out.u64(at.sealedAt, h.sealedAt, 'sealedAt');
  return out.buf;
}

export function decodeDirectoryHeader(bytes: Uint8Array): DirectoryHeader {
  const at = DIRECTORY_HEADER;
  const r = new HeaderReader(bytes, at.bytes, 'directory header');
  return { height: r.u64(at.height), prevHash: r.hash(at.prevHash), root: r.hash(at.root), count: r.u32(at.count), sealedAt: r.u64(at.sealedAt) };
}

// u64 fields travel as JS numbers, so anything past 2^53 is refused rather than rounded.
class HeaderWriter {
  readonly buf: Buffer;
  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }
  hash(at: number, value: Uint8Array, field: string): void {
    if (value.length !== HASH_BYTES) throw new RangeError(`header: ${field} must be ${HASH_BYTES} bytes, got ${value.length}`);
    this.buf.set(value, at);
  }
  u64(at: number, value: number, field: string): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`header: ${field} must be a non-negative safe integer, got ${value}`);
    this.buf.writeBigUInt64BE(BigInt(value), at);
  }
  u32(at: number, value: number, field: string): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new RangeError(`header: ${field} must fit in u32, got ${value}`);
    this.buf.writeUInt32BE(value, at);
  }
}

class HeaderReader {
  private readonly buf: Buffer;
  constructor(bytes: Uint8Array, size: number, what: string) {
    if (bytes.length !== size) throw new RangeError(`${what}: expected ${size} bytes, got ${bytes.length}`);
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  // Copies, so a decoded header never aliases a reused read buffer.
  hash(at: number): Buffer {
    return Buffer.from(this.buf.subarray(at, at + HASH_BYTES));
  }
  u64(at: number): number {
    const value = this.buf.readBigUInt64BE(at);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`header: u64 ${value} is beyond 2^53`);
    return Number(value);
  }
  u32(at: number): number {
    return this.buf.readUInt32BE(at);
  }
}

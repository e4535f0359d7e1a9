// Entry block and directory block headers: the exact bytes of DESIGN.md
// "Data layer formats". Big-endian throughout; a block's hash is SHA-256(header).
import { HASH_BYTES, sha256, sha256Concat } from './hash.js';

export const ENTRY_BLOCK_HEADER_BYTES = 124;
export const DIRECTORY_HEADER_BYTES = 84;

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
  const out = new HeaderWriter(ENTRY_BLOCK_HEADER_BYTES);
  out.hash(h.chainId, 'chainId');
  out.u64(h.height, 'height');
  out.hash(h.prevHash, 'prevHash');
  out.hash(h.root, 'root');
  out.u64(h.firstSeq, 'firstSeq');
  out.u32(h.count, 'count');
  out.u64(h.sealedAt, 'sealedAt');
  return out.done();
}

export function decodeEntryBlockHeader(bytes: Uint8Array): EntryBlockHeader {
  const r = new HeaderReader(bytes, ENTRY_BLOCK_HEADER_BYTES, 'entry block header');
  return {
    chainId: r.hash(),
    height: r.u64(),
    prevHash: r.hash(),
    root: r.hash(),
    firstSeq: r.u64(),
    count: r.u32(),
    sealedAt: r.u64(),
  };
}

export function encodeDirectoryHeader(h: DirectoryHeader): Buffer {
  const out = new HeaderWriter(DIRECTORY_HEADER_BYTES);
  out.u64(h.height, 'height');
  out.hash(h.prevHash, 'prevHash');
  out.hash(h.root, 'root');
  out.u32(h.count, 'count');
  out.u64(h.sealedAt, 'sealedAt');
  return out.done();
}

export function decodeDirectoryHeader(bytes: Uint8Array): DirectoryHeader {
  const r = new HeaderReader(bytes, DIRECTORY_HEADER_BYTES, 'directory header');
  return { height: r.u64(), prevHash: r.hash(), root: r.hash(), count: r.u32(), sealedAt: r.u64() };
}

// u64 fields travel as JS numbers, so anything past 2^53 is refused rather than rounded.
class HeaderWriter {
  private readonly buf: Buffer;
  private at = 0;
  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }
  hash(value: Uint8Array, field: string): void {
    if (value.length !== HASH_BYTES) throw new RangeError(`header: ${field} must be 32 bytes, got ${value.length}`);
    this.buf.set(value, this.at);
    this.at += HASH_BYTES;
  }
  u64(value: number, field: string): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`header: ${field} must be a non-negative safe integer, got ${value}`);
    this.buf.writeBigUInt64BE(BigInt(value), this.at);
    this.at += 8;
  }
  u32(value: number, field: string): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new RangeError(`header: ${field} must fit in u32, got ${value}`);
    this.buf.writeUInt32BE(value, this.at);
    this.at += 4;
  }
  done(): Buffer {
    return this.buf;
  }
}

class HeaderReader {
  private readonly buf: Buffer;
  private at = 0;
  constructor(bytes: Uint8Array, size: number, what: string) {
    if (bytes.length !== size) throw new RangeError(`${what}: expected ${size} bytes, got ${bytes.length}`);
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  // Copies, so a decoded header never aliases a reused read buffer.
  hash(): Buffer {
    const out = Buffer.from(this.buf.subarray(this.at, this.at + HASH_BYTES));
    this.at += HASH_BYTES;
    return out;
  }
  u64(): number {
    const value = this.buf.readBigUInt64BE(this.at);
    this.at += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`header: u64 ${value} is beyond 2^53`);
    return Number(value);
  }
  u32(): number {
    const value = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }
}

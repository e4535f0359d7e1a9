import { describe, expect, it } from 'vitest';
import {
  chainIdOf,
  decodeDirectoryHeader,
  decodeEntryBlockHeader,
  directoryLeafData,
  DIRECTORY_HEADER_BYTES,
  encodeDirectoryHeader,
  encodeEntryBlockHeader,
  ENTRY_BLOCK_HEADER_BYTES,
} from '../../src/ledger/index.js';

const fill = (byte: number): Buffer => Buffer.alloc(32, byte);

// Written out field by field from docs/protocol.md "Data layer", big-endian.
const ENTRY_HEADER_HEX = [
  '11'.repeat(32), // chainId
  '0000000102030405', // height 4328719365
  '22'.repeat(32), // previous entry block hash
  '33'.repeat(32), // Merkle root
  '0000001122334455', // first seq 0x1122334455
  '0a0b0c0d', // count 168496141
  '0000018bcfe5687b', // sealed at 1700000000123 ms
].join('');

const DIRECTORY_HEADER_HEX = [
  '0000000000000007', // height 7
  '44'.repeat(32), // previous directory hash
  '55'.repeat(32), // Merkle root
  '00000003', // count 3
  '0000018bcfe5687b', // sealed at
].join('');

describe('entry block header', () => {
  const header = {
    chainId: fill(0x11),
    height: 4328719365,
    prevHash: fill(0x22),
    root: fill(0x33),
    firstSeq: 0x1122334455,
    count: 168496141,
    sealedAt: 1_700_000_000_123,
  };

  it('encodes to the exact 124 bytes', () => {
    const bytes = encodeEntryBlockHeader(header);
    expect(bytes.length).toBe(ENTRY_BLOCK_HEADER_BYTES);
    expect(bytes.toString('hex')).toBe(ENTRY_HEADER_HEX);
  });

  it('decodes back', () => {
    expect(decodeEntryBlockHeader(Buffer.from(ENTRY_HEADER_HEX, 'hex'))).toEqual(header);
  });

  it('refuses what it cannot represent', () => {
    expect(() => encodeEntryBlockHeader({ ...header, height: 2 ** 53 })).toThrow(RangeError);
    expect(() => encodeEntryBlockHeader({ ...header, firstSeq: -1 })).toThrow(RangeError);
    expect(() => encodeEntryBlockHeader({ ...header, count: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodeEntryBlockHeader({ ...header, root: Buffer.alloc(31) })).toThrow(RangeError);
    expect(() => decodeEntryBlockHeader(Buffer.alloc(123))).toThrow(RangeError);
    const huge = Buffer.from(ENTRY_HEADER_HEX, 'hex');
    huge.fill(0xff, 32, 40);
    expect(() => decodeEntryBlockHeader(huge)).toThrow(/2\^53/);
  });
});

describe('directory header', () => {
  const header = { height: 7, prevHash: fill(0x44), root: fill(0x55), count: 3, sealedAt: 1_700_000_000_123 };

  it('encodes to the exact 84 bytes and decodes back', () => {
    const bytes = encodeDirectoryHeader(header);
    expect(bytes.length).toBe(DIRECTORY_HEADER_BYTES);
    expect(bytes.toString('hex')).toBe(DIRECTORY_HEADER_HEX);
    expect(decodeDirectoryHeader(bytes)).toEqual(header);
    expect(() => decodeDirectoryHeader(Buffer.alloc(85))).toThrow(RangeError);
  });
});

describe('ids and directory leaves', () => {
  it('chainId is SHA-256 of the UTF-8 name', () => {
    expect(chainIdOf('bank-1').toString('hex')).toBe('5436e7948ad1df5d02e9d2e310ab6cc9b60f3055d093d69ae1fb32a525738982');
  });

  it('directory leaf data is SHA-256(chainId ‖ blockHash)', () => {
    // Python: hashlib.sha256(b'\x11' * 32 + b'\x22' * 32).hexdigest()
    expect(directoryLeafData(fill(0x11), fill(0x22)).toString('hex')).toBe('5189c77d29fe5d546a045ec46986852785fea5c13ac7da9c115ff5fb6edf817c');
  });
});

// Checks an entry proof from `GET /v1/chains/{name}/entries/{seq}` trusting nothing
// the server says: every hash is recomputed here with node:crypto. Deliberately
// independent of src/ledger's code (only src/protocol's constants and JSON types are shared), so a bug in
// the ledger's Merkle code cannot also hide in the check of it.
import { createHash } from 'node:crypto';
import {
  DIRECTORY_HEADER, ENTRY_BLOCK_HEADER, HASH_BYTES, MERKLE_LEAF_PREFIX, MERKLE_NODE_PREFIX,
  type DirectoryProof, type EntryProof,
} from '../protocol/index.js';
import { anchorProblem } from './anchor.js';

export type { DirectoryProof, EntryProof } from '../protocol/index.js';

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** What the caller already knows and wants the proof bound to. */
export interface ExpectedEntry {
  chain?: string;
  seq?: number;
  /** Hex entry hash, e.g. from the `accepted` reply. */
  hash?: string;
  /** Hex directory hash from a trusted anchor. */
  directoryHash?: string;
}

class Broken extends Error {}

function broken(reason: string): never {
  throw new Broken(reason);
}

export function verifyEntry(proof: EntryProof, expected: ExpectedEntry = {}): VerifyResult {
  try {
    checkExpected(proof, expected);
    const entryHash = checkContent(proof);
    checkChainId(proof);
    checkBlockPath(proof, entryHash);
    checkEntryHeader(proof);
    if (proof.directory !== undefined) checkDirectory(proof, proof.directory);
    const anchored = proof.anchor === undefined ? null : anchorProblem(proof, proof.anchor, (leaf, i, n, path) => rootFromPath(sha256(Buffer.from([MERKLE_LEAF_PREFIX]), leaf), i, n, path.map((p) => Buffer.from(p))));
    if (anchored !== null) broken(anchored);
    return { ok: true };
  } catch (error) {
    if (error instanceof Broken) return { ok: false, reason: error.message };
    return { ok: false, reason: `malformed proof: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return h.digest();
}

function hexBytes(value: unknown, bytes: number, field: string): Buffer {
  if (typeof value !== 'string' || value.length !== bytes * 2 || !/^[0-9a-f]*$/i.test(value)) broken(`${field} is not ${bytes} bytes of hex`);
  return Buffer.from(value, 'hex');
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) broken(`${field} is not a non-negative integer`);
  return value;
}

function checkExpected(proof: EntryProof, expected: ExpectedEntry): void {
  if (expected.chain !== undefined && proof.chain !== expected.chain) broken(`proof is for chain ${JSON.stringify(proof.chain)}, not ${JSON.stringify(expected.chain)}`);
  if (expected.seq !== undefined && proof.seq !== expected.seq) broken(`proof is for seq ${proof.seq}, not ${expected.seq}`);
  if (expected.hash !== undefined && String(proof.hash).toLowerCase() !== expected.hash.toLowerCase()) broken('entry hash differs from the expected one');
  if (expected.directoryHash === undefined) return;
  if (proof.directory === undefined) broken('proof has no directory but a trusted directory hash was given');
  if (String(proof.directory.hash).toLowerCase() !== expected.directoryHash.toLowerCase()) broken('directory hash differs from the trusted one');
}

function checkContent(proof: EntryProof): Buffer {
  if (typeof proof.content !== 'string') broken('content is not a base64 string');
  const content = Buffer.from(proof.content, 'base64');
  // Buffer's base64 decoder skips junk; only a canonical encoding is accepted.
  if (content.toString('base64') !== proof.content) broken('content is not canonical base64');
  const entryHash = sha256(content);
  if (!entryHash.equals(hexBytes(proof.hash, HASH_BYTES, 'hash'))) broken('entry hash is not SHA-256 of the content');
  return entryHash;
}

function checkChainId(proof: EntryProof): void {
  if (typeof proof.chain !== 'string') broken('chain is not a string');
  if (!sha256(Buffer.from(proof.chain, 'utf8')).equals(hexBytes(proof.chainId, HASH_BYTES, 'chainId'))) broken('chainId is not SHA-256 of the chain name');
}

function checkBlockPath(proof: EntryProof, entryHash: Buffer): void {
  const leaf = sha256(Buffer.from([MERKLE_LEAF_PREFIX]), entryHash);
  const root = rootFromPath(leaf, count(proof.index, 'index'), count(proof.count, 'count'), pathOf(proof.path, 'path'));
  if (root === null) broken('audit path does not fit index and count');
  if (!root.equals(hexBytes(proof.root, HASH_BYTES, 'root'))) broken('audit path does not reproduce the block root');
}

function checkEntryHeader(proof: EntryProof): void {
  const at = ENTRY_BLOCK_HEADER;
  const header = hexBytes(proof.header, at.bytes, 'header');
  if (!sha256(header).equals(hexBytes(proof.blockHash, HASH_BYTES, 'blockHash'))) broken('blockHash is not SHA-256 of the header');
  if (!hashAt(header, at.chainId).equals(hexBytes(proof.chainId, HASH_BYTES, 'chainId'))) broken('header chainId differs from chainId');
  if (readU64(header, at.height) !== count(proof.height, 'height')) broken('header height differs from height');
  if (!hashAt(header, at.root).equals(hexBytes(proof.root, HASH_BYTES, 'root'))) broken('header root differs from root');
  const firstSeq = readU64(header, at.firstSeq);
  if (header.readUInt32BE(at.count) !== proof.count) broken('header count differs from count');
  if (firstSeq + proof.index !== count(proof.seq, 'seq')) broken('header firstSeq + index is not seq');
}

function checkDirectory(proof: EntryProof, directory: DirectoryProof): void {
  const at = DIRECTORY_HEADER;
  const header = hexBytes(directory.header, at.bytes, 'directory.header');
  if (!sha256(header).equals(hexBytes(directory.hash, HASH_BYTES, 'directory.hash'))) broken('directory.hash is not SHA-256 of directory.header');
  const root = hexBytes(directory.root, HASH_BYTES, 'directory.root');
  if (readU64(header, at.height) !== count(directory.height, 'directory.height')) broken('directory header height differs from directory.height');
  if (!hashAt(header, at.root).equals(root)) broken('directory header root differs from directory.root');
  if (header.readUInt32BE(at.count) !== count(directory.count, 'directory.count')) broken('directory header count differs from directory.count');
  const leafData = sha256(hexBytes(proof.chainId, HASH_BYTES, 'chainId'), hexBytes(proof.blockHash, HASH_BYTES, 'blockHash'));
  const computed = rootFromPath(sha256(Buffer.from([MERKLE_LEAF_PREFIX]), leafData), count(directory.index, 'directory.index'), directory.count, pathOf(directory.path, 'directory.path'));
  if (computed === null) broken('directory path does not fit directory index and count');
  if (!computed.equals(root)) broken('directory path does not reproduce the directory root');
}

function pathOf(value: unknown, field: string): Buffer[] {
  if (!Array.isArray(value)) broken(`${field} is not an array`);
  return value.map((p: unknown, i) => hexBytes(p, HASH_BYTES, `${field}[${i}]`));
}

function hashAt(bytes: Buffer, at: number): Buffer {
  return bytes.subarray(at, at + HASH_BYTES);
}

function readU64(bytes: Buffer, at: number): number {
  const value = bytes.readBigUInt64BE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) broken('a header integer is beyond 2^53');
  return Number(value);
}

// RFC 9162 §2.1.3.2, returning the reproduced root (null when the path cannot fit).
function rootFromPath(leaf: Buffer, index: number, size: number, path: readonly Buffer[]): Buffer | null {
  if (index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  const node = Buffer.from([MERKLE_NODE_PREFIX]);
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = sha256(node, p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = sha256(node, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

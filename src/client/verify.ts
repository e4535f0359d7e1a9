// Checks an entry proof from `GET /v1/chains/{name}/entries/{seq}` trusting nothing
// the server says: every hash is recomputed here. Deliberately independent of
// src/ledger's code (only src/protocol's constants and JSON types are shared),
// so a bug in the ledger's Merkle code cannot also hide in the check of it.
//
// Runs in Node and in browsers: no Buffer, no node:crypto. The checks are
// written once, as a generator that yields each SHA-256 it needs; verifyEntry
// answers them synchronously with @noble/hashes, verifyEntrySteps with any
// (possibly asynchronous) SHA-256 such as WebCrypto's, reporting every step so
// a page can show the walk from the content up to the directory hash.
import { sha256 as nobleSha256 } from '@noble/hashes/sha2';
import {
  DIRECTORY_HEADER,
  ENTRY_BLOCK_HEADER,
  HASH_BYTES,
  MERKLE_LEAF_PREFIX,
  type DirectoryProof,
  type EntryProof,
  type HeadProof,
  type SignedHead,
} from '../protocol/index.js';
import { anchorProblem } from './anchor.js';
import { concat, equal, toHex } from './bytes.js';
import { headSignatureProblem, keyFingerprint, type PublicKey } from './heads.js';
import type { VerifyResult } from './result.js';

export type { VerifyResult } from './result.js';
import { pathRoot, rootFromPath, type HashWalk } from './tree.js';

export type { DirectoryProof, EntryProof } from '../protocol/index.js';

/** What the caller already knows and wants the proof bound to. */
export interface ExpectedEntry {
  chain?: string;
  seq?: number;
  /** Hex entry hash, e.g. from the `accepted` reply. */
  hash?: string;
  /** Hex directory hash from a trusted anchor. */
  directoryHash?: string;
  /** The gateway's public key the caller trusts: the proof's `head` part must be a head signed by it. */
  key?: PublicKey;
  /** A head the caller trusts (checked before, e.g. with verifyHead): the proof's `head` part must be that head (ask with `?head=SIZE`). */
  head?: Pick<SignedHead, 'size' | 'root'>;
}

/** One check that passed: what was computed, and the hex value it reproduced. */
export interface VerifyStep {
  what: string;
  value: string;
}

/** A SHA-256 of `data`, synchronous or not (WebCrypto's is a promise). */
export type Sha256 = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

class Broken extends Error {}

function broken(reason: string): never {
  throw new Broken(reason);
}

type Checks = HashWalk<void>;
type Report = (step: VerifyStep) => void;

export function verifyEntry(proof: EntryProof, expected: ExpectedEntry = {}): VerifyResult {
  return outcome(() => {
    const checks = proofChecks(proof, expected, () => undefined);
    for (let request = checks.next(); !request.done; request = checks.next(nobleSha256(concat(request.value))));
  });
}

/**
 * The same checks with a SHA-256 of the caller's (a browser passes WebCrypto's),
 * `onStep` told of each one as it passes; the result names the first that fails.
 */
export async function verifyEntrySteps(proof: EntryProof, sha256: Sha256, onStep: Report, expected: ExpectedEntry = {}): Promise<VerifyResult> {
  try {
    const checks = proofChecks(proof, expected, onStep);
    for (let request = checks.next(); !request.done; request = checks.next(await sha256(concat(request.value))));
    return { ok: true };
  } catch (error) {
    return failure(error);
  }
}

function outcome(run: () => void): VerifyResult {
  try {
    run();
    return { ok: true };
  } catch (error) {
    return failure(error);
  }
}

function failure(error: unknown): VerifyResult {
  if (error instanceof Broken) return { ok: false, reason: error.message };
  return { ok: false, reason: `malformed proof: ${error instanceof Error ? error.message : String(error)}` };
}

function* proofChecks(proof: EntryProof, expected: ExpectedEntry, report: Report): Checks {
  checkExpected(proof, expected);
  const entryHash = yield* checkContent(proof, report);
  yield* checkChainId(proof, report);
  yield* checkBlockPath(proof, entryHash, report);
  yield* checkEntryHeader(proof, report);
  if (proof.directory !== undefined) yield* checkDirectory(proof, proof.directory, report);
  if (proof.head !== undefined) yield* checkHead(proof, proof.head, expected, report);
  if (proof.anchor !== undefined) checkAnchor(proof, proof.anchor, report);
}

/**
 * The head part: the directory hash's path up to the root of the log of
 * `head.size` and, with a trusted key, the gateway's signature of that head.
 */
function* checkHead(proof: EntryProof, head: HeadProof, expected: ExpectedEntry, report: Report): Checks {
  if (proof.directory === undefined) broken('proof has a head part but no directory part');
  const size = count(head.size, 'head.size');
  const root = hexBytes(head.root, HASH_BYTES, 'head.root');
  const height = count(proof.directory.height, 'directory.height');
  const leaf = yield [new Uint8Array([MERKLE_LEAF_PREFIX]), hexBytes(proof.directory.hash, HASH_BYTES, 'directory.hash')];
  const path = pathOf(head.path, 'head.path');
  const computed = yield* rootFromPath(leaf, height, size, path);
  if (computed === null) broken('head path does not fit directory.height and head.size');
  if (!equal(computed, root)) broken('head path does not lead to head.root');
  report({ what: `directory log root of size ${size} from directory hash ${height} and ${path.length} path hashes`, value: toHex(root) });
  if (expected.key === undefined) return;
  if (head.time === undefined || head.signature === undefined) broken(`the gateway signed no head of size ${size}`);
  const problem = headSignatureProblem({ size, time: head.time, root: head.root, signature: head.signature }, expected.key);
  if (problem !== null) broken(problem);
  report({ what: `head of size ${size} signed at ${new Date(head.time).toISOString()} by key ${keyFingerprint(expected.key)}`, value: String(head.signature) });
}

/**
 * The anchor part, offline: the directory hash's path up to the window root
 * carried in the transaction (anchor.ts). Its few hashes are computed with
 * @noble/hashes whatever SHA-256 the caller gave, since anchorProblem walks
 * the path synchronously.
 */
function checkAnchor(proof: EntryProof, anchor: NonNullable<EntryProof['anchor']>, report: Report): void {
  const problem = anchorProblem(proof, anchor, pathRoot);
  if (problem !== null) broken(problem);
  report({
    what: `anchor window root from the directory hash, leaf ${anchor.window.index} of ${anchor.window.count} (directories ${anchor.window.first}–${anchor.window.last})`,
    value: String(anchor.window.root),
  });
}

function hexBytes(value: unknown, bytes: number, field: string): Uint8Array {
  if (typeof value !== 'string' || value.length !== bytes * 2 || !/^[0-9a-f]*$/i.test(value)) broken(`${field} is not ${bytes} bytes of hex`);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = parseInt(value.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) broken(`${field} is not a non-negative integer`);
  return value;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Only the canonical encoding is accepted: no junk, no whitespace, zero padding bits. */
function base64Bytes(text: string): Uint8Array {
  if (!BASE64.test(text)) broken('content is not canonical base64');
  const binary = atob(text);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (btoa(binary) !== text) broken('content is not canonical base64');
  return bytes;
}

function checkExpected(proof: EntryProof, expected: ExpectedEntry): void {
  if (expected.chain !== undefined && proof.chain !== expected.chain)
    broken(`proof is for chain ${JSON.stringify(proof.chain)}, not ${JSON.stringify(expected.chain)}`);
  if (expected.seq !== undefined && proof.seq !== expected.seq) broken(`proof is for seq ${proof.seq}, not ${expected.seq}`);
  if (expected.hash !== undefined && String(proof.hash).toLowerCase() !== expected.hash.toLowerCase()) broken('entry hash differs from the expected one');
  if ((expected.key !== undefined || expected.head !== undefined) && proof.head === undefined)
    broken('proof has no head part but a trusted key or head was given (ask with ?head=latest or ?head=SIZE)');
  if (expected.head !== undefined && (proof.head?.size !== expected.head.size || String(proof.head.root).toLowerCase() !== expected.head.root.toLowerCase())) {
    broken(`proof's head (size ${proof.head?.size}) is not the trusted head of size ${expected.head.size}`);
  }
  if (expected.directoryHash === undefined) return;
  if (proof.directory === undefined) broken('proof has no directory but a trusted directory hash was given');
  if (String(proof.directory.hash).toLowerCase() !== expected.directoryHash.toLowerCase()) broken('directory hash differs from the trusted one');
}

function* checkContent(proof: EntryProof, report: Report): Generator<Uint8Array[], Uint8Array, Uint8Array> {
  if (typeof proof.content !== 'string') broken('content is not a base64 string');
  const entryHash = yield [base64Bytes(proof.content)];
  if (!equal(entryHash, hexBytes(proof.hash, HASH_BYTES, 'hash'))) broken('entry hash is not SHA-256 of the content');
  report({ what: 'entry hash = SHA-256(content)', value: toHex(entryHash) });
  return entryHash;
}

function* checkChainId(proof: EntryProof, report: Report): Checks {
  if (typeof proof.chain !== 'string') broken('chain is not a string');
  const chainId = yield [new TextEncoder().encode(proof.chain)];
  if (!equal(chainId, hexBytes(proof.chainId, HASH_BYTES, 'chainId'))) broken('chainId is not SHA-256 of the chain name');
  report({ what: 'chainId = SHA-256(chain name)', value: toHex(chainId) });
}

function* checkBlockPath(proof: EntryProof, entryHash: Uint8Array, report: Report): Checks {
  const leaf = yield [new Uint8Array([MERKLE_LEAF_PREFIX]), entryHash];
  const root = yield* rootFromPath(leaf, count(proof.index, 'index'), count(proof.count, 'count'), pathOf(proof.path, 'path'));
  if (root === null) broken('audit path does not fit index and count');
  if (!equal(root, hexBytes(proof.root, HASH_BYTES, 'root'))) broken('audit path does not reproduce the block root');
  report({ what: `block Merkle root from leaf ${proof.index} of ${proof.count} and ${proof.path.length} path hashes`, value: toHex(root) });
}

function* checkEntryHeader(proof: EntryProof, report: Report): Checks {
  const at = ENTRY_BLOCK_HEADER;
  const header = hexBytes(proof.header, at.bytes, 'header');
  const blockHash = yield [header];
  if (!equal(blockHash, hexBytes(proof.blockHash, HASH_BYTES, 'blockHash'))) broken('blockHash is not SHA-256 of the header');
  if (!equal(hashAt(header, at.chainId), hexBytes(proof.chainId, HASH_BYTES, 'chainId'))) broken('header chainId differs from chainId');
  if (readU64(header, at.height) !== count(proof.height, 'height')) broken('header height differs from height');
  if (!equal(hashAt(header, at.root), hexBytes(proof.root, HASH_BYTES, 'root'))) broken('header root differs from root');
  const firstSeq = readU64(header, at.firstSeq);
  if (readU32(header, at.count) !== proof.count) broken('header count differs from count');
  if (firstSeq + proof.index !== count(proof.seq, 'seq')) broken('header firstSeq + index is not seq');
  report({ what: `entry block hash = SHA-256(header of block ${proof.height}: chainId, height, root, seq and count match)`, value: toHex(blockHash) });
}

function* checkDirectory(proof: EntryProof, directory: DirectoryProof, report: Report): Checks {
  const at = DIRECTORY_HEADER;
  const header = hexBytes(directory.header, at.bytes, 'directory.header');
  const hash = yield [header];
  if (!equal(hash, hexBytes(directory.hash, HASH_BYTES, 'directory.hash'))) broken('directory.hash is not SHA-256 of directory.header');
  const root = hexBytes(directory.root, HASH_BYTES, 'directory.root');
  if (readU64(header, at.height) !== count(directory.height, 'directory.height')) broken('directory header height differs from directory.height');
  if (!equal(hashAt(header, at.root), root)) broken('directory header root differs from directory.root');
  if (readU32(header, at.count) !== count(directory.count, 'directory.count')) broken('directory header count differs from directory.count');
  const leafData = yield [hexBytes(proof.chainId, HASH_BYTES, 'chainId'), hexBytes(proof.blockHash, HASH_BYTES, 'blockHash')];
  const leaf = yield [new Uint8Array([MERKLE_LEAF_PREFIX]), leafData];
  const computed = yield* rootFromPath(leaf, count(directory.index, 'directory.index'), directory.count, pathOf(directory.path, 'directory.path'));
  if (computed === null) broken('directory path does not fit directory index and count');
  if (!equal(computed, root)) broken('directory path does not reproduce the directory root');
  // Reported in the order of the walk up: the tree first, then the header that holds its root.
  report({ what: `directory Merkle root from SHA-256(chainId ‖ block hash), leaf ${directory.index} of ${directory.count}`, value: toHex(computed) });
  report({ what: `directory hash = SHA-256(header of directory block ${directory.height})`, value: toHex(hash) });
}

function pathOf(value: unknown, field: string): Uint8Array[] {
  if (!Array.isArray(value)) broken(`${field} is not an array`);
  return value.map((p: unknown, i) => hexBytes(p, HASH_BYTES, `${field}[${i}]`));
}

function hashAt(bytes: Uint8Array, at: number): Uint8Array {
  return bytes.subarray(at, at + HASH_BYTES);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readU32(bytes: Uint8Array, at: number): number {
  return view(bytes).getUint32(at);
}

function readU64(bytes: Uint8Array, at: number): number {
  const value = view(bytes).getBigUint64(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) broken('a header integer is beyond 2^53');
  return Number(value);
}

// Blocks a gateway adopted from another gateway of its fleet (a handoff,
// DESIGN.md "Fleet"): each keeps its record bytes and the directory proof its
// sealing gateway made, naming that gateway. They sit in `blocks` and
// `seqIndex` like any other block (reads find them), with the record's
// directory-height field set to ADOPTED (0xff × 8: "another gateway's
// directory holds it"), and their proof in `ledger.adopted`:
//
//   adopted  chainId(32) ‖ height u64 → JSON {gateway: {id, key}, directory: DirectoryProof}
//
// A block is checked before it is stored: its header names the chain and the
// height that comes next, links to the hash before it, its entries hash to
// their stored hashes and reproduce its root, and its directory proof places
// SHA-256(chainId ‖ blockHash) under the root of the directory header it
// carries. The directory's own chain (its previous hashes, its anchors) is the
// sealing gateway's to prove, not this store's.
import { firstBadEntry } from './block-check.js';
import { chunkCount, chunkRootsOf, rootOfChunks } from './chunks.js';
import { HASH_BYTES, sha256 } from './hash.js';
import { decodeDirectoryHeader, directoryLeafData, DIRECTORY_HEADER_BYTES, ENTRY_BLOCK_HEADER_BYTES } from './headers.js';
import { leafHash, verifyAuditPath, type RootFunction } from './merkle.js';
import { decodeBlockRecord, RecordFormatError, type BlockRecord } from './records.js';
import type { DirectoryProof } from '../protocol/index.js';

/** Who sealed an adopted block into their directory: the fleet gateway id, and SHA-256 of its store identity (hex). */
export interface SealingGateway {
  id: string;
  key: string;
}

/** What `ledger.adopted` keeps per block, and what an export carries with each block. */
export interface AdoptedProof {
  gateway: SealingGateway;
  directory: DirectoryProof;
}

/** A block as one gateway exports it to another: its record bytes (as stored there) and its directory proof. */
export interface ExportedBlock {
  record: Uint8Array;
  proof: AdoptedProof;
}

/** Where a chain stands before a block: the height, link and seq the block must continue from. */
export interface ChainPosition {
  nextHeight: number;
  nextSeq: number;
  lastBlockHash: Buffer;
}

/** A block refused for adoption: the message names the block and what does not hold. */
export class AdoptionError extends Error {
  override name = 'AdoptionError';
}

/** Offset of the directory-height field in a block record (records.ts: version ‖ header ‖ directory height). */
const DIRECTORY_FIELD_AT = 1 + ENTRY_BLOCK_HEADER_BYTES;

/** A copy of `record` with its directory-height field set to ADOPTED. */
export function markAdopted(record: Uint8Array): Buffer {
  const copy = Buffer.from(record);
  copy.fill(0xff, DIRECTORY_FIELD_AT, DIRECTORY_FIELD_AT + 8);
  return copy;
}

/**
 * Checks one exported block against where the chain stands; returns its
 * decoded record (over a copy marked ADOPTED, ready to store) and its hash.
 */
export function checkAdoptedBlock(
  chainName: string,
  chainId: Buffer,
  at: ChainPosition,
  block: ExportedBlock,
  rootOf: RootFunction,
): { stored: Buffer; record: BlockRecord; blockHash: Buffer } {
  const where = `chain ${JSON.stringify(chainName)} block ${at.nextHeight}`;
  const fail = (problem: string): never => {
    throw new AdoptionError(`${where}: ${problem}`);
  };
  const stored = markAdopted(block.record);
  let record: BlockRecord;
  try {
    record = decodeBlockRecord(stored);
  } catch (error) {
    if (error instanceof RecordFormatError || error instanceof RangeError) fail(error.message);
    throw error;
  }
  const { header } = record;
  if (!header.chainId.equals(chainId)) fail('its header names another chain');
  if (header.height !== at.nextHeight) fail(`its header says height ${header.height}`);
  if (!header.prevHash.equals(at.lastBlockHash)) fail('its previous-block hash does not link to the block before it');
  if (header.firstSeq !== at.nextSeq) fail(`its first seq is ${header.firstSeq}, but seq ${at.nextSeq} comes next`);
  if (header.count < 1) fail('it is empty');
  checkEntries(record, fail);
  const chunkRoots = chunkRootsOf(record.entryHashes, header.count, rootOf);
  if (!chunkRoots.equals(record.chunkRoots)) fail('its stored chunk roots do not match its entry hashes');
  if (!rootOfChunks(chunkRoots, chunkCount(header.count)).equals(header.root)) fail("its entry hashes do not reproduce its header's root");
  const blockHash = sha256(record.headerBytes);
  checkDirectoryProof(chainId, blockHash, block.proof, fail);
  return { stored, record, blockHash };
}

/** Every entry's content hashes to its stored hash (one native call for the block). */
function checkEntries(record: BlockRecord, fail: (problem: string) => never): void {
  const bad = firstBadEntry(record);
  if (bad !== undefined) fail(`seq ${record.header.firstSeq + bad}: its entry hash is not SHA-256 of its content`);
}

const HEX = /^[0-9a-f]*$/;

function hexOf(text: unknown, bytes: number, what: string, fail: (problem: string) => never): Buffer {
  if (typeof text !== 'string' || text.length !== bytes * 2 || !HEX.test(text)) fail(`directory proof: ${what} is not ${bytes} bytes of hex`);
  return Buffer.from(text as string, 'hex');
}

/** The proof places SHA-256(chainId ‖ blockHash) under the root of the directory header it carries. */
export function checkDirectoryProof(chainId: Buffer, blockHash: Buffer, proof: AdoptedProof, fail: (problem: string) => never): void {
  const d = proof.directory;
  const gateway = proof.gateway;
  if (typeof gateway?.id !== 'string' || gateway.id.length === 0 || gateway.id.length > 63)
    fail('the proof does not name the gateway whose directory holds the block');
  hexOf(gateway.key, HASH_BYTES, 'gateway.key', fail);
  const header = hexOf(d?.header, DIRECTORY_HEADER_BYTES, 'header', fail);
  if (!sha256(header).equals(hexOf(d.hash, HASH_BYTES, 'hash', fail))) fail('directory proof: its hash is not SHA-256 of its header');
  const decoded = decodeDirectoryHeader(header);
  const root = hexOf(d.root, HASH_BYTES, 'root', fail);
  if (decoded.height !== d.height || !decoded.root.equals(root) || decoded.count !== d.count)
    fail('directory proof: height, root or count differ from its header');
  if (!Number.isSafeInteger(d.index) || d.index < 0 || d.index >= d.count || !Array.isArray(d.path) || d.path.length > 64)
    fail('directory proof: a bad index or path');
  const path = d.path.map((p, i) => hexOf(p, HASH_BYTES, `path[${i}]`, fail));
  const leaf = leafHash(directoryLeafData(chainId, blockHash));
  if (!verifyAuditPath(leaf, d.index, d.count, path, root)) fail('directory proof: its path does not place the block under the directory root');
}

/** The stored JSON of an adopted block's proof; throws RecordFormatError when it is not one. */
export function decodeAdoptedProof(bytes: Uint8Array): AdoptedProof {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new RecordFormatError(`adopted record: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const proof = value as Partial<AdoptedProof> | null;
  if (typeof proof?.gateway?.id !== 'string' || typeof proof.directory?.header !== 'string')
    throw new RecordFormatError('adopted record: not {gateway, directory}');
  return proof as AdoptedProof;
}

export function encodeAdoptedProof(proof: AdoptedProof): Buffer {
  const { gateway, directory } = proof;
  return Buffer.from(
    JSON.stringify({
      gateway: { id: gateway.id, key: gateway.key },
      directory: {
        height: directory.height,
        index: directory.index,
        count: directory.count,
        path: directory.path,
        root: directory.root,
        header: directory.header,
        hash: directory.hash,
      },
    }),
  );
}

// The standby's check of a seal shipped by its owner (docs/replicas.md part 3):
// the owner's directory record and the records of the entry blocks it lists,
// byte for byte as the owner stored them (Ledger.shippedSeal reads them). What adopted.ts checks for a single
// block (chain, height, link, seq, entries, root, directory proof) holds for
// each; on top, the directory chain itself: the header continues the owner's
// directory chain where the standby has it (height, previous hash), lists
// exactly these blocks in the directory order (chainId, then height), both in
// its header's root (their MTH) and in the record's list of them; the frame
// ids each name a seq of one of these blocks. The standby computes each block's directory proof from
// the whole directory (it holds every leaf), so the blocks are stored in the
// adopted representation and proofs are served from them as they are.
// The signed head and the store's side are replica-store.ts (Ledger.replicate).
//
// A superseded seal (docs/replicas.md part 6) is a directory of the owner's
// whose blocks its own truncation removed after a failover: it comes with its
// directory record, its signed head and the truncation mark, no blocks and no
// frame ids. Its directory still continues the owner's chain and its log (its
// heads may be out), so the standby checks what it can without the blocks —
// the link, the order of the record's list and that the list reproduces the
// header's root — and stores the directory, so the next seal links to it.
import { AdoptionError, checkAdoptedBlock, type AdoptedProof, type ChainPosition, type SealingGateway } from './adopted.js';
import { HASH_BYTES, sha256 } from './hash.js';
import { chainIdOf, compareChainIds, decodeEntryBlockHeader, directoryLeafData } from './headers.js';
import { auditPath, type RootFunction } from './merkle.js';
import { blockRecordHeader, decodeDirectoryRecord, RecordFormatError, type BlockRecord, type DirectoryRecord } from './records.js';
import { decodeFrameIdRow, FrameIdRowError, frameIdRows, splitShippedRows, type StoredFrameId } from './frame-ids.js';
import { truncationMarkProblem, type TruncationMark } from './truncation.js';

/**
 * A seal as the owner ships it, every part as its store holds it: the
 * directory record (version ‖ header ‖ its list of blocks), the directory
 * log's head signed at its size (time ‖ root ‖ signature; null when the
 * owner signed none), each listed block's chain name and record in
 * directory order, and the `ledger.frameIds` rows of those blocks (key ‖
 * value, in key order; empty when no frame carried an id). A superseded
 * directory (its blocks removed by the owner's truncation) comes with its
 * truncation mark, no blocks and no frame ids.
 */
export interface ShippedSeal {
  directory: Uint8Array;
  head: Uint8Array | null;
  blocks: { chain: string; record: Uint8Array }[];
  frameIds: Uint8Array;
  /**
   * The credit books of chains of the seal (authenticated mode), each as the
   * credits module encodes it: stored as they come, the latest per chain, and
   * read at a takeover (docs/replicas.md part 5). The ledger does not read them.
   */
  books?: { chain: string; book: Uint8Array }[];
  /** Present only on a superseded directory: why its blocks are gone (`ledger.truncated`'s by, token, at). */
  superseded?: TruncationMark;
}

/** Where the standby has the owner's directory chain: the next height and the hash of the last directory (zeros before the first). */
export interface DirectoryPosition {
  nextHeight: number;
  lastHash: Buffer;
}

/** A shipped seal refused: the message names the owner, the directory and what does not hold. */
export class ReplicaError extends Error {
  override name = 'ReplicaError';
}

export interface CheckedSealBlock {
  chain: string;
  /** The record marked adopted, ready to store. */
  stored: Buffer;
  record: BlockRecord;
  blockHash: Buffer;
  proof: AdoptedProof;
}

export interface CheckedSeal {
  blocks: CheckedSealBlock[];
  /** The directory record as shipped, decoded. */
  directory: DirectoryRecord;
  /** The frame id rows to store, checked. */
  frameIds: { key: Buffer; value: Buffer }[];
  /** The owner's directory chain after this seal. */
  next: DirectoryPosition;
  /** A superseded directory's mark (no blocks, no frame ids came); absent for a seal with its blocks. */
  superseded?: TruncationMark;
}

/**
 * Checks a shipped seal against where the standby has the owner's directory
 * chain (`at`) and each chain (`chainAt`: the position after the last block
 * it holds). Throws ReplicaError naming the fault; nothing is stored by it.
 */
export function checkShippedSeal(
  owner: SealingGateway,
  at: DirectoryPosition,
  seal: ShippedSeal,
  chainAt: (chain: string) => ChainPosition,
  rootOf: RootFunction,
): CheckedSeal {
  const fail = (problem: string): never => {
    throw new ReplicaError(`seal of gateway ${JSON.stringify(owner.id)} at directory ${at.nextHeight}: ${problem}`);
  };
  const directory = asReplicaError(fail, () => decodeDirectoryRecord(seal.directory), 'its directory record: ');
  const header = directory.header;
  if (header.height !== at.nextHeight) fail(`its directory header says height ${header.height}`);
  if (!header.prevHash.equals(at.lastHash)) fail('its directory header does not link to the directory before it');
  if (directory.entries.length !== header.count) fail(`its directory record lists ${directory.entries.length} blocks and its header ${header.count}`);
  if (seal.superseded !== undefined) return checkSupersededSeal(seal, directory, rootOf, fail);
  if (header.count !== seal.blocks.length || header.count < 1) fail(`its directory lists ${header.count} blocks, and ${seal.blocks.length} came`);
  const leafData = directoryLeaves(seal, directory, fail);
  if (!rootOf(leafData, header.count).equals(header.root)) fail("its blocks do not reproduce the directory header's root");
  const directoryHash = sha256(directory.headerBytes);
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
  const positions = new Map<string, ChainPosition>();
  const blocks = seal.blocks.map(({ chain, record }, index): CheckedSealBlock => {
    const proof: AdoptedProof = {
      gateway: owner,
      directory: {
        height: header.height,
        index,
        count: header.count,
        path: auditPath(leafData, header.count, index, rootOf).map(hex),
        root: hex(header.root),
        header: hex(directory.headerBytes),
        hash: hex(directoryHash),
      },
    };
    const position = positions.get(chain) ?? chainAt(chain);
    const { stored, record: decoded, blockHash } = asReplicaError(fail, () => checkAdoptedBlock(chain, chainIdOf(chain), position, { record, proof }, rootOf));
    const { height, firstSeq, count } = decoded.header;
    positions.set(chain, { nextHeight: height + 1, nextSeq: firstSeq + count, lastBlockHash: blockHash });
    return { chain, stored, record: decoded, blockHash, proof };
  });
  const frameIds = asReplicaError(fail, () => checkFrameIds(seal.frameIds, blocks));
  return { blocks, directory, frameIds, next: { nextHeight: header.height + 1, lastHash: directoryHash } };
}

/**
 * A superseded directory (the owner's truncation removed its blocks): the
 * mark is a truncation mark, nothing of the blocks came (they are not the
 * owner's any more: shipping them, or ids of their entries, would smuggle in
 * what was never committed), and the record's own list is in the directory
 * order and reproduces the header's root. Nothing of any chain moves.
 */
function checkSupersededSeal(seal: ShippedSeal, directory: DirectoryRecord, rootOf: RootFunction, fail: (problem: string) => never): CheckedSeal {
  const mark = seal.superseded!;
  const problem = truncationMarkProblem(mark);
  if (problem !== null) fail(`its truncation mark: ${problem}`);
  if (seal.blocks.length > 0) fail(`it is marked superseded (its blocks removed at token ${mark.token}), and ${seal.blocks.length} blocks came with it`);
  if (seal.frameIds.byteLength > 0) fail(`it is marked superseded (its blocks removed at token ${mark.token}), and frame ids came with it`);
  const { header, entries } = directory;
  if (header.count < 1) fail('its directory lists no block');
  const leafData = Buffer.allocUnsafe(entries.length * HASH_BYTES);
  entries.forEach(({ chainId, height, blockHash }, i) => {
    const before = entries[i - 1];
    const order = before === undefined ? -1 : compareChainIds(before.chainId, chainId) || before.height - height;
    if (order >= 0) fail(`its directory record's entry ${i} is out of the directory's order (chainId, then height)`);
    directoryLeafData(chainId, blockHash).copy(leafData, i * HASH_BYTES);
  });
  if (!rootOf(leafData, header.count).equals(header.root)) fail("its directory record's list does not reproduce the directory header's root");
  const superseded = { by: mark.by, token: mark.token, at: mark.at };
  return { blocks: [], directory, frameIds: [], next: { nextHeight: header.height + 1, lastHash: sha256(directory.headerBytes) }, superseded };
}

/**
 * The directory's leaf data, checking that the blocks come in the directory's
 * order (chainId, then height) and are the ones its record lists.
 */
function directoryLeaves(seal: ShippedSeal, directory: DirectoryRecord, fail: (problem: string) => never): Buffer {
  const leafData = Buffer.allocUnsafe(seal.blocks.length * HASH_BYTES);
  let previous: { chainId: Buffer; height: number } | null = null;
  const hashes = seal.blocks.map(({ record }, i) => {
    const headerBytes = asReplicaError(fail, () => blockRecordHeader(record), `block ${i}: `);
    const { chainId, height } = decodeEntryBlockHeader(headerBytes);
    const order = previous === null ? -1 : compareChainIds(previous.chainId, chainId);
    if (previous !== null && (order > 0 || (order === 0 && previous.height >= height)))
      fail(`block ${i} is out of the directory's order (chainId, then height)`);
    previous = { chainId, height };
    return { chainId, height, blockHash: sha256(headerBytes) };
  });
  hashes.forEach(({ chainId, height, blockHash }, i) => {
    const listed = directory.entries[i]!;
    if (!listed.chainId.equals(chainId) || listed.height !== height || !listed.blockHash.equals(blockHash))
      fail(`its directory record's entry ${i} does not name block ${i}`);
    directoryLeafData(chainId, blockHash).copy(leafData, i * HASH_BYTES);
  });
  return leafData;
}

/**
 * The shipped frame id rows: in key order, each naming a seq of one of the
 * seal's blocks, each block's checked as a seal checks them (frame-ids.ts),
 * so a seal brings at most one id per entry.
 */
function checkFrameIds(bytes: Uint8Array, blocks: readonly CheckedSealBlock[]): { key: Buffer; value: Buffer }[] {
  const rows = splitShippedRows(bytes);
  const entries = blocks.reduce((sum, b) => sum + b.record.header.count, 0);
  if (rows.length > entries) throw new FrameIdRowError(`${rows.length} frame ids came for ${entries} entries`);
  // Rows and blocks are both in (chainId, seq) order: one walk pairs them.
  const byBlock = new Map<CheckedSealBlock, StoredFrameId[]>();
  let b = 0;
  rows.forEach(({ key, value }, i) => {
    if (i > 0 && Buffer.compare(rows[i - 1]!.key, key) >= 0) throw new FrameIdRowError(`frame id row ${i} is not after the one before it`);
    const id = decodeFrameIdRow(key, value);
    const before = (header: BlockRecord['header']) => {
      const order = compareChainIds(header.chainId, id.chainId);
      return order < 0 || (order === 0 && header.firstSeq + header.count <= id.seq);
    };
    while (b < blocks.length && before(blocks[b]!.record.header)) b++;
    const block = blocks[b];
    if (block === undefined || !block.record.header.chainId.equals(id.chainId) || id.seq < block.record.header.firstSeq)
      throw new FrameIdRowError(`frame id row ${i} (seq ${id.seq}) names no entry of this seal's blocks`);
    const ids = byBlock.get(block) ?? [];
    ids.push(id);
    byBlock.set(block, ids);
  });
  return [...byBlock].flatMap(([block, ids]) => {
    const { chainId, firstSeq, count } = block.record.header;
    return frameIdRows(block.chain, chainId, firstSeq, count, ids);
  });
}

/** Runs a check of adopted.ts, records.ts or frame-ids.ts; its refusal becomes this seal's, anything else (a bug) goes on up. */
function asReplicaError<T>(fail: (problem: string) => never, check: () => T, prefix = ''): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof AdoptionError || error instanceof RecordFormatError || error instanceof FrameIdRowError || error instanceof RangeError)
      return fail(prefix + error.message);
    throw error;
  }
}

// Turning one interval's cut entries into blocks, a directory block and the
// records to store — pure, so a failed write leaves nothing to undo: the Ledger
// adopts the plan's new heads only after the transaction is durable.
import { chunkCount, chunkRootsOf, rootOfChunks } from './chunks.js';
import { HASH_BYTES, sha256, zeroHash } from './hash.js';
import { chainIdOf, compareChainIds, encodeDirectoryHeader, encodeEntryBlockHeader } from './headers.js';
import type { RootFunction } from './merkle.js';
import {
  BLOCK_BODY_AT,
  decodeBlockRecord,
  encodeAnchorRecord,
  encodeBlockRecord,
  encodeDirectoryRecord,
  RecordFormatError,
  writeBlockRecordHead,
} from './records.js';
import type { PreparedRecord } from './prepared.js';
import type { AnchorRecord } from './anchors.js';
import { SealInputError } from './errors.js';
import { directoryLeaves } from './roots.js';
import type { ChainHead, DirectoryHead } from './tables.js';
import type { SignedHeadRecord } from './signed-heads.js';
import { FrameIdRowError, frameIdRows, type StoredFrameId } from './frame-ids.js';

export interface SealBlockInput {
  chainName: string;
  /** Must equal the chain's next seq (0 for a new chain). */
  firstSeq: number;
  /** At least 1: a chain with nothing cut this interval is simply left out. */
  count: number;
  /** count × 32 bytes, SHA-256 of each entry's content, in seq order. */
  entryHashes: Uint8Array;
  /** All entries' bytes concatenated. */
  contents: Uint8Array;
  /** count values: exclusive end offset of entry i in `contents`. */
  contentEnds: Uint32Array;
  /** The client frame ids of the frames whose first seq is in this block, ascending (frame-ids.ts); written in the seal. */
  frameIds?: readonly StoredFrameId[];
}

/** A block whose record the caller built (prepared.ts); the ledger writes its head in place. */
export interface PreparedBlockInput {
  chainName: string;
  /** Must equal the chain's next seq (0 for a new chain). */
  firstSeq: number;
  count: number;
  prepared: PreparedRecord;
  /** As SealBlockInput's. */
  frameIds?: readonly StoredFrameId[];
}

export interface SealInput {
  blocks: readonly (SealBlockInput | PreparedBlockInput)[];
  /** Milliseconds since the epoch, written into every header of this seal. */
  sealedAt: number;
}

export interface SealedBlock {
  chainName: string;
  chainId: Buffer;
  height: number;
  firstSeq: number;
  count: number;
  root: Buffer;
  hash: Buffer;
  /** The block record's stored bytes (what a standby receives of it: fleet.maxUnreplicatedBytes counts these). */
  recordBytes: number;
}

export interface SealedDirectory {
  height: number;
  hash: Buffer;
  root: Buffer;
  count: number;
  sealedAt: number;
  /** The directory log's head after this directory, signed in the seal's transaction (with a signer). */
  head?: SignedHeadRecord;
}

/** `directory` is null for an interval with no blocks: nothing is written then. */
export interface SealResult {
  directory: SealedDirectory | null;
  /** In input order. */
  blocks: SealedBlock[];
}

export interface PlannedBlock {
  sealed: SealedBlock;
  record: Buffer;
  isNewChain: boolean;
  nextHead: ChainHead;
  /** `ledger.frameIds` rows of the block's frame ids. */
  frameIds: { key: Buffer; value: Buffer }[];
}

export interface SealPlan {
  /** Ordered by chainId then height, the directory's leaf order. */
  blocks: PlannedBlock[];
  directory: {
    sealed: SealedDirectory;
    record: Buffer;
    anchor: AnchorRecord;
    anchorRecord: Buffer;
    nextHead: DirectoryHead;
  } | null;
  result: SealResult;
}

export interface PlanOptions {
  rootOf: RootFunction;
  /** Re-hash every entry's content and compare with its given hash (costs a second SHA-256 pass). */
  checkEntryHashes?: (contents: Uint8Array, contentEnds: Uint32Array, count: number) => Buffer;
}

export function planSeal(input: SealInput, chainHeads: ReadonlyMap<string, ChainHead>, directoryHead: DirectoryHead, options: PlanOptions): SealPlan {
  checkSealedAt(input.sealedAt);
  const directoryHeight = directoryHead.nextHeight;
  // A chain that filled a block early (ledger.maxBlockEntries) has several
  // consecutive blocks in one interval: each links to the one before it.
  const heads = new Map(chainHeads);
  const planned = input.blocks.map((block) => {
    const plannedBlock = planBlock(block, heads.get(block.chainName), directoryHeight, input.sealedAt, options);
    heads.set(block.chainName, plannedBlock.nextHead);
    return plannedBlock;
  });
  const result: SealResult = { directory: null, blocks: planned.map((p) => p.sealed) };
  if (planned.length === 0) return { blocks: [], directory: null, result };
  const ordered = [...planned].sort(directoryOrder);
  const directory = planDirectory(ordered, directoryHead, input.sealedAt, options.rootOf);
  result.directory = directory.sealed;
  return { blocks: ordered, directory, result };
}

function planBlock(
  input: SealBlockInput | PreparedBlockInput,
  head: ChainHead | undefined,
  directoryHeight: number,
  sealedAt: number,
  options: PlanOptions,
): PlannedBlock {
  const chainId = head?.chainId ?? chainIdOf(input.chainName);
  checkBlockHead(input, head?.nextSeq ?? 0);
  const height = head?.nextHeight ?? 0;
  const body = bodyOf(input, options);
  const root = body.root;
  const header = encodeEntryBlockHeader({
    chainId,
    height,
    prevHash: head?.lastBlockHash ?? zeroHash(),
    root,
    firstSeq: input.firstSeq,
    count: input.count,
    sealedAt,
  });
  const hash = sha256(header);
  const record = body.record(header, directoryHeight);
  let frameIds: PlannedBlock['frameIds'] = [];
  try {
    if (input.frameIds !== undefined) frameIds = frameIdRows(input.chainName, chainId, input.firstSeq, input.count, input.frameIds);
  } catch (error) {
    if (error instanceof FrameIdRowError) throw new SealInputError(`seal: ${error.message}`);
    throw error;
  }
  return {
    // Copies: the caller owns the result, the ledger keeps the heads.
    sealed: {
      chainName: input.chainName,
      chainId: Buffer.from(chainId),
      height,
      firstSeq: input.firstSeq,
      count: input.count,
      root,
      hash: Buffer.from(hash),
      recordBytes: record.length,
    },
    record,
    isNewChain: head === undefined,
    frameIds,
    nextHead: { chainName: input.chainName, chainId, nextHeight: height + 1, nextSeq: input.firstSeq + input.count, lastBlockHash: hash },
  };
}

/** A block's root, and its record once the header is known. */
interface BlockBody {
  root: Buffer;
  record(header: Buffer, directoryHeight: number): Buffer;
}

function bodyOf(input: SealBlockInput | PreparedBlockInput, options: PlanOptions): BlockBody {
  if ('prepared' in input) return { root: input.prepared.root, record: (header, height) => preparedRecord(input, header, height, options) };
  checkBlockInput(input);
  if (options.checkEntryHashes) checkEntryHashes(input, options.checkEntryHashes);
  const chunkRoots = chunkRootsOf(input.entryHashes, input.count, options.rootOf);
  return {
    root: rootOfChunks(chunkRoots, chunkCount(input.count)),
    record: (header, directoryHeight) => encodeBlockRecord({ header, directoryHeight, chunkRoots, ...input }),
  };
}

/** Writes the head into a prepared record and checks that the whole decodes as this block. */
function preparedRecord(input: PreparedBlockInput, header: Buffer, directoryHeight: number, options: PlanOptions): Buffer {
  const { record } = input.prepared;
  const chain = `seal: chain ${JSON.stringify(input.chainName)}`;
  if (record.length < BLOCK_BODY_AT) throw new SealInputError(`${chain}: a prepared record of ${record.length} bytes is too short`);
  writeBlockRecordHead(record, header, directoryHeight);
  let decoded;
  try {
    decoded = decodeBlockRecord(record);
  } catch (error) {
    if (error instanceof RecordFormatError) throw new SealInputError(`${chain}: the prepared record does not decode: ${error.message}`);
    throw error;
  }
  if (options.checkEntryHashes) {
    const contentEnds = Uint32Array.from({ length: input.count }, (_, i) => decoded.span(i)[1]);
    checkEntryHashes({ ...input, entryHashes: decoded.entryHashes, contents: decoded.contents, contentEnds }, options.checkEntryHashes);
  }
  return record;
}

function planDirectory(ordered: readonly PlannedBlock[], head: DirectoryHead, sealedAt: number, rootOf: RootFunction): NonNullable<SealPlan['directory']> {
  const entries = ordered.map((p) => ({ chainId: p.sealed.chainId, height: p.sealed.height, blockHash: p.sealed.hash }));
  const root = rootOf(directoryLeaves(entries), entries.length);
  const height = head.nextHeight;
  const header = encodeDirectoryHeader({ height, prevHash: head.lastHash, root, count: entries.length, sealedAt });
  const hash = sha256(header);
  return {
    sealed: { height, hash: Buffer.from(hash), root, count: ordered.length, sealedAt },
    record: encodeDirectoryRecord(header, entries),
    anchor: { height, hash: Buffer.from(hash), sealedAt },
    anchorRecord: encodeAnchorRecord(hash, sealedAt),
    nextHead: { nextHeight: height + 1, lastHash: hash },
  };
}

function checkSealedAt(sealedAt: number): void {
  if (!Number.isSafeInteger(sealedAt) || sealedAt < 0) throw new SealInputError(`seal: sealedAt must be a non-negative integer of ms, got ${sealedAt}`);
}

/** The directory's leaf order: by chainId, then height. */
function directoryOrder(a: PlannedBlock, b: PlannedBlock): number {
  return compareChainIds(a.sealed.chainId, b.sealed.chainId) || a.sealed.height - b.sealed.height;
}

function checkBlockHead(b: SealBlockInput | PreparedBlockInput, nextSeq: number): void {
  const chain = `seal: chain ${JSON.stringify(b.chainName)}`;
  const nameBytes = Buffer.byteLength(b.chainName, 'utf8');
  if (nameBytes < 1 || nameBytes > 1024) throw new SealInputError(`${chain}: name must be 1–1024 UTF-8 bytes`);
  if (b.firstSeq !== nextSeq) throw new SealInputError(`${chain}: firstSeq ${b.firstSeq} but the chain's next seq is ${nextSeq}`);
  if (!Number.isInteger(b.count) || b.count < 1 || b.count > 0xffff_ffff) throw new SealInputError(`${chain}: count must be an integer ≥ 1, got ${b.count}`);
}

function checkBlockInput(b: SealBlockInput): void {
  const chain = `seal: chain ${JSON.stringify(b.chainName)}`;
  if (b.entryHashes.length !== b.count * HASH_BYTES)
    throw new SealInputError(`${chain}: entryHashes has ${b.entryHashes.length} bytes, expected ${b.count} × 32`);
  if (b.contentEnds.length !== b.count) throw new SealInputError(`${chain}: contentEnds has ${b.contentEnds.length} values, expected ${b.count}`);
  checkContentEnds(b, chain);
}

function checkContentEnds(b: SealBlockInput, chain: string): void {
  let previous = 0;
  for (let i = 0; i < b.count; i++) {
    const end = b.contentEnds[i] ?? -1;
    if (end < previous) throw new SealInputError(`${chain}: contentEnds decrease at entry ${i}`);
    previous = end;
  }
  if (previous !== b.contents.length) throw new SealInputError(`${chain}: last content end ${previous} but contents has ${b.contents.length} bytes`);
}

function checkEntryHashes(b: SealBlockInput, hashAll: NonNullable<PlanOptions['checkEntryHashes']>): void {
  const actual = hashAll(b.contents, b.contentEnds, b.count);
  if (actual.equals(b.entryHashes)) return;
  for (let i = 0; i < b.count; i++) {
    const at = i * HASH_BYTES;
    if (!actual.subarray(at, at + HASH_BYTES).equals(b.entryHashes.subarray(at, at + HASH_BYTES))) {
      throw new SealInputError(`seal: chain ${JSON.stringify(b.chainName)} seq ${b.firstSeq + i}: entry hash is not SHA-256 of its content`);
    }
  }
}

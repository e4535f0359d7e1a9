// The returning owner's truncation (docs/replicas.md part 6), the writer's
// side of Ledger.truncateUnreplicated. When this gateway's standby took its
// chains over having acknowledged its seals up to directory n, the entry
// blocks this gateway sealed into its own directories > n were never
// reported `committed`: they go, in one transaction —
//
//   - from `blocks`, `seqIndex` and `frameIds` (each chain's head goes back
//     to its last block at or below n);
//   - `ledger.truncated` height u64 → JSON {by, token, at, blocks: [[chain,
//     height]…]}: the directories > n stay (their signed heads may be out,
//     and rewriting them is what signed heads catch), and this row says why
//     the blocks they list are gone;
//   - `ledger.truncatedRanges` chainId ‖ firstSeq u64 → JSON, one row per
//     chain and truncation: the heights, seqs and directories removed, so a
//     read of a gone entry or block names the truncation (a seq finds its
//     row by the last key ≤ (chainId, seq), as the seq index does).
//
// The caller's `alongside` writes other modules' tables in the same
// transaction (the credits refund the removed blocks' burns).
import { sha256, zeroHash } from './hash.js';
import { decodeEntryBlockHeader } from './headers.js';
import { blockRecordHeader, chainKey, decodeBlockRecord, decodeDirectoryRecord, heightKey, readU64, RecordFormatError } from './records.js';
import { LedgerCorruptionError, type LedgerPlace } from './errors.js';
import { lastKeyOfChain, type ChainHead, type DirectoryHead, type LedgerTables } from './tables.js';

/** What the returning owner learnt from the fleet's `takeover/{g}` record. */
export interface TruncationRequest {
  /** The directory height the standby had acknowledged: blocks of this gateway's directories above it go. −1: every one. */
  after: number;
  /** The gateway that took the chains over. */
  by: string;
  /** The fencing token (etcd revision) of the takeover. */
  token: number;
  /** When (ms since the epoch); default now. */
  at?: number;
}

/** Why a directory's blocks are gone: `ledger.truncated`'s row. */
export interface TruncationMark {
  by: string;
  token: number;
  at: number;
}

/** One chain's removed blocks. */
export interface TruncatedChain {
  chain: string;
  /** Block heights removed, [from, to] inclusive. */
  blocks: { from: number; to: number };
  entries: number;
  /** Seqs removed, [from, end). */
  seqs: { from: number; end: number };
  /** The directories that listed them, [from, to] inclusive. */
  directories: { from: number; to: number };
  /** Where the chain stands now: its next height and seq, and its last block's hash (hex; zeros for none). */
  head: { nextHeight: number; nextSeq: number; lastBlockHash: string };
}

/** What a truncation removed; `chains` is empty when there was nothing to remove (a repeat, or n at or above the last directory). */
export interface TruncationResult extends TruncationMark {
  after: number;
  /** Directories newly marked superseded (their blocks listed in `ledger.truncated`). */
  directories: number;
  blocks: number;
  entries: number;
  chains: TruncatedChain[];
}

/** A removed block, for other modules' writes in the same transaction (its burns). */
export interface RemovedBlock {
  chainName: string;
  height: number;
  firstSeq: number;
  count: number;
  directoryHeight: number;
}

/** A truncation refused before anything was written: the message says why. */
export class TruncationError extends Error {
  override name = 'TruncationError';
}

/** A read of an entry or block a truncation removed: answered as not found, naming the truncation. */
export class SupersededError extends Error {
  override name = 'SupersededError';
}

/** The first words of every SupersededError's message, so a message that crossed a thread is still recognised. */
export const SUPERSEDED = 'superseded by failover';

interface PlannedChain {
  chainName: string;
  chainId: Buffer;
  blocks: RemovedBlock[];
  head: ChainHead;
  frameIdKeys: Buffer[];
}

export interface TruncationPlan {
  mark: TruncationMark;
  after: number;
  /** Directory height → its blocks as [chain, height], for `ledger.truncated`. */
  directories: Map<number, [string, number][]>;
  chains: PlannedChain[];
}

const MAX_BY_BYTES = 256;

export function checkTruncationRequest(request: TruncationRequest): TruncationMark & { after: number } {
  const { after, by, token } = request;
  const at = request.at ?? Date.now();
  if (!Number.isSafeInteger(after) || after < -1) throw new TruncationError(`truncate: "after" must be a directory height (an integer ≥ −1), got ${after}`);
  const problem = truncationMarkProblem({ by, token, at });
  if (problem !== null) throw new TruncationError(`truncate: ${problem}`);
  return { after, by, token, at };
}

/**
 * Why `mark` is not a truncation mark (by: 1–256 UTF-8 bytes, token and at:
 * integers ≥ 0), or null. The one bound of a mark: a truncation request, and
 * a superseded seal's mark from the network (replica.ts, the replica stream), are checked by it.
 */
export function truncationMarkProblem(mark: unknown): string | null {
  if (typeof mark !== 'object' || mark === null) return 'it is not {by, token, at}';
  const { by, token, at } = mark as { by?: unknown; token?: unknown; at?: unknown };
  if (typeof by !== 'string' || by.length === 0 || Buffer.byteLength(by, 'utf8') > MAX_BY_BYTES)
    return `"by" must name the gateway that took over (1–${MAX_BY_BYTES} UTF-8 bytes)`;
  if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 0)
    return `"token" must be the takeover's fencing token (an integer ≥ 0), got ${String(token)}`;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return `"at" must be a time in ms (an integer ≥ 0), got ${String(at)}`;
  return null;
}

/**
 * Reads what the truncation removes: every block still stored as sealed in a
 * directory above `after` that no earlier truncation marked. A chain whose
 * removed blocks are not its last ones (blocks adopted on top of them) is
 * refused: its head could not go back without dropping another gateway's blocks.
 */
export function planTruncation(
  tables: LedgerTables,
  request: TruncationRequest,
  directoryHead: DirectoryHead,
  chainNames: (chainId: Buffer) => string | undefined,
): TruncationPlan {
  const { after, ...mark } = checkTruncationRequest(request);
  const directories = new Map<number, [string, number][]>();
  const byChain = new Map<string, { chainId: Buffer; blocks: RemovedBlock[] }>();
  for (let height = after + 1; height < directoryHead.nextHeight; height++) {
    if (tables.truncated.doesExist(heightKey(height))) {
      // Marked by this very takeover: it ran already, and what was sealed after it is not its to remove.
      if (truncationOfDirectory(tables, height)?.token === mark.token) return { mark, after, directories: new Map(), chains: [] };
      continue;
    }
    const place = { directoryHeight: height };
    const bytes = tables.directories.get(heightKey(height));
    if (bytes === undefined) throw new LedgerCorruptionError(place, 'missing below the directory head');
    const record = corruptUnless(() => decodeDirectoryRecord(bytes), place);
    const listed: [string, number][] = [];
    for (const entry of record.entries) {
      const chainName = chainNames(entry.chainId) ?? fail(place, `lists a block of unknown chain ${entry.chainId.toString('hex')}`);
      // Not copied (a block may be megabytes): only its header's numbers and hash are kept, before the next read.
      const stored = tables.blocks.getBinaryFast(chainKey(entry.chainId, entry.height));
      if (stored === undefined) fail(place, `lists block ${entry.height} of chain ${JSON.stringify(chainName)}, which is not in the store`);
      const block = corruptUnless(() => decodeBlockRecord(stored), { ...place, chain: chainName, height: entry.height });
      if (block.directoryHeight !== height || !sha256(block.headerBytes).equals(entry.blockHash))
        fail(place, `lists block ${entry.height} of chain ${JSON.stringify(chainName)}, but the store holds another block there`);
      listed.push([chainName, entry.height]);
      const removed = byChain.get(chainName) ?? { chainId: entry.chainId, blocks: [] };
      removed.blocks.push({ chainName, height: entry.height, firstSeq: block.header.firstSeq, count: block.header.count, directoryHeight: height });
      byChain.set(chainName, removed);
    }
    directories.set(height, listed);
  }
  const chains = [...byChain.values()].map(({ chainId, blocks }) => planChain(tables, chainId, blocks));
  return { mark, after, directories, chains };
}

function planChain(tables: LedgerTables, id: Buffer, blocks: RemovedBlock[]): PlannedChain {
  blocks.sort((a, b) => a.height - b.height);
  const first = blocks[0]!;
  const last = blocks[blocks.length - 1]!;
  const { chainName } = first;
  blocks.forEach((block, i) => {
    if (block.height !== first.height + i)
      throw new TruncationError(
        `truncate: chain ${JSON.stringify(chainName)}: its blocks to remove are not consecutive (block ${block.height} after ${first.height + i - 1}): blocks adopted between them`,
      );
  });
  const top = lastKeyOfChain(tables.blocks, id);
  const topHeight = top === undefined ? -1 : readU64(top, 32);
  if (topHeight !== last.height)
    throw new TruncationError(
      `truncate: chain ${JSON.stringify(chainName)}: block ${topHeight} (adopted from another gateway) is stored above block ${last.height}, which was sealed here in directory ${last.directoryHeight} and must go; nothing was removed`,
    );
  const endSeq = last.firstSeq + last.count;
  const frameIdKeys = [...tables.frameIds.getKeys({ start: chainKey(id, first.firstSeq), end: chainKey(id, endSeq) })].map((key) => Buffer.from(key));
  return { chainName, chainId: id, blocks, head: headBelow(tables, chainName, id, first.height), frameIdKeys };
}

/** The head a chain has once blocks from `height` on are gone. */
function headBelow(tables: LedgerTables, chainName: string, chainId: Buffer, height: number): ChainHead {
  if (height === 0) return { chainName, chainId, nextHeight: 0, nextSeq: 0, lastBlockHash: zeroHash() };
  const bytes = tables.blocks.get(chainKey(chainId, height - 1));
  if (bytes === undefined) throw new LedgerCorruptionError({ chain: chainName, height: height - 1 }, 'missing below a block to truncate');
  const headerBytes = blockRecordHeader(bytes);
  const header = decodeEntryBlockHeader(headerBytes);
  return { chainName, chainId, nextHeight: height, nextSeq: header.firstSeq + header.count, lastBlockHash: sha256(headerBytes) };
}

/** Inside the truncation's transaction. */
export function writeTruncation(tables: LedgerTables, plan: TruncationPlan): void {
  for (const chain of plan.chains) {
    for (const block of chain.blocks) {
      const key = chainKey(chain.chainId, block.height);
      // Re-checked in the transaction: only the sealer writes, but a truncation must never remove what it did not plan to.
      if (!tables.blocks.doesExist(key)) throw new TruncationError(`truncate: chain ${JSON.stringify(chain.chainName)} block ${block.height} vanished`);
      tables.blocks.removeSync(key);
      tables.seqIndex.removeSync(chainKey(chain.chainId, block.firstSeq));
    }
    for (const key of chain.frameIdKeys) tables.frameIds.removeSync(key);
    const range: StoredRange = { chain: chain.chainName, ...spanOf(chain.blocks), ...plan.mark };
    tables.truncatedRanges.putSync(chainKey(chain.chainId, range.seqs.from), json(range));
  }
  for (const [height, blocks] of plan.directories) tables.truncated.putSync(heightKey(height), json({ ...plan.mark, blocks }));
}

export function truncationResult(plan: TruncationPlan): TruncationResult {
  const chains = plan.chains.map((chain): TruncatedChain => ({
    chain: chain.chainName,
    ...spanOf(chain.blocks),
    entries: chain.blocks.reduce((sum, b) => sum + b.count, 0),
    head: { nextHeight: chain.head.nextHeight, nextSeq: chain.head.nextSeq, lastBlockHash: chain.head.lastBlockHash.toString('hex') },
  }));
  return {
    after: plan.after,
    ...plan.mark,
    directories: plan.directories.size,
    blocks: chains.reduce((sum, c) => sum + c.blocks.to - c.blocks.from + 1, 0),
    entries: chains.reduce((sum, c) => sum + c.entries, 0),
    chains,
  };
}

/**
 * The heights, seqs and directories of one chain's removed blocks (ascending
 * heights, so consecutive seqs; a chain's later block is never in an earlier
 * directory, so the directories are those of the first and last).
 */
function spanOf(blocks: readonly RemovedBlock[]): Pick<StoredRange, 'blocks' | 'seqs' | 'directories'> {
  const first = blocks[0]!;
  const last = blocks[blocks.length - 1]!;
  return {
    blocks: { from: first.height, to: last.height },
    seqs: { from: first.firstSeq, end: last.firstSeq + last.count },
    directories: { from: first.directoryHeight, to: last.directoryHeight },
  };
}

/** The removed blocks, for the alongside writes. */
export function removedBlocks(plan: TruncationPlan): RemovedBlock[] {
  return plan.chains.flatMap((chain) => chain.blocks);
}

/** `ledger.truncatedRanges`' row. */
export interface StoredRange extends TruncationMark {
  chain: string;
  blocks: { from: number; to: number };
  seqs: { from: number; end: number };
  directories: { from: number; to: number };
}

/** The truncation that removed entry `seq` of a chain, or null. */
export function truncationOfSeq(tables: LedgerTables, chainId: Buffer, seq: number): StoredRange | null {
  const key = lastKeyOfChain(tables.truncatedRanges, chainId, seq);
  if (key === undefined) return null;
  const range = readRange(tables, key);
  return range !== null && seq < range.seqs.end ? range : null;
}

/** The truncation that removed block `height` of a chain, or null (a chain has a row per failover it lost blocks to: few). */
export function truncationOfBlock(tables: LedgerTables, chainId: Buffer, height: number): StoredRange | null {
  for (const key of tables.truncatedRanges.getKeys({ start: chainKey(chainId, 0), end: Buffer.concat([chainId, Buffer.alloc(8, 0xff)]), inclusiveEnd: true })) {
    const range = readRange(tables, key);
    if (range !== null && height >= range.blocks.from && height <= range.blocks.to) return range;
  }
  return null;
}

/** `ledger.truncated`'s row for a directory, or null. */
export function truncationOfDirectory(tables: LedgerTables, height: number): (TruncationMark & { blocks: [string, number][] }) | null {
  const bytes = tables.truncated.get(heightKey(height));
  return bytes === undefined ? null : parseJson(bytes, { directoryHeight: height });
}

/**
 * A SupersededError again from the message of one that crossed a thread (a
 * reader thread's rejection keeps only the message); any other error as it is.
 */
export function asSuperseded(error: unknown): unknown {
  if (error instanceof SupersededError || !(error instanceof Error)) return error;
  return SUPERSEDED_MESSAGE.test(error.message) ? new SupersededError(error.message) : error;
}

const SUPERSEDED_MESSAGE = new RegExp(`^(entry|block) \\d+ of chain ".*" was ${SUPERSEDED} at token \\d+ \\(taken over by `);

/** "superseded by failover at token T (taken over by G)", with what was removed. */
export function supersededMessage(what: string, range: StoredRange): string {
  const span = (from: number, to: number, one: string, many: string): string => (from === to ? `${one} ${from}` : `${many} ${from}–${to}`);
  const blocks = span(range.blocks.from, range.blocks.to, 'block', 'blocks');
  const directories = span(range.directories.from, range.directories.to, 'directory', 'directories');
  return `${what} was ${SUPERSEDED} at token ${range.token} (taken over by ${JSON.stringify(range.by)}): the chain's ${blocks}, sealed here in ${directories}, were never acknowledged by the standby, so never committed; removed at ${new Date(range.at).toISOString()}`;
}

function readRange(tables: LedgerTables, key: Buffer): StoredRange | null {
  const bytes = tables.truncatedRanges.get(key);
  return bytes === undefined ? null : parseJson<StoredRange>(bytes, {});
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function parseJson<T>(bytes: Uint8Array, place: LedgerPlace): T {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
  } catch (error) {
    throw new LedgerCorruptionError(place, `a truncation record is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function fail(place: LedgerPlace, problem: string): never {
  throw new LedgerCorruptionError(place, problem);
}

function corruptUnless<T>(decode: () => T, place: LedgerPlace): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof RecordFormatError || error instanceof RangeError) throw new LedgerCorruptionError(place, error.message);
    throw error;
  }
}

// The standby's store of its owners' seals (docs/replicas.md part 3), the
// writer's side of Ledger.replicate. A shipped seal is checked (replica.ts),
// its signed head too, then written in one transaction:
//
//   - its blocks as adopted blocks (adopted.ts: the record marked ADOPTED,
//     the directory proof naming the owner), so reads and proofs of them work
//     here as for any adopted block, and a takeover needs no copy;
//   - `ledger.replicaDirectories` ownerKey ‖ height → the owner's directory
//     record ‖ its signed head (0 or HEAD_RECORD_BYTES), so the standby holds
//     the owner's directory chain and heads after the owner is gone;
//   - the blocks' `ledger.frameIds` rows, so a takeover rebuilds the windows;
//   - for a superseded directory (no blocks came: the owner's truncation
//     removed them), `ledger.replicaSuperseded` ownerKey ‖ height → its mark,
//     so reads of the owner's directory and verify know why its blocks are not
//     here (the heights it lists may hold other blocks: the ones that went on);
//   - `ledger.replicaBooks` ownerKey ‖ chainId → the credit book of each
//     chain the seal carries one for (authenticated mode), the latest
//     replacing the one before: a takeover opens the chain's credits from it;
//   - `ledger.replicas` ownerKey → where this standby has the owner: acked
//     (the replicated height), the owner's store digest and head key (pinned
//     by the first seal: another one is refused), the owner's directory log
//     frontier (so the next head's root is computed, not trusted) and the
//     last head's time.
//
// ownerKey = SHA-256 of the owner's gateway id (UTF-8): fixed width, like a chainId.
import { encodeAdoptedProof, type ChainPosition, type SealingGateway } from './adopted.js';
import { LogFrontier, type LogNode } from './directory-log.js';
import { sha256, zeroHash } from './hash.js';
import { chainIdOf, decodeDirectoryHeader, decodeEntryBlockHeader } from './headers.js';
import { LedgerCorruptionError } from './errors.js';
import type { RootFunction } from './merkle.js';
import { blockRecordHeader, chainKey, decodeDirectoryRecord, directoryRecordBytes, directoryRecordHeader, heightKey, RecordFormatError } from './records.js';
import { checkShippedSeal, ReplicaError, type CheckedSeal, type DirectoryPosition, type ShippedSeal } from './replica.js';
import { decodeHeadRecord, HEAD_RECORD_BYTES, headVerifier, type SignedHeadRecord } from './signed-heads.js';
import type { ChainHead, LedgerTables } from './tables.js';
import { truncationOfDirectory, type TruncationMark } from './truncation.js';

/** The owner of shipped seals: its gateway id and store digest, and the raw Ed25519 key of its heads (hex) when known. */
export interface ReplicaOwner extends SealingGateway {
  /** Pinned by the first seal that carries a signed head; null or absent: not known to the caller. */
  headKey?: string | null;
}

/** What a batch of an owner's seals came to: the height now durable here, and the refusal that stopped the batch, if one did. */
export interface ReplicatedSeals {
  acked: number;
  refused?: ReplicaError;
}

/** Where a standby has an owner: `acked` the replicated directory height (−1 before any), the next height and the last directory's hash. */
export interface ReplicaPosition {
  acked: number;
  nextHeight: number;
  lastHash: Buffer;
}

/** `ledger.replicas`' row (JSON). */
interface ReplicaState {
  id: string;
  key: string;
  headKey: string | null;
  nextHeight: number;
  lastHash: string;
  log: { size: number; peaks: { level: number; index: number; hash: string }[] };
  lastHeadTime: number | null;
}

/** A checked seal and everything its transaction writes. */
export interface ReplicaPlan {
  ownerKey: Buffer;
  height: number;
  checked: CheckedSeal;
  directoryRow: Buffer;
  state: ReplicaState;
  /** Each touched chain's head after the seal, new chains flagged. */
  heads: { head: ChainHead; isNew: boolean }[];
  /** The credit books the seal carries (ShippedSeal.books). */
  books: { chain: string; book: Uint8Array }[];
}

const HEX_KEY = /^[0-9a-f]{64}$/;

export function ownerKeyOf(ownerId: string): Buffer {
  return sha256(Buffer.from(ownerId, 'utf8'));
}

function replicaBookKey(ownerKey: Buffer, chain: string): Buffer {
  return Buffer.concat([ownerKey, chainIdOf(chain)]);
}

/** The credit book of `chain` as `ownerId` last shipped it here (`ledger.replicaBooks`), or null. */
export function replicaBook(tables: LedgerTables, ownerId: string, chain: string): Buffer | null {
  return tables.replicaBooks.get(replicaBookKey(ownerKeyOf(ownerId), chain)) ?? null;
}

function loadState(tables: LedgerTables, ownerId: string): ReplicaState | null {
  const bytes = tables.replicas.get(ownerKeyOf(ownerId));
  if (bytes === undefined) return null;
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as ReplicaState;
  } catch (error) {
    throw new RecordFormatError(`replica state of gateway ${JSON.stringify(ownerId)}: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** Where this store has `ownerId`'s seals (read in the caller's snapshot). */
export function replicaPosition(tables: LedgerTables, ownerId: string): ReplicaPosition {
  const state = loadState(tables, ownerId);
  if (state === null) return { acked: -1, nextHeight: 0, lastHash: zeroHash() };
  return { acked: state.nextHeight - 1, nextHeight: state.nextHeight, lastHash: Buffer.from(state.lastHash, 'hex') };
}

/** An owner's directory as its standby holds it: the record, the head signed at its size, and the mark when it is superseded. */
export interface ReplicaDirectory {
  record: Buffer;
  head: SignedHeadRecord | null;
  /** Its blocks were removed by the owner's truncation (none stored here for it); null for a directory whose blocks were replicated. */
  superseded: TruncationMark | null;
}

/** The owner's directory record at `height` and the head signed at its size, as this standby stored them; null when it has none. */
export function replicaDirectory(tables: LedgerTables, ownerId: string, height: number): ReplicaDirectory | null {
  const key = Buffer.concat([ownerKeyOf(ownerId), heightKey(height)]);
  const value = tables.replicaDirectories.get(key);
  if (value === undefined) return null;
  const recordBytes = directoryRecordBytes(decodeDirectoryHeader(directoryRecordHeader(value)).count);
  const hasHead = value.length === recordBytes + HEAD_RECORD_BYTES;
  if (!hasHead && value.length !== recordBytes)
    throw new RecordFormatError(`replica directory ${height} of gateway ${JSON.stringify(ownerId)}: ${value.length} bytes`);
  return {
    record: Buffer.from(value.subarray(0, recordBytes)),
    head: hasHead ? decodeHeadRecord(height + 1, value.subarray(recordBytes)) : null,
    superseded: supersededMark(tables, key),
  };
}

/** `ledger.replicaSuperseded`'s row (by ownerKey ‖ height), or null. */
export function supersededMark(tables: LedgerTables, key: Buffer): TruncationMark | null {
  const bytes = tables.replicaSuperseded.get(key);
  if (bytes === undefined) return null;
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as TruncationMark;
  } catch (error) {
    throw new RecordFormatError(
      `superseded mark of replica directory ${key.toString('hex')}: not JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

/**
 * The height of `seal` when it is the last one this store replicated of
 * `owner` (the same store digest, the same directory record byte for byte),
 * else null: a shipper may send it again when its `durable` was lost.
 */
export function lastReplicated(tables: LedgerTables, owner: ReplicaOwner, seal: ShippedSeal): number | null {
  if (typeof owner?.id !== 'string' || !bytes(seal?.directory)) return null;
  const state = loadState(tables, owner.id);
  if (state === null || state.key !== owner.key) return null;
  const height = state.nextHeight - 1;
  const stored = tables.replicaDirectories.get(Buffer.concat([ownerKeyOf(owner.id), heightKey(height)]));
  if (stored === undefined || stored.length < seal.directory.length) return null;
  return stored.subarray(0, seal.directory.length).equals(seal.directory) &&
    directoryRecordBytes(decodeDirectoryHeader(directoryRecordHeader(stored)).count) === seal.directory.length
    ? height
    : null;
}

/**
 * Checks `seal` against what the store holds of its owner and of each of its
 * chains (`chainAt`) — or, with `after`, against where the owner stands once
 * that plan (of the seal before it, not yet written) is: seals of one batch
 * are planned in turn and written in one transaction. Throws ReplicaError
 * naming the owner, the directory height and what does not hold. Pure:
 * nothing is written.
 */
export function planReplica(
  tables: LedgerTables,
  owner: ReplicaOwner,
  seal: ShippedSeal,
  chainAt: (chain: string) => ChainHead | undefined,
  rootOf: RootFunction,
  after?: ReplicaPlan,
): ReplicaPlan {
  if (typeof owner?.id !== 'string' || owner.id.length === 0 || owner.id.length > 63)
    throw new ReplicaError('a seal whose owner is not named by a gateway id of 1 to 63 characters');
  if (after !== undefined && after.state.id !== owner.id)
    throw new ReplicaError(`a batch of seals of gateway ${JSON.stringify(owner.id)} planned after another gateway's`);
  const state = after?.state ?? loadState(tables, owner.id);
  const at: DirectoryPosition =
    state === null ? { nextHeight: 0, lastHash: zeroHash() } : { nextHeight: state.nextHeight, lastHash: Buffer.from(state.lastHash, 'hex') };
  const fail = (problem: string): never => {
    throw new ReplicaError(`seal of gateway ${JSON.stringify(owner.id)} at directory ${at.nextHeight}: ${problem}`);
  };
  const shape = shapeProblem(seal);
  if (shape !== null) fail(shape);
  if (typeof owner.key !== 'string' || !HEX_KEY.test(owner.key)) fail("the owner's store digest is not 32 bytes of hex");
  if (state !== null && state.key !== owner.key)
    fail(`the owner's store is ${owner.key.slice(0, 16)}…, and this standby holds the seals of its store ${state.key.slice(0, 16)}…`);
  const given = owner.headKey ?? null;
  if (given !== null && !HEX_KEY.test(given)) fail("the owner's head key is not 32 bytes of hex");
  if (state?.headKey != null && given !== null && given !== state.headKey)
    fail(`the owner's head key is given as ${given.slice(0, 16)}…, and its heads so far were signed by ${state.headKey.slice(0, 16)}…`);
  const heads = new Map<string, { head: ChainHead; isNew: boolean }>();
  const position = (chain: string): ChainPosition => heads.get(chain)?.head ?? chainAt(chain) ?? { nextHeight: 0, nextSeq: 0, lastBlockHash: zeroHash() };
  const checked = checkShippedSeal({ id: owner.id, key: owner.key }, at, seal, position, rootOf);
  for (const block of checked.blocks) {
    const { height, firstSeq, count } = block.record.header;
    const head = { chainName: block.chain, chainId: chainIdOf(block.chain), nextHeight: height + 1, nextSeq: firstSeq + count, lastBlockHash: block.blockHash };
    heads.set(block.chain, { head, isNew: heads.get(block.chain)?.isNew ?? chainAt(block.chain) === undefined });
  }
  const log = frontierOf(state).append(checked.next.lastHash).next;
  const headKey = state?.headKey ?? given;
  const head = seal.head === null ? null : checkHead(seal.head, at.nextHeight, log, headKey, state?.lastHeadTime ?? null, owner.id, fail);
  return {
    ownerKey: ownerKeyOf(owner.id),
    height: at.nextHeight,
    checked,
    directoryRow: seal.head === null ? Buffer.from(seal.directory) : Buffer.concat([seal.directory, seal.head]),
    state: {
      id: owner.id,
      key: owner.key,
      headKey: head === null ? (state?.headKey ?? null) : headKey,
      nextHeight: checked.next.nextHeight,
      lastHash: checked.next.lastHash.toString('hex'),
      log: { size: log.size, peaks: log.nodes.map((n) => ({ level: n.level, index: n.index, hash: n.hash.toString('hex') })) },
      lastHeadTime: head?.time ?? state?.lastHeadTime ?? null,
    },
    heads: [...heads.values()],
    books: seal.books ?? [],
  };
}

const bytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;

/** Why `seal` (decoded from the network) is not a ShippedSeal's shape, or null. */
function shapeProblem(seal: ShippedSeal): string | null {
  if (typeof seal !== 'object' || seal === null) return 'it is not a seal';
  if (!bytes(seal.directory)) return 'its directory record is not bytes';
  if (seal.head !== null && !bytes(seal.head)) return 'its signed head is neither bytes nor null';
  if (!bytes(seal.frameIds)) return 'its frame ids are not bytes';
  if (!Array.isArray(seal.blocks)) return 'its blocks are not a list';
  if (seal.books !== undefined) {
    if (!Array.isArray(seal.books)) return 'its credit books are not a list';
    const badBook = seal.books.findIndex((b) => typeof b?.chain !== 'string' || Buffer.byteLength(b.chain, 'utf8') > 1024 || !bytes(b.book));
    if (badBook >= 0) return `its credit book ${badBook} is not {chain: a chain name, book: bytes}`;
  }
  if (seal.superseded !== undefined && (typeof seal.superseded !== 'object' || seal.superseded === null)) return 'its truncation mark is not {by, token, at}';
  const bad = seal.blocks.findIndex((b) => typeof b?.chain !== 'string' || Buffer.byteLength(b.chain, 'utf8') > 1024 || !bytes(b.record));
  return bad < 0 ? null : `its block ${bad} is not {chain: a chain name, record: bytes}`;
}

function frontierOf(state: ReplicaState | null): LogFrontier {
  if (state === null) return LogFrontier.empty;
  const peaks = new Map(state.log.peaks.map((p): [string, LogNode] => [`${p.level}:${p.index}`, { ...p, hash: Buffer.from(p.hash, 'hex') }]));
  return LogFrontier.load(state.log.size, (level, index) => peaks.get(`${level}:${index}`)?.hash);
}

/**
 * The signed head of the seal: of the log's new size, its root the one this
 * standby computes from the owner's directory hashes (so it follows every
 * head before it), not older than the last one, signed by the owner's key.
 */
function checkHead(
  bytes: Uint8Array,
  height: number,
  log: LogFrontier,
  headKey: string | null,
  lastTime: number | null,
  ownerId: string,
  fail: (problem: string) => never,
): SignedHeadRecord {
  if (headKey === null) return fail(`it carries a signed head, and no key of gateway ${JSON.stringify(ownerId)}'s heads is known`);
  let head: SignedHeadRecord;
  try {
    head = decodeHeadRecord(height + 1, bytes);
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
  if (!head.root.equals(log.root())) fail(`its signed head's root is not the root of the owner's directory log of size ${log.size}`);
  if (lastTime !== null && head.time < lastTime) fail(`its signed head (time ${head.time}) is older than the one before it (time ${lastTime})`);
  if (!headVerifier(Buffer.from(headKey, 'hex'))(head))
    fail(
      `its signed head does not verify under the key of gateway ${JSON.stringify(ownerId)}'s heads (${sha256(Buffer.from(headKey, 'hex')).toString('hex')})`,
    );
  return head;
}

/** Inside the replicate transaction: everything of `plan`. A block already stored aborts it (nothing written). */
export function writeReplica(tables: LedgerTables, plan: ReplicaPlan): void {
  const fail = (problem: string): never => {
    throw new ReplicaError(`seal of gateway ${JSON.stringify(plan.state.id)} at directory ${plan.height}: ${problem}`);
  };
  const directoryKey = Buffer.concat([plan.ownerKey, heightKey(plan.height)]);
  if (tables.replicaDirectories.doesExist(directoryKey)) fail('it is in the store already');
  for (const block of plan.checked.blocks) {
    const { chainId, height, firstSeq } = block.record.header;
    const key = chainKey(chainId, height);
    if (tables.blocks.doesExist(key)) fail(`chain ${JSON.stringify(block.chain)} block ${height} is in the store already`);
    tables.blocks.putSync(key, block.stored);
    tables.seqIndex.putSync(chainKey(chainId, firstSeq), heightKey(height));
    tables.adopted.putSync(key, encodeAdoptedProof(block.proof));
  }
  for (const { head, isNew } of plan.heads) if (isNew) tables.chains.putSync(head.chainId, Buffer.from(head.chainName, 'utf8'));
  for (const row of plan.checked.frameIds) tables.frameIds.putSync(row.key, row.value);
  for (const { chain, book } of plan.books) tables.replicaBooks.putSync(replicaBookKey(plan.ownerKey, chain), Buffer.from(book));
  tables.replicaDirectories.putSync(directoryKey, plan.directoryRow);
  const { superseded } = plan.checked;
  if (superseded !== undefined) tables.replicaSuperseded.putSync(directoryKey, Buffer.from(JSON.stringify(superseded)));
  tables.replicas.putSync(plan.ownerKey, Buffer.from(JSON.stringify(plan.state)));
}

/**
 * The owner's side: seal `height` as its store holds it, for shipping
 * (ShippedSeal); null when there is no such directory. One seal: its
 * directory record, the head signed at its size, its blocks' records and
 * their frame id rows, each copied out of lmdb (they leave the thread).
 */
export function readShippedSeal(tables: LedgerTables, height: number): ShippedSeal | null {
  const directory = tables.directories.get(heightKey(height));
  if (directory === undefined) return null;
  const place = { directoryHeight: height };
  const head = tables.heads.get(heightKey(height + 1)) ?? null;
  const truncated = truncationOfDirectory(tables, height);
  // Its blocks are gone (a returning owner's truncation): the directory goes with its mark alone, so the standby's chain of directories goes on.
  if (truncated !== null)
    return { directory, head, blocks: [], frameIds: Buffer.alloc(0), superseded: { by: truncated.by, token: truncated.token, at: truncated.at } };
  const record = corruptUnless(() => decodeDirectoryRecord(directory), place);
  const blocks = record.entries.map(({ chainId, height: blockHeight }) => {
    const chain = tables.chains.get(chainId)?.toString('utf8');
    const bytes = tables.blocks.get(chainKey(chainId, blockHeight));
    if (chain === undefined || bytes === undefined)
      throw new LedgerCorruptionError(place, `directory lists block ${blockHeight} of chain ${chainId.toString('hex')}, which is not in the store`);
    return { chain, record: bytes };
  });
  const rows: Buffer[] = [];
  for (const { record: bytes } of blocks) {
    const { chainId, firstSeq, count } = corruptUnless(() => decodeEntryBlockHeader(blockRecordHeader(bytes)), place);
    for (const { key, value } of tables.frameIds.getRange({ start: chainKey(chainId, firstSeq), end: chainKey(chainId, firstSeq + count) }))
      rows.push(key, value);
  }
  return { directory, head, blocks, frameIds: Buffer.concat(rows) };
}

function corruptUnless<T>(decode: () => T, place: { directoryHeight: number }): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof RecordFormatError || error instanceof RangeError) throw new LedgerCorruptionError(place, error.message);
    throw error;
  }
}

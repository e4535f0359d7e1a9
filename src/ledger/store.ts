// The Ledger: seals intervals into lmdb in one durable transaction each, keeps
// every chain's head and the directory head in memory, and answers reads.
import type { RootDatabase } from 'lmdb';
import { hashing } from '../native/index.js';
import { AnchorQueue, anchorJson, logAnchorError } from './anchors.js';
import type { AnchorErrorHandler, AnchorSink } from './anchors.js';
import { commitFailureOf, describeStoreError, isStorePanic, syncEnvironment } from './commit-failure.js';
import { LedgerCorruptionError, SealConflictError, SealInputError, StoreWriteError, type LedgerPlace } from './errors.js';
import { HASH_BYTES, sha256, zeroHash } from './hash.js';
import { chainIdOf, decodeEntryBlockHeader } from './headers.js';
import { blockProofPart, directoryProofPart } from './proofs.js';
import {
  ADOPTED_DIRECTORY,
  blockRecordHeader,
  chainKey,
  decodeAnchorRecord,
  decodeBlockRecord,
  decodeDirectoryRecord,
  heightKey,
  readU64,
  RecordFormatError,
} from './records.js';
import {
  AdoptionError,
  checkAdoptedBlock,
  checkDirectoryProof,
  decodeAdoptedProof,
  encodeAdoptedProof,
  type AdoptedProof,
  type ExportedBlock,
  type SealingGateway,
} from './adopted.js';
import type { BlockRecord, DirectoryRecord } from './records.js';
import { fastRoot } from './roots.js';
import { LogRangeError, verifyConsistency } from './directory-log.js';
import { leafHash, verifyAuditPath } from './merkle.js';
import { LogWriter, latestStoredHead, storedHead, storedLogProofs } from './log-store.js';
import { signedHeadView, type HeadSigner, type SignedHeadRecord } from './signed-heads.js';
import { planSeal } from './seal-plan.js';
import type { SealInput, SealPlan, SealResult } from './seal-plan.js';
import { chainNameOf, lastKeyOfChain, loadChainHead, loadChainHeads, loadDirectoryHead, openTables } from './tables.js';
import type { ChainHead, DirectoryHead, LedgerTables } from './tables.js';
import type {
  AnchorView,
  BlockView,
  ChainView,
  ConsistencyProofView,
  DirectoryProof,
  DirectoryView,
  EntryProof,
  HeadProof,
  InclusionProofView,
  SignedHead,
} from '../protocol/index.js';
import { blockView, chainView, directoryView } from './views.js';
import {
  lastReplicated,
  planReplica,
  readShippedSeal,
  replicaBook,
  replicaDirectory,
  replicaPosition,
  writeReplica,
  type ReplicaDirectory,
  type ReplicaOwner,
  type ReplicaPlan,
  type ReplicaPosition,
  type ReplicatedSeals,
} from './replica-store.js';
import { ReplicaError, type ShippedSeal } from './replica.js';
import { recentFrameIds, storedEntryHashes, type RecentFrameId } from './frame-ids.js';
import {
  planTruncation,
  removedBlocks,
  SupersededError,
  supersededMessage,
  truncationOfBlock,
  truncationOfDirectory,
  truncationOfSeq,
  truncationResult,
  writeTruncation,
  type RemovedBlock,
  type TruncationMark,
  type TruncationRequest,
  type TruncationResult,
} from './truncation.js';

export interface LedgerOptions {
  /**
   * For the HTTP side: reads only, seal() throws, and heads/chains are read from
   * the store each time (another thread's Ledger is the writer).
   */
  readOnly?: boolean;
  /** Sinks beyond the store itself, fed each directory hash after its seal is durable. */
  anchorSinks?: readonly AnchorSink[];
  /** Where sink failures go (default: a line on stderr). They never fail a seal. */
  onAnchorError?: AnchorErrorHandler;
  /** Re-hash every entry's content at seal time and refuse mismatches (a second SHA-256 pass). */
  checkEntryHashes?: boolean;
  /**
   * A writer keeps the directory log's tree (directory-log.ts) in every seal;
   * default true. False: seals leave it behind, and a later writer with it on
   * builds the missing part from the directory blocks when it opens.
   */
  directoryLog?: boolean;
  /** With the log on: signs each seal's head inside its transaction (src/heads holds the key). */
  signHead?: HeadSigner;
}

export interface LedgerHeads {
  chains: ChainHead[];
  directory: DirectoryHead;
}

/**
 * Runs inside the seal's write transaction, given the seal's heights and hashes;
 * other modules' tables written here commit atomically with the blocks.
 */
export type AlongsideWrites = (sealed: SealResult) => void;

/** Runs inside a truncation's write transaction with the blocks it removes (the credits refund their burns). */
export type TruncationWrites = (removed: readonly RemovedBlock[], mark: TruncationMark) => void;

export class Ledger {
  private readonly chainHeads = new Map<string, ChainHead>();
  private readonly chainNames = new Map<string, string>();
  private directoryHead: DirectoryHead;
  private readonly anchorQueue: AnchorQueue;
  /** The writer's directory log, null for a reader or with the log off. */
  private log: LogWriter | null = null;
  private sealTail: Promise<unknown> = Promise.resolve();
  /** A seal in the store whose flush failed: the next seal must be its retry (resumeUndurable). */
  private undurable: SealPlan | null = null;
  private closed = false;

  private constructor(
    private readonly tables: LedgerTables,
    private readonly options: LedgerOptions,
  ) {
    for (const head of loadChainHeads(tables)) this.chainHeads.set(head.chainName, head);
    this.directoryHead = loadDirectoryHead(tables);
    this.anchorQueue = new AnchorQueue(options.anchorSinks ?? [], options.onAnchorError ?? logAnchorError);
  }

  /** Opens (creating if needed) the ledger in `dir` and loads the heads. */
  static async open(dir: string, options: LedgerOptions = {}): Promise<Ledger> {
    const tables = openTables(dir);
    try {
      const ledger = new Ledger(tables, options);
      if (options.readOnly !== true && options.directoryLog !== false) {
        ledger.log = LogWriter.open(tables, ledger.directoryHead.nextHeight, options.signHead ?? null);
      }
      return ledger;
    } catch (error) {
      await tables.root.close();
      throw error;
    }
  }

  get readOnly(): boolean {
    return this.options.readOnly === true;
  }

  /** The lmdb environment, for other modules' tables (openDB) written via seal's `alongside`. */
  get environment(): RootDatabase {
    return this.tables.root;
  }

  /**
   * Seals one interval: every block and the directory block over them, the seq
   * index, new chain names and the anchor record, in one lmdb transaction that is
   * on disk when this resolves. Calls are queued, never interleaved. On any
   * failure the heads equal the store's and the same input can be retried: either
   * nothing was written and the heads are unchanged, or the seal is in the store
   * but not known to be on disk, and the retry only makes it durable (see
   * sealNow). An interval with no blocks writes nothing and returns directory null.
   */
  seal(input: SealInput, alongside?: AlongsideWrites): Promise<SealResult> {
    const run = this.sealTail.then(() => this.sealNow(input, alongside));
    this.sealTail = run.catch(() => undefined);
    return run;
  }

  /**
   * Stores blocks of `chainName` adopted from another gateway (adopted.ts),
   * continuing the chain where this store has it: each is checked against the
   * one before, then all are written in one transaction, durable when this
   * resolves. Queued with the seals, never interleaved. Returns the chain's new head.
   */
  adopt(chainName: string, blocks: readonly ExportedBlock[]): Promise<ChainHead> {
    const run = this.sealTail.then(() => this.adoptNow(chainName, blocks));
    this.sealTail = run.catch(() => undefined);
    return run;
  }

  private async adoptNow(chainName: string, blocks: readonly ExportedBlock[]): Promise<ChainHead> {
    if (this.readOnly) throw new Error('ledger: opened read-only, cannot adopt');
    this.assertOpen();
    if (this.undurable !== null) throw new StoreWriteError('a seal is in the store but not yet durable; blocks are adopted once it is');
    const chainId = chainIdOf(chainName);
    const before = this.chainHeads.get(chainName);
    let head: ChainHead = before ?? { chainName, chainId, nextHeight: 0, nextSeq: 0, lastBlockHash: zeroHash() };
    const rows: { height: number; firstSeq: number; stored: Buffer; proof: AdoptedProof }[] = [];
    for (const block of blocks) {
      const checked = checkAdoptedBlock(chainName, chainId, head, block, fastRoot);
      const { height, firstSeq, count } = checked.record.header;
      rows.push({ height, firstSeq, stored: checked.stored, proof: block.proof });
      head = { chainName, chainId, nextHeight: height + 1, nextSeq: firstSeq + count, lastBlockHash: checked.blockHash };
    }
    if (rows.length === 0) return { ...head };
    await this.tables.root.childTransaction(() => {
      for (const row of rows) {
        const key = chainKey(chainId, row.height);
        if (this.tables.blocks.doesExist(key)) throw new AdoptionError(`chain ${JSON.stringify(chainName)} block ${row.height} is in the store already`);
        this.tables.blocks.putSync(key, row.stored);
        this.tables.seqIndex.putSync(chainKey(chainId, row.firstSeq), heightKey(row.height));
        this.tables.adopted.putSync(key, encodeAdoptedProof(row.proof));
      }
      if (before === undefined) this.tables.chains.putSync(chainId, Buffer.from(chainName, 'utf8'));
    });
    await this.tables.root.flushed;
    this.chainHeads.set(chainName, head);
    return { ...head, chainId: Buffer.from(head.chainId), lastBlockHash: Buffer.from(head.lastBlockHash) };
  }

  /**
   * The standby's side of a shipped seal (replica-store.ts): checks it against
   * what this store holds of `owner` and of each of its chains, then stores
   * its blocks (as adopted blocks), its directory record and signed head, its
   * frame ids and the owner's new position in one transaction, durable when
   * this resolves. Queued with seals and adoptions. A refused seal stores
   * nothing and rejects with a ReplicaError naming owner, height and cause.
   */
  replicate(owner: ReplicaOwner, seal: ShippedSeal): Promise<{ acked: number }> {
    return this.replicateSeals(owner, [seal]).then(({ acked, refused }) => {
      if (refused !== undefined) throw refused;
      return { acked };
    });
  }

  /**
   * Seals of one owner in order, as its stream queued them: each checked
   * against where the one before leaves the owner, all stored in one
   * transaction and made durable together — one fsync for the batch, where a
   * standby storing them one by one waited for the disk once per seal. The
   * seals before a refused one are stored, and the refusal comes back beside
   * their height; a refused first seal stores nothing and rejects.
   */
  replicateSeals(owner: ReplicaOwner, seals: readonly ShippedSeal[]): Promise<ReplicatedSeals> {
    const run = this.sealTail.then(() => this.replicateNow(owner, seals));
    this.sealTail = run.catch(() => undefined);
    return run;
  }

  private async replicateNow(owner: ReplicaOwner, seals: readonly ShippedSeal[]): Promise<ReplicatedSeals> {
    if (this.readOnly) throw new Error('ledger: opened read-only, cannot replicate');
    this.assertOpen();
    if (this.undurable !== null) throw new StoreWriteError('a seal is in the store but not yet durable; replicated seals are stored once it is');
    const [first] = seals;
    if (first === undefined) throw new ReplicaError('a batch of no seals');
    this.freshReads();
    // The last seal again (its `durable` was lost, or its commit was not known durable): made durable, not refused.
    const repeat = lastReplicated(this.tables, owner, first);
    if (repeat !== null) await this.replicaDurable(owner, repeat, true);
    const { plans, refused } = this.planSeals(owner, repeat === null ? seals : seals.slice(1));
    const lastPlan = plans.at(-1);
    if (lastPlan === undefined) {
      if (repeat === null) throw refused ?? new ReplicaError('a batch of no seals');
      return refused === undefined ? { acked: repeat } : { acked: repeat, refused };
    }
    let reportedFailed = false;
    try {
      await this.tables.root.childTransaction(() => {
        for (const plan of plans) writeReplica(this.tables, plan);
      });
    } catch (error) {
      if (error instanceof ReplicaError) throw error;
      // As in sealNow: lmdb-js can fail a commit it already made visible; the store says whether the seals are in.
      const failure = await commitFailureOf(error);
      this.freshReads();
      if (replicaPosition(this.tables, owner.id).nextHeight !== lastPlan.height + 1) throw failure;
      reportedFailed = true;
    }
    for (const plan of plans) for (const { head } of plan.heads) this.chainHeads.set(head.chainName, head);
    await this.replicaDurable(owner, lastPlan.height, reportedFailed);
    return refused === undefined ? { acked: lastPlan.height } : { acked: lastPlan.height, refused };
  }

  /** Plans `seals` in turn, each after the one before (nothing written); stops at the first refused one and returns it. */
  private planSeals(owner: ReplicaOwner, seals: readonly ShippedSeal[]): { plans: ReplicaPlan[]; refused?: ReplicaError } {
    const plans: ReplicaPlan[] = [];
    const planned = new Map<string, ChainHead>();
    const chainAt = (chain: string): ChainHead | undefined => planned.get(chain) ?? this.chainHeads.get(chain);
    for (const seal of seals) {
      try {
        const plan = planReplica(this.tables, owner, seal, chainAt, fastRoot, plans.at(-1));
        for (const { head } of plan.heads) planned.set(head.chainName, head);
        plans.push(plan);
      } catch (error) {
        if (error instanceof ReplicaError) return { plans, refused: error };
        throw error;
      }
    }
    return { plans };
  }

  /** After a replicated seal is in the store: durable, or a StoreWriteError (its retry then only syncs, above). */
  private async replicaDurable(owner: ReplicaOwner, height: number, sync: boolean): Promise<void> {
    try {
      if (sync) await syncEnvironment(this.tables.root);
      else await this.tables.root.flushed;
    } catch (error) {
      throw new StoreWriteError(
        `seal of gateway ${JSON.stringify(owner.id)} at directory ${height} is in the store but not known to be on disk: ${describeStoreError(error)}`,
      );
    }
  }

  /**
   * The returning owner's truncation (truncation.ts, docs/replicas.md part 6):
   * every entry block this gateway sealed into its own directories above
   * `after` — the height its standby had acknowledged when it took the chains
   * over, so none of them was ever reported committed — is removed with its
   * seq index and frame id rows, each chain's head going back to its last
   * block at or below `after`; the directories stay, their blocks listed in
   * `ledger.truncated` so reads and `verify` name the truncation. One
   * transaction with `alongside`'s writes, durable when this resolves; queued
   * with seals. Nothing left to remove (a repeat, or `after` at or above the
   * last directory) writes nothing and answers empty.
   */
  truncateUnreplicated(request: TruncationRequest, alongside?: TruncationWrites): Promise<TruncationResult> {
    const run = this.sealTail.then(() => this.truncateNow(request, alongside));
    this.sealTail = run.catch(() => undefined);
    return run;
  }

  private async truncateNow(request: TruncationRequest, alongside?: TruncationWrites): Promise<TruncationResult> {
    if (this.readOnly) throw new Error('ledger: opened read-only, cannot truncate');
    this.assertOpen();
    if (this.undurable !== null) throw new StoreWriteError('a seal is in the store but not yet durable; the truncation runs once it is');
    this.freshReads();
    const plan = planTruncation(this.tables, request, this.directoryHead, (chainId) => this.chainNameOf(chainId));
    const result = truncationResult(plan);
    const [marked] = plan.directories.keys();
    if (marked === undefined) return result;
    let reportedFailed = false;
    try {
      await this.tables.root.childTransaction(() => {
        writeTruncation(this.tables, plan);
        alongside?.(removedBlocks(plan), plan.mark);
      });
    } catch (error) {
      // As in sealNow: a commit lmdb reported failed may be in the store; its truncation record says.
      const failure = await commitFailureOf(error);
      this.freshReads();
      if (truncationOfDirectory(this.tables, marked) === null) throw failure;
      reportedFailed = true;
    }
    for (const chain of plan.chains) this.chainHeads.set(chain.chainName, chain.head);
    try {
      if (reportedFailed) await syncEnvironment(this.tables.root);
      else await this.tables.root.flushed;
    } catch (error) {
      throw new StoreWriteError(`the truncation after directory ${plan.after} is in the store but not known to be on disk: ${describeStoreError(error)}`);
    }
    return result;
  }

  /** Where this store has `ownerId`'s seals, for the shipping stream's `hello` (fresh on any thread). */
  replicaPosition(ownerId: string): ReplicaPosition {
    this.assertOpen();
    this.freshReads();
    return replicaPosition(this.tables, ownerId);
  }

  /** The credit book of `chain` as `ownerId` last shipped it with a seal (ShippedSeal.books), or null. */
  replicaBook(ownerId: string, chain: string): Buffer | null {
    this.assertOpen();
    this.freshReads();
    return replicaBook(this.tables, ownerId, chain);
  }

  /** `ownerId`'s directory record at `height`, the head signed at its size and its superseded mark, as replicated here; null when not here. */
  replicaDirectory(ownerId: string, height: number): ReplicaDirectory | null {
    this.assertOpen();
    if (!Number.isSafeInteger(height) || height < 0) return null;
    this.freshReads();
    return replicaDirectory(this.tables, ownerId, height);
  }

  /**
   * The owner's side: seal `height` as stored, for shipping to a standby; null
   * when there is no such directory. A superseded one (its blocks removed by
   * this gateway's truncation) comes with its mark and no blocks.
   */
  shippedSeal(height: number): ShippedSeal | null {
    this.assertOpen();
    if (!Number.isSafeInteger(height) || height < 0) return null;
    this.freshReads();
    return readShippedSeal(this.tables, height);
  }

  /** The highest directory height sealed here, −1 before the first seal (fresh on any thread). */
  sealedHeight(): number {
    this.assertOpen();
    if (!this.readOnly) return this.directoryHead.nextHeight - 1;
    this.freshReads();
    return loadDirectoryHead(this.tables).nextHeight - 1;
  }

  /** A chain's last `limit` client frame ids with their hashes, oldest first, within `maxBytes` of hashes (frame-ids.ts). */
  recentFrameIds(chainName: string, limit: number, maxBytes: number): RecentFrameId[] {
    this.assertOpen();
    this.freshReads();
    return recentFrameIds(this.tables, chainName, limit, maxBytes);
  }

  /** The entry hashes of seqs `seq` … `seq + count − 1` of a chain, from its sealed blocks; null when one is not there. */
  entryHashes(chainName: string, seq: number, count: number): Buffer | null {
    this.assertOpen();
    this.freshReads();
    return storedEntryHashes(this.tables, chainName, seq, seq + count);
  }

  private async sealNow(input: SealInput, alongside?: AlongsideWrites): Promise<SealResult> {
    if (this.readOnly) throw new Error('ledger: opened read-only, cannot seal');
    this.assertOpen();
    if (this.undurable !== null) return this.resumeUndurable(input, this.undurable);
    const checkEntryHashes = this.options.checkEntryHashes === true ? hashEntries : undefined;
    const plan = planSeal(input, this.chainHeads, this.directoryHead, { rootOf: fastRoot, checkEntryHashes });
    const directory = plan.directory;
    if (directory === null) return plan.result;
    const logStep = this.log?.plan(directory.sealed.hash) ?? null;
    let reportedFailed = false;
    try {
      await writePlan(this.tables, plan, alongside, logStep === null ? undefined : () => this.log!.write(logStep));
    } catch (error) {
      const failure = await commitFailureOf(error);
      // lmdb-js can fail a commit it already made visible: with overlapping
      // sync it writes the meta page, then fsyncs, and a failed fsync fails
      // the commit. So the store, not the error, says whether the seal is in.
      if (!this.reloadHeads(directory.nextHead, failure)) throw failure;
      reportedFailed = true;
    }
    // In the store: the heads follow it from here, whatever happens next.
    for (const block of plan.blocks) this.chainHeads.set(block.nextHead.chainName, block.nextHead);
    this.directoryHead = directory.nextHead;
    if (logStep !== null) this.log!.adopt(logStep);
    await this.makeDurable(plan, reportedFailed);
    this.anchorQueue.push(directory.anchor);
    return plan.result;
  }

  /**
   * After a commit that is in the store: one lmdb reported done was fsynced as
   * part of it, which `flushed` confirms (it also covers async writes another
   * module queued on the environment); one lmdb reported failed is synced
   * explicitly. If that fails the seal is kept as undurable: the heads already
   * include it, and the caller's retry of the same input only syncs again.
   */
  private async makeDurable(plan: SealPlan, reportedFailed: boolean): Promise<void> {
    try {
      if (reportedFailed) await syncEnvironment(this.tables.root);
      else await this.tables.root.flushed;
    } catch (error) {
      this.undurable = plan;
      throw new StoreWriteError(`directory ${plan.directory?.sealed.height} is in the store but not known to be on disk: ${describeStoreError(error)}`);
    }
  }

  /** The retry of a seal that is in the store but was not known durable: sync, then answer as the seal did. */
  private async resumeUndurable(input: SealInput, plan: SealPlan): Promise<SealResult> {
    const stored = plan.result.blocks
      .map((b) => `${b.chainName}@${b.firstSeq}+${b.count}`)
      .sort()
      .join(' ');
    const asked = input.blocks
      .map((b) => `${b.chainName}@${b.firstSeq}+${b.count}`)
      .sort()
      .join(' ');
    const height = plan.directory?.sealed.height;
    if (stored !== asked)
      throw new SealInputError(`seal: directory ${height} (${stored}) is in the store but not yet durable; seal it again before anything else (got ${asked})`);
    try {
      await syncEnvironment(this.tables.root);
    } catch (error) {
      throw new StoreWriteError(`directory ${height} is in the store but not known to be on disk: ${describeStoreError(error)}`);
    }
    this.undurable = null;
    if (plan.directory !== null) this.anchorQueue.push(plan.directory.anchor);
    return plan.result;
  }

  /**
   * After a failed seal transaction: reads the heads back from the store and
   * adopts them, so the heads always equal the store's. Returns whether the
   * store holds the seal whose directory head would be `planned`. Throws when
   * the store cannot be read back (the environment is unusable) or moved in a
   * way no seal of this ledger explains (another writer).
   */
  private reloadHeads(planned: DirectoryHead, failure: Error): boolean {
    let chains: ChainHead[];
    let directory: DirectoryHead;
    try {
      this.freshReads();
      chains = loadChainHeads(this.tables);
      directory = loadDirectoryHead(this.tables);
    } catch (readError) {
      // lmdb-js shares one native environment per file among all threads of a
      // process, and LMDB allows only one per process: reopening it here would
      // hand back the same broken one while the front door's readers hold it.
      const restart = isStorePanic(failure) || isStorePanic(readError) ? '; the lmdb environment is unusable (MDB_PANIC) until the gateway is restarted' : '';
      throw new StoreWriteError(`${failure.message}; reading the store back failed too: ${describeStoreError(readError)}${restart}`);
    }
    const landed = sameHead(directory, planned);
    if (!landed && !sameHead(directory, this.directoryHead)) {
      this.adoptHeads(chains, directory);
      this.log?.reload();
      throw new SealConflictError(
        `${failure.message}; and the store's directory head moved to height ${directory.nextHeight - 1} under this ledger (another writer?)`,
      );
    }
    // Nothing written: these equal the heads held, and adopting them changes nothing.
    // Landed: the caller adopts the plan's heads, which are these.
    if (!landed) this.adoptHeads(chains, directory);
    return landed;
  }

  // In place, so an unchanged chain keeps its place in heads().
  private adoptHeads(chains: ChainHead[], directory: DirectoryHead): void {
    const stored = new Set(chains.map((h) => h.chainName));
    for (const name of this.chainHeads.keys()) if (!stored.has(name)) this.chainHeads.delete(name);
    for (const head of chains) this.chainHeads.set(head.chainName, head);
    this.directoryHead = directory;
  }

  /**
   * Where a restarted gateway resumes: each chain's next height and seq, and the
   * directory's. A writer answers from memory (equal to the store after every
   * seal); a readOnly ledger reads the store, since another thread writes it.
   */
  heads(): LedgerHeads {
    this.assertOpen();
    if (this.readOnly) {
      this.freshReads();
      return { chains: loadChainHeads(this.tables), directory: loadDirectoryHead(this.tables) };
    }
    return {
      chains: [...this.chainHeads.values()].map((h) => ({ ...h, chainId: Buffer.from(h.chainId), lastBlockHash: Buffer.from(h.lastBlockHash) })),
      directory: { nextHeight: this.directoryHead.nextHeight, lastHash: Buffer.from(this.directoryHead.lastHash) },
    };
  }

  /** Every chain in the store with its head, read from the store (fresh on any thread). */
  chains(): ChainView[] {
    this.assertOpen();
    this.freshReads();
    return loadChainHeads(this.tables).map(chainView);
  }

  /**
   * The height the chain's next block takes here (0 for a chain with none):
   * read from the last block's key, without the block itself (a chain head
   * decodes the last record, megabytes lmdb copies out).
   */
  chainNextHeight(chainName: string): number {
    this.assertOpen();
    this.freshReads();
    const key = lastKeyOfChain(this.tables.blocks, chainIdOf(chainName));
    return key === undefined ? 0 : readU64(key, HASH_BYTES) + 1;
  }

  chain(chainName: string): ChainView | null {
    this.assertOpen();
    this.freshReads();
    const chainId = chainIdOf(chainName);
    return this.tables.chains.doesExist(chainId) ? chainView(loadChainHead(this.tables, chainId, chainName)) : null;
  }

  /**
   * The entry at `seq` with its block and directory proofs, re-checked; null
   * when unknown. With `headSize`, also the directory hash's path into the log
   * of that size and the head signed at it.
   */
  entryProof(chainName: string, seq: number, headSize?: number): EntryProof | null {
    this.assertOpen();
    if (!Number.isSafeInteger(seq) || seq < 0) return null;
    this.freshReads();
    const chainId = chainIdOf(chainName);
    const height = this.heightOfSeq(chainId, seq);
    if (height === undefined) return this.notFoundEntry(chainName, chainId, seq);
    const place = { chain: chainName, height, seq };
    const record = this.blockRecord(chainId, height, place);
    if (record === undefined) throw new LedgerCorruptionError(place, 'seq index points at a missing block');
    if (seq >= record.header.firstSeq + record.header.count) return this.notFoundEntry(chainName, chainId, seq);
    // The block record may sit in lmdb's reused read buffer: finish with it before the next read.
    const part = blockProofPart(chainName, chainId, height, seq, record, fastRoot);
    if (part.directoryHeight === ADOPTED_DIRECTORY) return { ...part.proof, directory: this.adoptedDirectory(chainId, height, part.blockHash, place) };
    const directory = this.directoryRecord(part.directoryHeight, place);
    if (directory === undefined) throw new LedgerCorruptionError(place, `directory ${part.directoryHeight} is missing`);
    const proof: EntryProof = { ...part.proof, directory: directoryProofPart(place, chainId, part.blockHash, part.directoryHeight, directory, fastRoot) };
    if (headSize !== undefined) proof.head = this.headProof(part.directoryHeight, headSize, place);
    return proof;
  }

  /** An entry that is not here: null, or a SupersededError when a truncation removed it. */
  private notFoundEntry(chainName: string, chainId: Buffer, seq: number): null {
    const range = truncationOfSeq(this.tables, chainId, seq);
    if (range === null) return null;
    throw new SupersededError(supersededMessage(`entry ${seq} of chain ${JSON.stringify(chainName)}`, range));
  }

  /** An entry proof's `head` part: the path, the root, and the head signed at that size when there is one. */
  private headProof(height: number, size: number, place: LedgerPlace): HeadProof {
    if (size <= height)
      throw new LogRangeError(
        `entry ${place.seq} of chain "${place.chain}" is in directory ${height}, which is not in the log of size ${size}: ask for a head of size ${height + 1} or more`,
      );
    const { path, root } = this.headPath(height, size, { ...place, directoryHeight: height });
    const signed = storedHead(this.tables, size);
    if (signed === null) return { size, root: root.toString('hex'), path };
    if (!signed.root.equals(root))
      throw new LedgerCorruptionError({ ...place, directoryHeight: height }, `the head signed at size ${size} has another root than the directory log`);
    return { ...signedHeadView(signed), path };
  }

  /** Directory `height`'s hash, its path into the log of `size` and that log's root, checked against each other. */
  private headPath(height: number, size: number, place: LedgerPlace): { hash: Buffer; path: string[]; root: Buffer } {
    const proofs = storedLogProofs(this.tables);
    if (size > proofs.size) throw new LogRangeError(`size ${size} is beyond the directory log's ${proofs.size} directory hashes`);
    const record = this.directoryRecord(height, place);
    if (record === undefined) throw new LogRangeError(`no directory block ${height}`);
    const hash = sha256(record.headerBytes);
    const path = proofs.inclusion(height, size);
    const root = proofs.root(size);
    if (!verifyAuditPath(leafHash(hash), height, size, path, root))
      throw new LedgerCorruptionError(
        place,
        `directory ${height}'s hash is not the directory log's leaf ${height}: the directory block changed after it was logged`,
      );
    return { hash, path: path.map((p) => p.toString('hex')), root };
  }

  block(chainName: string, height: number): BlockView | null {
    this.assertOpen();
    if (!Number.isSafeInteger(height) || height < 0) return null;
    this.freshReads();
    const chainId = chainIdOf(chainName);
    const place = { chain: chainName, height };
    const record = this.blockRecord(chainId, height, place);
    if (record === undefined) {
      const range = truncationOfBlock(this.tables, chainId, height);
      if (range === null) return null;
      throw new SupersededError(supersededMessage(`block ${height} of chain ${JSON.stringify(chainName)}`, range));
    }
    if (!record.header.chainId.equals(chainId) || record.header.height !== height)
      throw new LedgerCorruptionError(place, 'stored header names another chain or height');
    // The view first: the record may sit in lmdb's reused read buffer, which reading the proof overwrites.
    const view = blockView(chainName, record);
    if (record.directoryHeight !== ADOPTED_DIRECTORY) return view;
    const adopted = this.adoptedProof(chainId, height, place);
    return { ...view, directory: adopted.directory.height, gateway: adopted.gateway };
  }

  /**
   * Blocks of a chain from `fromHeight` on, each with its directory proof, for
   * another gateway adopting the chain: at least one block when there is one,
   * then as many as fit in `maxBytes`. Local blocks carry this gateway's
   * directory proof naming `self`; adopted ones the proof they came with.
   */
  exportBlocks(chainName: string, fromHeight: number, maxBytes: number, self: SealingGateway): { blocks: ExportedBlock[]; next: number | null } {
    this.assertOpen();
    this.freshReads();
    const chainId = chainIdOf(chainName);
    const blocks: ExportedBlock[] = [];
    let bytes = 0;
    for (let height = fromHeight; ; height++) {
      const place = { chain: chainName, height };
      // A copy (get, not getBinaryFast): the bytes leave the thread.
      const copy = this.tables.blocks.get(chainKey(chainId, height));
      if (copy === undefined) return { blocks, next: null };
      if (blocks.length > 0 && bytes + copy.length > maxBytes) return { blocks, next: height };
      const record = decodeOrCorrupt(() => decodeBlockRecord(copy), place);
      const blockHash = sha256(record.headerBytes);
      let proof: AdoptedProof;
      if (record.directoryHeight === ADOPTED_DIRECTORY) proof = this.adoptedProof(chainId, height, place);
      else {
        const directory = this.directoryRecord(record.directoryHeight, place);
        if (directory === undefined) throw new LedgerCorruptionError(place, `directory ${record.directoryHeight} is missing`);
        proof = { gateway: self, directory: directoryProofPart(place, chainId, blockHash, record.directoryHeight, directory, fastRoot) };
      }
      blocks.push({ record: copy, proof });
      bytes += copy.length;
    }
  }

  directoryBlock(height: number): DirectoryView | null {
    this.assertOpen();
    if (!Number.isSafeInteger(height) || height < 0) return null;
    this.freshReads();
    const record = this.directoryRecord(height, { directoryHeight: height });
    if (record === undefined) return null;
    return directoryView(record, (chainId) => this.chainNameOf(chainId));
  }

  /** Anchor records from `fromHeight` on, at most `limit` (capped at 1000). */
  anchors(fromHeight = 0, limit = 100): AnchorView[] {
    this.assertOpen();
    if (!Number.isSafeInteger(fromHeight) || fromHeight < 0) return [];
    this.freshReads();
    const take = Number.isFinite(limit) ? Math.max(0, Math.min(Math.floor(limit), 1000)) : 0;
    if (take === 0) return [];
    const rows = this.tables.anchors.getRange({ start: heightKey(fromHeight), limit: take });
    return [...rows].map(({ key, value }) => {
      const height = readU64(key, 0);
      const { hash, sealedAt } = decodeOrCorrupt(() => decodeAnchorRecord(value), { directoryHeight: height });
      return anchorJson({ height, hash, sealedAt });
    });
  }

  /** Entries in the blocks of directory `height` (from their headers alone), or null when there is no such directory. */
  directoryEntryCount(height: number): number | null {
    this.assertOpen();
    if (!Number.isSafeInteger(height) || height < 0) return null;
    this.freshReads();
    const record = this.directoryRecord(height, { directoryHeight: height });
    if (record === undefined) return null;
    let entries = 0;
    // A superseded directory's blocks are gone (truncation.ts): they hold no entries any more.
    if (truncationOfDirectory(this.tables, height) !== null) return 0;
    for (const block of record.entries) {
      const bytes = this.tables.blocks.getBinaryFast(chainKey(block.chainId, block.height));
      if (bytes === undefined)
        throw new LedgerCorruptionError(
          { directoryHeight: height },
          `directory lists block ${block.height} of chain ${block.chainId.toString('hex')}, which is not in the store`,
        );
      entries += decodeOrCorrupt(() => decodeEntryBlockHeader(blockRecordHeader(bytes)), { directoryHeight: height }).count;
    }
    return entries;
  }

  /**
   * Signs the log's present size again at the present time, after any seal in
   * flight (at start, and while no seal brings a new head). Durable when it
   * resolves; null without a signer.
   */
  signHead(): Promise<SignedHeadRecord | null> {
    if (this.readOnly) return Promise.reject(new Error('ledger: opened read-only, cannot sign'));
    const run = this.sealTail.then(() => this.log?.sign() ?? null);
    this.sealTail = run.catch(() => undefined);
    return run;
  }

  /** The signed head of `size` (default: the largest), or null when none was signed at that size. */
  signedHead(size?: number): SignedHead | null {
    this.assertOpen();
    this.freshReads();
    const head = size === undefined ? latestStoredHead(this.tables) : storedHead(this.tables, size);
    return head === null ? null : signedHeadView(head);
  }

  /** RFC 9162 consistency proof from size `from` to size `to`; a LogRangeError beyond the stored log. */
  logConsistency(from: number, to: number): ConsistencyProofView {
    this.assertOpen();
    this.freshReads();
    const proofs = storedLogProofs(this.tables);
    const path = proofs.consistency(from, to);
    if (!verifyConsistency(from, to, proofs.root(from), proofs.root(to), path)) {
      throw new LedgerCorruptionError({}, `the directory log's consistency proof from ${from} to ${to} does not verify against its own roots`);
    }
    return { from, to, path: path.map((p) => p.toString('hex')) };
  }

  /** The audit path of directory hash `height` in the log of `size`, re-checked against the directory's record. */
  logInclusion(height: number, size: number): InclusionProofView {
    this.assertOpen();
    this.freshReads();
    const part = this.headPath(height, size, { directoryHeight: height });
    return { height, size, hash: part.hash.toString('hex'), path: part.path };
  }

  /** Resolves when every anchor sink has been handed every directory sealed so far. */
  anchorsSettled(): Promise<void> {
    return this.anchorQueue.settled();
  }

  /** Waits for queued seals and anchor sinks, then closes this thread's handle on the environment. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.sealTail;
    await this.anchorQueue.settled();
    this.closed = true;
    await this.tables.root.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('ledger: closed');
  }

  // lmdb-js renews its read snapshot on a timer; a reader reacting to another
  // thread's "committed" message could otherwise miss that very commit.
  private freshReads(): void {
    this.tables.root.resetReadTxn();
  }

  // chainId → name never changes once stored, so lookups are cached for the directory views.
  private chainNameOf(chainId: Buffer): string {
    const key = chainId.toString('hex');
    const cached = this.chainNames.get(key);
    if (cached !== undefined) return cached;
    const name = chainNameOf(this.tables, chainId);
    if (name === undefined) return '';
    this.chainNames.set(key, name);
    return name;
  }

  private adoptedProof(chainId: Buffer, height: number, place: LedgerPlace): AdoptedProof {
    const bytes = this.tables.adopted.get(chainKey(chainId, height));
    if (bytes === undefined) throw new LedgerCorruptionError(place, 'an adopted block without its directory proof');
    return decodeOrCorrupt(() => decodeAdoptedProof(bytes), place);
  }

  /** An adopted block's directory proof, re-checked before it leaves, naming the gateway whose directory holds it. */
  private adoptedDirectory(chainId: Buffer, height: number, blockHash: Buffer, place: LedgerPlace): DirectoryProof {
    const proof = this.adoptedProof(chainId, height, place);
    try {
      checkDirectoryProof(chainId, blockHash, proof, (problem) => {
        throw new LedgerCorruptionError(place, problem);
      });
    } catch (error) {
      if (error instanceof LedgerCorruptionError) throw error;
      throw new LedgerCorruptionError(place, error instanceof Error ? error.message : String(error));
    }
    return { ...proof.directory, gateway: proof.gateway };
  }

  private heightOfSeq(chainId: Buffer, seq: number): number | undefined {
    const key = lastKeyOfChain(this.tables.seqIndex, chainId, seq);
    if (key === undefined) return undefined;
    const value = this.tables.seqIndex.get(key);
    return value === undefined ? undefined : readU64(value, 0);
  }

  private blockRecord(chainId: Buffer, height: number, place: { chain?: string; height?: number; seq?: number }): BlockRecord | undefined {
    const bytes = this.tables.blocks.getBinaryFast(chainKey(chainId, height));
    return bytes === undefined ? undefined : decodeOrCorrupt(() => decodeBlockRecord(bytes), place);
  }

  private directoryRecord(height: number, place: { chain?: string; height?: number; seq?: number; directoryHeight?: number }): DirectoryRecord | undefined {
    const bytes = this.tables.directories.getBinaryFast(heightKey(height));
    return bytes === undefined ? undefined : decodeOrCorrupt(() => decodeDirectoryRecord(bytes), { ...place, directoryHeight: height });
  }
}

function sameHead(a: DirectoryHead, b: DirectoryHead): boolean {
  return a.nextHeight === b.nextHeight && a.lastHash.equals(b.lastHash);
}

function decodeOrCorrupt<T>(decode: () => T, place: ConstructorParameters<typeof LedgerCorruptionError>[0]): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof RecordFormatError || error instanceof RangeError) throw new LedgerCorruptionError(place, error.message);
    throw error;
  }
}

/**
 * One asynchronous child transaction: lmdb-js runs the callback on this
 * thread but commits on its own write thread, so the sealer goes on copying
 * entries out of the lane rings while the disk works (with transactionSync the
 * sealer thread stood still for the whole commit, and the rings filled up).
 * A throw inside aborts the child transaction: nothing of this seal is written.
 */
async function writePlan(tables: LedgerTables, plan: SealPlan, alongside?: AlongsideWrites, writeLog?: () => SignedHeadRecord | null): Promise<void> {
  const directory = plan.directory;
  if (directory === null) return;
  await tables.root.childTransaction(() => {
    // A second writer on the same directory would have stale heads; refuse rather than overwrite.
    const directoryKey = heightKey(directory.sealed.height);
    if (tables.directories.doesExist(directoryKey)) throw new SealConflictError(`seal: directory ${directory.sealed.height} already exists in the store`);
    for (const block of plan.blocks) {
      const { chainId, height, firstSeq, chainName } = block.sealed;
      const key = chainKey(chainId, height);
      if (tables.blocks.doesExist(key)) throw new SealConflictError(`seal: chain ${JSON.stringify(chainName)} block ${height} already exists in the store`);
      tables.blocks.putSync(key, block.record);
      tables.seqIndex.putSync(chainKey(chainId, firstSeq), heightKey(height));
      if (block.isNewChain) tables.chains.putSync(chainId, Buffer.from(chainName, 'utf8'));
      for (const row of block.frameIds) tables.frameIds.putSync(row.key, row.value);
    }
    tables.directories.putSync(directoryKey, directory.record);
    tables.anchors.putSync(directoryKey, directory.anchorRecord);
    const head = writeLog?.() ?? null;
    if (head !== null) directory.sealed.head = head;
    alongside?.(plan.result);
  });
}

// The optional seal-time check, batched through the native hasher.
function hashEntries(contents: Uint8Array, contentEnds: Uint32Array, count: number): Buffer {
  const spans = new Int32Array(count * 2);
  let start = 0;
  for (let i = 0; i < count; i++) {
    const end = contentEnds[i] ?? start;
    spans[2 * i] = start;
    spans[2 * i + 1] = end - start;
    start = end;
  }
  const out = Buffer.allocUnsafe(count * HASH_BYTES);
  hashing.sha256Spans(contents, spans, count, out, 0);
  return out;
}

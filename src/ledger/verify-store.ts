// Offline check of a whole ledger directory. One pass in directory order (which
// is time order, and the order lmdb wrote the blocks in: the file is read mostly
// front to back): each directory's links, root and anchor, then each entry block
// it lists. Re-hashing every entry's content, the bulk of the work, runs on every
// core once the store proves large (block-check-pool.ts); the links are
// followed here, in order. Counts at
// the end prove that the directories list exactly the blocks stored. Stops at
// the first break.
import type { RootDatabase, Transaction } from 'lmdb';
import { BlockCheckFailed, BlockChecks, CHECK_THREADS_AFTER_BYTES, defaultCheckThreads, type CountsBefore } from './block-check-pool.js';
import { entryLengths } from './block-check.js';
import { HASH_BYTES, sha256, zeroHash } from './hash.js';
import { chainIdOf, compareChainIds, type EntryBlockHeader } from './headers.js';
import { ADOPTED_DIRECTORY, chainKey, decodeBlockRecord, decodeDirectoryRecord, heightKey, readU64 } from './records.js';
import { checkDirectoryProof, decodeAdoptedProof } from './adopted.js';
import type { BlockRecord, DirectoryEntry, DirectoryRecord } from './records.js';
import { directoryLeaves, fastRoot } from './roots.js';
import { assertStoreExists, openTables } from './tables.js';
import type { LedgerTables } from './tables.js';
import { LogFrontier, logNodeKey } from './directory-log.js';
import { decodeHeadRecord, type SignedHeadRecord } from './signed-heads.js';
import { storedLogSize } from './log-store.js';
import type { TruncationMark } from './truncation.js';
import { walkReplicaDirectories, type ReplicatedReport } from './verify-replicas.js';

export interface StoreReport {
  ok: boolean;
  chains: number;
  blocks: number;
  entries: number;
  directories: number;
  /** Of `blocks`, those adopted from other gateways of a fleet (their directories are those gateways'). */
  adopted?: number;
  /** The first thing that does not hold, e.g. `chain "bank-1" block 7: root mismatch`. */
  firstBreak?: string;
  /** What each extra check found, one line each (e.g. the credits'); absent without extra checks. */
  checks?: string[];
  /** The directory log: hashes its stored tree holds, and signed heads found consistent with it. */
  log?: { logged: number; heads: number };
  /**
   * Directories whose blocks a returning owner's truncation removed (truncation.ts): they stay in the
   * directory chain and log, their blocks do not; one row per truncation. Absent when there was none.
   */
  superseded?: SupersededReport[];
  /**
   * On a standby: each owner's directories held here (verify-replicas.ts), with those superseded by the
   * owner's truncation (shipped with their mark, no blocks). Absent when the store holds none.
   */
  replicated?: ReplicatedReport[];
}

/** One truncation as the walk found it: "directories 5–7 (4 blocks) superseded by failover at token T (taken over by G)". */
export interface SupersededReport {
  by: string;
  token: number;
  at: number;
  directories: { from: number; to: number; count: number };
  blocks: number;
}

/** An entry block as the walk has checked it, for checks of other modules' tables. */
export interface CheckedBlock {
  chainName: string;
  height: number;
  firstSeq: number;
  count: number;
  /** ADOPTED_DIRECTORY (-1) for a block adopted from another gateway. */
  directoryHeight: number;
  /** Adopted from another gateway of a fleet: its burns were recorded there, and its credits came with the chain. */
  adopted: boolean;
  /** Content length of the block's entry i. */
  entryBytes(i: number): number;
}

/**
 * A check of another module's tables in the store (src/credits checks burns
 * against blocks), run in the same read snapshot as the ledger's walk. Each
 * step returns the first break it finds, or undefined.
 */
export interface StoreCheck {
  /** Opens its tables; before the snapshot is taken (a table opened later is not in it). */
  open(root: RootDatabase): void;
  begin(transaction: Transaction): string | undefined;
  /** Every entry block, in directory order, once the ledger found it sound. */
  block(block: CheckedBlock): string | undefined;
  end(): string | undefined;
  /** One line on what was checked, for the report. */
  summary(): string;
  /** Each signed head, once the walk found its root to be the log's at its size (src/heads checks the signature). */
  head?(head: SignedHeadRecord): string | undefined;
}

export interface VerifyOptions {
  /** Checks of other modules' tables, run alongside the ledger's walk. */
  checks?: readonly StoreCheck[];
  /** Called after each directory block with what has been checked so far. */
  onProgress?: (checked: StoreReport) => void;
  /**
   * Threads re-hashing the blocks' entries, started at once; 0 does it in the walk's own thread. Default: one per
   * core, started once the store proves large enough to be worth them (CHECK_THREADS_AFTER_BYTES).
   */
  checkThreads?: number;
}

/**
 * Walks the ledger in `dir` from height 0, with `checks` alongside. Safe while a gateway writes: it reads one snapshot.
 * In-process: lmdb crashing on a damaged file takes the caller with it (verifyStoreIsolated does not).
 */
export async function verifyStore(dir: string, options: VerifyOptions = {}): Promise<StoreReport> {
  const checks = options.checks ?? [];
  assertStoreExists(dir);
  const tables = openTables(dir, true);
  for (const check of checks) check.open(tables.root);
  const transaction = tables.root.useReadTransaction();
  const blockChecks =
    options.checkThreads === undefined ? new BlockChecks(defaultCheckThreads(), CHECK_THREADS_AFTER_BYTES) : new BlockChecks(options.checkThreads);
  const walk = new StoreWalk(tables, transaction, checks, blockChecks, options.onProgress);
  try {
    let walkBreak: string | undefined;
    try {
      await walk.run();
    } catch (error) {
      if (error instanceof StoreBreak) walkBreak = error.message;
      else if (!(error instanceof BlockCheckFailed)) throw error;
    }
    // A block handed to a check thread before the walk's own break came first.
    const blockProblem = await blockChecks.settle();
    if (blockProblem !== undefined) return walk.report(blockProblem.problem, blockProblem.before);
    return walk.report(walkBreak);
  } finally {
    transaction.done();
    await Promise.all([blockChecks.close(), tables.root.close()]);
  }
}

class StoreBreak extends Error {}

function fail(message: string): never {
  throw new StoreBreak(message);
}

interface ChainWalk {
  nextHeight: number;
  nextSeq: number;
  prevHash: Buffer;
}

const U64_MAX = Buffer.alloc(8, 0xff);

class StoreWalk {
  private readonly names = new Map<string, string>();
  private readonly chainsSeen = new Map<string, ChainWalk>();
  private blocks = 0;
  private adopted = 0;
  private entries = 0;
  private directories = 0;
  /** The directory log recomputed from the directory hashes, checked against the stored tree and heads as it grows. */
  private log = LogFrontier.empty;
  private logged = 0;
  private heads = 0;
  /** By truncation (by ‖ token): what the walk found of it. */
  private readonly superseded = new Map<string, SupersededReport>();
  private replicated: ReplicatedReport[] = [];

  constructor(
    private readonly tables: LedgerTables,
    private readonly transaction: Transaction,
    private readonly checks: readonly StoreCheck[],
    private readonly blockChecks: BlockChecks,
    private readonly onProgress?: (checked: StoreReport) => void,
  ) {}

  async run(): Promise<void> {
    for (const check of this.checks) failIf(check.begin(this.transaction));
    this.loadChainNames();
    this.logged = storedLogSize(this.tables, this.transaction);
    this.checkHead(0);
    await this.walkDirectories();
    // Adopted blocks after a chain's last local one (or of a chain with no local block).
    for (const chainHex of this.names.keys()) await this.walkAdopted(chainHex, Number.MAX_SAFE_INTEGER);
    this.checkNothingUnlisted();
    this.checkLogEnds();
    this.replicated = walkReplicaDirectories(this.tables, this.transaction, fail);
    for (const check of this.checks) failIf(check.end());
  }

  /** With a break: what was checked before it (`before`: before the block whose entries broke, when a check thread found it). */
  report(firstBreak?: string, before?: CountsBefore): StoreReport {
    const counts = {
      chains: this.names.size,
      ...(before ?? this.countsSoFar()),
      ...(this.adopted > 0 ? { adopted: this.adopted } : {}),
      log: { logged: this.logged, heads: this.heads },
      ...(this.superseded.size > 0 ? { superseded: [...this.superseded.values()].map((s) => ({ ...s, directories: { ...s.directories } })) } : {}),
      ...(this.replicated.length > 0 ? { replicated: this.replicated } : {}),
    };
    if (firstBreak !== undefined) return { ok: false, ...counts, firstBreak };
    return this.checks.length === 0 ? { ok: true, ...counts } : { ok: true, ...counts, checks: this.checks.map((c) => c.summary()) };
  }

  private countsSoFar(): CountsBefore {
    return { blocks: this.blocks, entries: this.entries, directories: this.directories };
  }

  private loadChainNames(): void {
    for (const { key, value } of this.tables.chains.getRange({ transaction: this.transaction })) {
      const name = value.toString('utf8');
      if (!chainIdOf(name).equals(key)) fail(`chain ${JSON.stringify(name)}: stored chainId is not SHA-256 of its name`);
      this.names.set(key.toString('hex'), name);
    }
  }

  private async walkDirectories(): Promise<void> {
    let prevHash = zeroHash();
    for (const { key, value } of this.tables.directories.getRange({ transaction: this.transaction })) {
      const height = this.directories;
      if (readU64(key, 0) !== height) fail(`directory ${height}: missing (next stored is ${readU64(key, 0)})`);
      const record = decodeOr(() => decodeDirectoryRecord(value), `directory ${height}`);
      prevHash = this.checkDirectory(height, record, prevHash);
      this.checkLog(height, prevHash);
      const gone = this.supersededIn(height);
      let removed = 0;
      for (const entry of record.entries) {
        if (gone?.blocks.has(`${entry.chainId.toString('hex')}:${entry.height}`) === true) {
          this.checkSuperseded(entry, height, gone.report);
          removed++;
        } else await this.checkBlock(entry, height);
      }
      if (gone !== undefined && removed !== gone.blocks.size) fail(`directory ${height}'s truncation record names blocks the directory does not list`);
      this.directories++;
      this.onProgress?.(this.report());
    }
  }

  /**
   * The blocks of directory `height` a truncation removed (`ledger.truncated`), as chainHex:height, and the
   * truncation counted in the report; undefined when it has none.
   */
  private supersededIn(height: number): { blocks: Set<string>; report: SupersededReport } | undefined {
    const bytes = this.tables.truncated.get(heightKey(height), { transaction: this.transaction });
    if (bytes === undefined) return undefined;
    const row = decodeOr(
      () => JSON.parse(bytes.toString('utf8')) as TruncationMark & { blocks: [string, number][] },
      `directory ${height}'s truncation record`,
    );
    if (!Array.isArray(row.blocks)) fail(`directory ${height}'s truncation record lists no blocks`);
    const key = `${row.by}\u0000${row.token}`;
    const report = this.superseded.get(key) ?? { by: row.by, token: row.token, at: row.at, directories: { from: height, to: height, count: 0 }, blocks: 0 };
    report.directories.to = height;
    report.directories.count++;
    this.superseded.set(key, report);
    const blocks = decodeOr(
      () => new Set(row.blocks.map(([chain, blockHeight]) => `${chainIdOf(chain).toString('hex')}:${blockHeight}`)),
      `directory ${height}'s truncation record`,
    );
    return { blocks, report };
  }

  /** A listed block a truncation removed: its directory still lists it (hash and all), the store must not hold it. */
  private checkSuperseded(entry: DirectoryEntry, directoryHeight: number, report: SupersededReport): void {
    const name = this.names.get(entry.chainId.toString('hex')) ?? fail(`directory ${directoryHeight}: lists unknown chain ${entry.chainId.toString('hex')}`);
    const bytes = this.tables.blocks.get(chainKey(entry.chainId, entry.height), { transaction: this.transaction });
    // The height may hold a later block (sealed again, or adopted from the gateway that took the chain over): not this one.
    if (bytes !== undefined) {
      const record = decodeOr(() => decodeBlockRecord(bytes), `chain ${JSON.stringify(name)} block ${entry.height}`);
      if (record.directoryHeight === directoryHeight && sha256(record.headerBytes).equals(entry.blockHash))
        fail(
          `chain ${JSON.stringify(name)} block ${entry.height}: directory ${directoryHeight}'s truncation record says it was removed, but the store holds it`,
        );
    }
    report.blocks++;
  }

  private checkDirectory(height: number, record: DirectoryRecord, prevHash: Buffer): Buffer {
    const at = `directory ${height}`;
    const { header, entries } = record;
    if (header.height !== height) fail(`${at}: header says height ${header.height}`);
    if (!header.prevHash.equals(prevHash)) fail(`${at}: prev link broken`);
    if (header.count !== entries.length) fail(`${at}: header count ${header.count} but ${entries.length} blocks listed`);
    for (let i = 1; i < entries.length; i++) {
      const [a, b] = [entries[i - 1], entries[i]];
      const order = a && b ? compareChainIds(a.chainId, b.chainId) || a.height - b.height : 0;
      if (order >= 0) fail(`${at}: entries not in strict (chainId, height) order at ${i}`);
    }
    if (!fastRoot(directoryLeaves(entries), entries.length).equals(header.root)) fail(`${at}: root mismatch`);
    const hash = sha256(record.headerBytes);
    this.checkAnchor(height, hash, header.sealedAt);
    return hash;
  }

  /**
   * Adds directory `height`'s hash to the recomputed log: the stored tree must
   * hold the same nodes (where it reaches), and a head signed at the new size
   * must have the log's root — a head that does not is the gateway's signature
   * on a history other than the store's.
   */
  private checkLog(height: number, hash: Buffer): void {
    const step = this.log.append(hash);
    this.log = step.next;
    if (height < this.logged) {
      for (const node of step.written) {
        const stored = this.tables.log.get(logNodeKey(node.level, node.index), { transaction: this.transaction });
        if (stored === undefined || !stored.equals(node.hash))
          fail(`directory log: its node (${node.level}, ${node.index}) is not the one directory ${height}'s hash gives`);
      }
    }
    this.checkHead(height + 1);
  }

  private checkHead(size: number): void {
    const bytes = this.tables.heads.get(heightKey(size), { transaction: this.transaction });
    if (bytes === undefined) return;
    const head = decodeOr(() => decodeHeadRecord(size, bytes), `the signed head of size ${size}`);
    if (!head.root.equals(this.log.root()))
      fail(
        `the signed head of size ${size} has root ${head.root.toString('hex')}, but the directory log's root at that size is ${this.log.root().toString('hex')}: the store's history is not the one its gateway signed`,
      );
    for (const check of this.checks) failIf(check.head?.(head));
    this.heads++;
  }

  /** Nothing of the log beyond the directories: no leaf, and no signed head of a larger size. */
  private checkLogEnds(): void {
    if (this.logged > this.directories) fail(`directory log: it holds ${this.logged} directory hashes but the store ${this.directories} directory blocks`);
    for (const key of this.tables.heads.getKeys({ reverse: true, limit: 1, transaction: this.transaction })) {
      const size = readU64(key, 0);
      if (size > this.directories) fail(`a head is signed at size ${size}, beyond the store's ${this.directories} directory blocks`);
    }
  }

  private checkAnchor(height: number, hash: Buffer, sealedAt: number): void {
    const anchor = this.tables.anchors.get(heightKey(height), { transaction: this.transaction });
    if (anchor === undefined) fail(`directory ${height}: anchor record missing`);
    if (anchor.length !== HASH_BYTES + 8 || !anchor.subarray(0, HASH_BYTES).equals(hash) || readU64(anchor, HASH_BYTES) !== sealedAt) {
      fail(`directory ${height}: anchor record does not match the directory hash`);
    }
  }

  private async checkBlock(entry: DirectoryEntry, directoryHeight: number): Promise<void> {
    const chainHex = entry.chainId.toString('hex');
    const name = this.names.get(chainHex) ?? fail(`directory ${directoryHeight}: lists unknown chain ${chainHex}`);
    const at = `chain ${JSON.stringify(name)} block ${entry.height}`;
    // Blocks adopted from other gateways come between this chain's local ones where their heights fall.
    await this.walkAdopted(chainHex, entry.height);
    const chain = this.chainsSeen.get(chainHex) ?? { nextHeight: 0, nextSeq: 0, prevHash: zeroHash() };
    if (entry.height !== chain.nextHeight) fail(`${at}: listed in directory ${directoryHeight} but block ${chain.nextHeight} comes next`);
    const bytes = this.tables.blocks.get(chainKey(entry.chainId, entry.height), { transaction: this.transaction });
    if (bytes === undefined) fail(`${at}: missing`);
    const record = decodeOr(() => decodeBlockRecord(bytes), at);
    this.checkBlockLinks(at, entry, directoryHeight, record, chain);
    this.checkSeqIndex(at, entry, record.header.firstSeq);
    await this.checkEntries(name, at, directoryHeight, record, bytes);
    this.advance(chainHex, entry.height, record, entry.blockHash);
  }

  /**
   * Hands the block's entries to the check threads and runs the other modules'
   * checks on it. Their entry lengths are read first: `bytes` (and `record`,
   * which aliases them) are given away.
   */
  private async checkEntries(chainName: string, at: string, directoryHeight: number, record: BlockRecord, bytes: Buffer): Promise<void> {
    const lengths = this.checks.length > 0 ? decodeOr(() => entryLengths(record), at) : undefined;
    this.blockChecks.check(at, bytes, this.countsSoFar());
    if (lengths !== undefined) this.runChecks(chainName, directoryHeight, record.header, lengths);
    await this.blockChecks.room();
  }

  private advance(chainHex: string, height: number, record: BlockRecord, blockHash: Buffer): void {
    this.chainsSeen.set(chainHex, {
      nextHeight: height + 1,
      nextSeq: record.header.firstSeq + record.header.count,
      prevHash: blockHash,
    });
    this.blocks++;
    this.entries += record.header.count;
  }

  /**
   * The chain's adopted blocks from where the walk has it, below `belowHeight`:
   * each links to the block before it, its entries and root hold, and its
   * directory proof places it under the sealing gateway's directory root.
   */
  private async walkAdopted(chainHex: string, belowHeight: number): Promise<void> {
    const chainId = Buffer.from(chainHex, 'hex');
    const name = this.names.get(chainHex)!;
    for (;;) {
      const chain = this.chainsSeen.get(chainHex) ?? { nextHeight: 0, nextSeq: 0, prevHash: zeroHash() };
      if (chain.nextHeight >= belowHeight) return;
      const key = chainKey(chainId, chain.nextHeight);
      const proofBytes = this.tables.adopted.get(key, { transaction: this.transaction });
      if (proofBytes === undefined) return;
      const at = `chain ${JSON.stringify(name)} block ${chain.nextHeight} (adopted)`;
      const bytes = this.tables.blocks.get(key, { transaction: this.transaction });
      if (bytes === undefined) fail(`${at}: its directory proof is stored but the block is missing`);
      const record = decodeOr(() => decodeBlockRecord(bytes), at);
      const proof = decodeOr(() => decodeAdoptedProof(proofBytes), at);
      const { header } = record;
      if (record.directoryHeight !== ADOPTED_DIRECTORY) fail(`${at}: records directory ${record.directoryHeight}, not another gateway's`);
      if (!header.chainId.equals(chainId) || header.height !== chain.nextHeight) fail(`${at}: header names another chain or height`);
      if (!header.prevHash.equals(chain.prevHash)) fail(`${at}: prev link broken`);
      if (header.firstSeq !== chain.nextSeq) fail(`${at}: firstSeq ${header.firstSeq} but seq ${chain.nextSeq} comes next`);
      if (header.count < 1) fail(`${at}: empty block`);
      const blockHash = sha256(record.headerBytes);
      checkDirectoryProof(chainId, blockHash, proof, (problem) => fail(`${at}: ${problem}`));
      this.checkSeqIndex(at, { chainId, height: header.height, blockHash }, header.firstSeq);
      await this.checkEntries(name, at, ADOPTED_DIRECTORY, record, bytes);
      this.advance(chainHex, header.height, record, blockHash);
      this.adopted++;
    }
  }

  private runChecks(chainName: string, directoryHeight: number, header: EntryBlockHeader, lengths: Uint32Array): void {
    const { height, firstSeq, count } = header;
    const entryBytes = (i: number): number => lengths[i] ?? 0;
    const adopted = directoryHeight === ADOPTED_DIRECTORY;
    for (const check of this.checks) failIf(check.block({ chainName, height, firstSeq, count, directoryHeight, adopted, entryBytes }));
  }

  private checkBlockLinks(at: string, entry: DirectoryEntry, directoryHeight: number, record: BlockRecord, chain: ChainWalk): void {
    const { header } = record;
    if (!header.chainId.equals(entry.chainId) || header.height !== entry.height) fail(`${at}: header names another chain or height`);
    if (!sha256(record.headerBytes).equals(entry.blockHash)) fail(`${at}: block hash differs from the one directory ${directoryHeight} lists`);
    if (record.directoryHeight !== directoryHeight) fail(`${at}: records directory ${record.directoryHeight} but is listed in ${directoryHeight}`);
    if (!header.prevHash.equals(chain.prevHash)) fail(`${at}: prev link broken`);
    if (header.firstSeq !== chain.nextSeq) fail(`${at}: firstSeq ${header.firstSeq} but seq ${chain.nextSeq} comes next`);
    if (header.count < 1) fail(`${at}: empty block`);
  }

  private checkSeqIndex(at: string, entry: DirectoryEntry, firstSeq: number): void {
    const height = this.tables.seqIndex.get(chainKey(entry.chainId, firstSeq), { transaction: this.transaction });
    if (height === undefined || height.length !== 8 || readU64(height, 0) !== entry.height) fail(`${at}: seq index entry missing or wrong`);
  }

  // Every listed block was checked above, so equal counts mean nothing stored is unlisted.
  private checkNothingUnlisted(): void {
    const { transaction } = this;
    for (const [chainHex, name] of this.names) {
      const chainId = Buffer.from(chainHex, 'hex');
      const stored = this.tables.blocks.getKeysCount({ start: chainKey(chainId, 0), end: Buffer.concat([chainId, U64_MAX]), inclusiveEnd: true, transaction });
      const listed = this.chainsSeen.get(chainHex)?.nextHeight ?? 0;
      if (stored !== listed) fail(`chain ${JSON.stringify(name)}: store holds ${stored} blocks but directories list ${listed}`);
    }
    const counts: [string, number, number][] = [
      ['blocks', this.tables.blocks.getKeysCount({ transaction }), this.blocks],
      ['seq index entries', this.tables.seqIndex.getKeysCount({ transaction }), this.blocks],
      ['anchor records', this.tables.anchors.getKeysCount({ transaction }), this.directories],
      ['adopted directory proofs', this.tables.adopted.getKeysCount({ transaction }), this.adopted],
      [
        'truncation records of directories',
        this.tables.truncated.getKeysCount({ transaction }),
        sumOf([...this.superseded.values()].map((s) => s.directories.count)),
      ],
    ];
    for (const [what, stored, expected] of counts) {
      if (stored !== expected) fail(`store holds ${stored} ${what}, expected ${expected}`);
    }
  }
}

function sumOf(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function failIf(problem: string | undefined): void {
  if (problem !== undefined) fail(problem);
}

function decodeOr<T>(decode: () => T, at: string): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof StoreBreak) throw error;
    fail(`${at}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

// The directory log in the store: its tree's nodes (table `log`) and its signed
// heads (table `heads`). The writer (the sealer's Ledger) adds a seal's nodes
// and, with a signer, its signed head inside the seal's own transaction, so a
// head exists exactly when the directory block it covers does: no crash can
// leave a signed head without its history, or history that a later head
// would sign differently. Readers build roots and proofs from the nodes.
import { HASH_BYTES, sha256 } from './hash.js';
import { LogFrontier, LogProofs, logNodeKey, type LogNode } from './directory-log.js';
import { directoryRecordHeader, heightKey, readU64 } from './records.js';
import { decodeHeadRecord, encodeHeadRecord, type HeadSigner, type SignedHeadRecord } from './signed-heads.js';
import type { Transaction } from 'lmdb';
import type { LedgerTables, Table } from './tables.js';

/** A seal's part of the log: the nodes it completes and the frontier after it. */
export interface LogStep {
  next: LogFrontier;
  written: LogNode[];
}

/** Directory hashes added per transaction when a store's log is built up from its directory blocks. */
const EXTEND_BATCH = 16_384;

/** getBinary copies: getBinaryFast's buffer is lmdb-js's own, reused at the next read, and a proof holds several nodes at once. */
function nodeOf(table: Table): (level: number, index: number) => Buffer | undefined {
  return (level, index) => table.getBinary(logNodeKey(level, index));
}

/** Leaves in the stored tree: one past the last level-0 node (in `transaction`'s snapshot, if given). */
export function storedLogSize(tables: LedgerTables, transaction?: Transaction): number {
  const start = Buffer.alloc(9, 0xff);
  start[0] = 0;
  for (const key of tables.log.getKeys({ start, end: Buffer.from([0]), reverse: true, limit: 1, ...(transaction === undefined ? {} : { transaction }) })) {
    if (key.length === 9 && key[0] === 0) return readU64(key, 1) + 1;
  }
  return 0;
}

/** Roots and proofs over the stored tree, for sizes up to its own. */
export function storedLogProofs(tables: LedgerTables): LogProofs {
  return new LogProofs(nodeOf(tables.log), storedLogSize(tables));
}

/** The stored leaf at `height` (LEAF(directory hash)), or undefined. */
export function storedLogLeaf(tables: LedgerTables, height: number): Buffer | undefined {
  return nodeOf(tables.log)(0, height);
}

export function storedHead(tables: LedgerTables, size: number): SignedHeadRecord | null {
  const bytes = tables.heads.get(heightKey(size));
  return bytes === undefined ? null : decodeHeadRecord(size, bytes);
}

/** The signed head of the largest size in the store, or null. */
export function latestStoredHead(tables: LedgerTables): SignedHeadRecord | null {
  for (const { key, value } of tables.heads.getRange({ reverse: true, limit: 1 })) return decodeHeadRecord(readU64(key, 0), value);
  return null;
}

/** The directory hash at `height`, from its record (the log's truth is the directory blocks, not a copy of their hashes). */
function directoryHash(tables: LedgerTables, height: number): Buffer {
  const record = tables.directories.getBinaryFast(heightKey(height));
  if (record === undefined) throw new Error(`directory log: directory ${height} is missing`);
  return sha256(directoryRecordHeader(record));
}

/** The writer's side of the log; one per store, on the sealer's thread. */
export class LogWriter {
  private constructor(
    private readonly tables: LedgerTables,
    private readonly signer: HeadSigner | null,
    private frontier: LogFrontier,
  ) {}

  /**
   * Loads the frontier for `directories` directory blocks. A store whose log
   * is shorter (it predates the log, or was sealed with heads off) has the
   * rest built from its directory blocks first, a batch per transaction.
   */
  static open(tables: LedgerTables, directories: number, signer: HeadSigner | null): LogWriter {
    const size = storedLogSize(tables);
    if (size > directories) {
      throw new Error(
        `the directory log holds ${size} directory hashes but the store only ${directories} directory blocks; the store was cut short under its log`,
      );
    }
    let frontier = LogFrontier.load(size, nodeOf(tables.log));
    while (frontier.size < directories) {
      const end = Math.min(directories, frontier.size + EXTEND_BATCH);
      let next = frontier;
      tables.root.transactionSync(() => {
        for (let height = next.size; height < end; height++) {
          const step = next.append(directoryHash(tables, height));
          writeNodes(tables, step.written);
          next = step.next;
        }
      });
      frontier = next;
    }
    return new LogWriter(tables, signer, frontier);
  }

  get size(): number {
    return this.frontier.size;
  }

  /** Pure: the step that adds `directoryHash`, for the seal to write and, once it is in the store, adopt. */
  plan(directoryHash: Buffer): LogStep {
    return this.frontier.append(directoryHash);
  }

  /** Inside the seal's write transaction: the step's nodes and, with a signer, the new head. */
  write(step: LogStep): SignedHeadRecord | null {
    writeNodes(this.tables, step.written);
    if (this.signer === null) return null;
    const head = this.signer(step.next.size, step.next.root());
    this.tables.heads.putSync(heightKey(head.size), encodeHeadRecord(head));
    return head;
  }

  adopt(step: LogStep): void {
    this.frontier = step.next;
  }

  /** After the store moved under the writer (another writer): the frontier the stored tree has now. */
  reload(): void {
    this.frontier = LogFrontier.load(storedLogSize(this.tables), nodeOf(this.tables.log));
  }

  /**
   * Signs the present size again at the present time (at start, and while no
   * seal brings a new head): the row of that size keeps the newest. Durable
   * when it resolves. Null without a signer.
   */
  async sign(): Promise<SignedHeadRecord | null> {
    if (this.signer === null) return null;
    const head = this.signer(this.frontier.size, this.frontier.root());
    await this.tables.heads.put(heightKey(head.size), encodeHeadRecord(head));
    await this.tables.root.flushed;
    return head;
  }
}

function writeNodes(tables: LedgerTables, nodes: readonly LogNode[]): void {
  for (const node of nodes) {
    if (node.hash.length !== HASH_BYTES) throw new RangeError('directory log: a node is 32 bytes');
    tables.log.putSync(logNodeKey(node.level, node.index), node.hash);
  }
}

// The front door's view of every chain: its slot in the shared chain table,
// the next sequence number, and its open entry block. Sequence numbers and
// block boundaries are decided here, in arrival order, so a block always
// covers a contiguous seq range whichever lane hashed its entries.
import { ChainTable, LIGHT } from '../ring/index.js';
import { chainIdOf } from '../ledger/index.js';
import type { CutBlock } from '../sealer/index.js';

/** Something that wrote into a block and wants to hear when it is committed. */
export interface BlockWriter {
  readonly open: boolean;
  committed(notice: Buffer): void;
}

interface CommitWaiter {
  endSeq: number;
  resolve(committed: boolean): void;
}

export class ChainState {
  readonly name: string;
  readonly slot: number;
  nextSeq: number;
  /** First seq of the open (not yet cut) block. */
  blockFirstSeq: number;
  /** Every seq below this is durable. */
  committedSeq: number;
  nextHeight: number;
  private writers = new Set<BlockWriter>();
  /** Cut blocks not yet durable, by first seq, with who wrote into them. */
  readonly awaitingCommit = new Map<number, Set<BlockWriter>>();
  private waiters: CommitWaiter[] = [];
  private idHex: string | undefined;

  constructor(name: string, slot: number, nextSeq: number, nextHeight: number) {
    this.name = name;
    this.slot = slot;
    this.nextSeq = nextSeq;
    this.blockFirstSeq = nextSeq;
    this.committedSeq = nextSeq;
    this.nextHeight = nextHeight;
  }

  /** SHA-256 of the name in hex, hashed once: listings of a thousand chains must not hash a thousand names per request. */
  get chainIdHex(): string {
    this.idHex ??= chainIdOf(this.name).toString('hex');
    return this.idHex;
  }

  get hasOpenBlock(): boolean {
    return this.nextSeq > this.blockFirstSeq;
  }

  /** Takes `count` seqs for a frame; returns the first. Cuts full blocks into `cuts`. */
  reserve(count: number, writer: BlockWriter | null, maxBlockEntries: number, cuts: CutBlock[]): number {
    const first = this.nextSeq;
    this.nextSeq += count;
    if (writer !== null) this.writers.add(writer);
    while (this.nextSeq - this.blockFirstSeq >= maxBlockEntries) {
      this.cut(this.blockFirstSeq + maxBlockEntries, cuts);
      if (writer !== null && this.nextSeq > this.blockFirstSeq) this.writers.add(writer);
    }
    return first;
  }

  /** Closes the open block at `endSeq`. */
  cut(endSeq: number, cuts: CutBlock[]): void {
    cuts.push({ slot: this.slot, chainName: this.name, firstSeq: this.blockFirstSeq, endSeq });
    this.awaitingCommit.set(this.blockFirstSeq, this.writers);
    this.writers = new Set();
    this.blockFirstSeq = endSeq;
  }

  /**
   * `writer` hears of every block not yet durable that holds a seq of
   * [seq, endSeq): a frame sent again with its client id is told when its
   * entries are durable, on the connection it came back on.
   */
  addWriter(seq: number, endSeq: number, writer: BlockWriter): void {
    // Blocks are cut in seq order, so each awaiting block ends where the next one starts.
    const starts = [...this.awaitingCommit.keys()];
    starts.forEach((start, i) => {
      const end = starts[i + 1] ?? this.blockFirstSeq;
      if (start < endSeq && end > seq) this.awaitingCommit.get(start)!.add(writer);
    });
    if (endSeq > this.blockFirstSeq) this.writers.add(writer);
  }

  /**
   * Blocks adopted from another gateway of a fleet filled the seqs up to
   * `nextSeq` (a chain coming back, or known here from a pre-copy): the chain
   * goes on from there. Only while nothing of it is open or unsealed here.
   */
  continueAt(nextSeq: number, nextHeight: number): void {
    if (this.hasOpenBlock || this.awaitingCommit.size > 0 || nextSeq < this.nextSeq) {
      throw new Error(`chain "${this.name}" cannot continue at seq ${nextSeq}: it has seqs ${this.committedSeq}…${this.nextSeq - 1} not yet durable here`);
    }
    this.restartAt(nextSeq, nextHeight, nextSeq);
  }

  /**
   * A returning owner's truncation (docs/replicas.md part 6) took the chain's
   * head back to `nextSeq`: it goes on from there. Blocks cut but held for a
   * standby that never acknowledged them are gone: who wrote into them is
   * never told `committed`, and waits for them end unanswered (false). Only
   * while no block is open; false (nothing changed) when one is.
   */
  rewindTo(nextSeq: number, nextHeight: number): boolean {
    if (this.hasOpenBlock) return false;
    this.awaitingCommit.clear();
    for (const waiter of this.waiters) waiter.resolve(false);
    this.waiters = [];
    this.restartAt(nextSeq, nextHeight, Math.min(this.committedSeq, nextSeq));
    return true;
  }

  /** The chain's head moved (continueAt, rewindTo): its next block starts at `nextSeq`. */
  private restartAt(nextSeq: number, nextHeight: number, committedSeq: number): void {
    this.nextSeq = nextSeq;
    this.blockFirstSeq = nextSeq;
    this.committedSeq = committedSeq;
    this.nextHeight = nextHeight;
  }

  /** The block starting at firstSeq is durable: returns who wrote into it. */
  committed(firstSeq: number, count: number, height: number): Set<BlockWriter> {
    const writers = this.awaitingCommit.get(firstSeq) ?? new Set<BlockWriter>();
    this.awaitingCommit.delete(firstSeq);
    this.committedSeq = Math.max(this.committedSeq, firstSeq + count);
    this.nextHeight = Math.max(this.nextHeight, height + 1);
    if (this.waiters.length > 0) this.wakeWaiters();
    return writers;
  }

  /**
   * Resolves true once every seq below endSeq is durable, or false after
   * `timeoutMs` (the waiter is then forgotten, so waits that time out pile nothing up).
   */
  waitCommitted(endSeq: number, timeoutMs: number): Promise<boolean> {
    if (this.committedSeq >= endSeq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter: CommitWaiter = {
        endSeq,
        resolve: (committed) => {
          clearTimeout(timer);
          resolve(committed);
        },
      };
      this.waiters.push(waiter);
    });
  }

  private wakeWaiters(): void {
    const still: CommitWaiter[] = [];
    for (const w of this.waiters) {
      if (this.committedSeq >= w.endSeq) w.resolve(true);
      else still.push(w);
    }
    this.waiters = still;
  }
}

export class ChainRegistry {
  readonly table: ChainTable;
  /** Called once for every chain created from now on. */
  onCreate: ((chain: ChainState) => void) | null = null;
  private readonly byName = new Map<string, ChainState>();
  private readonly bySlot: ChainState[] = [];

  constructor(table: ChainTable) {
    this.table = table;
  }

  get size(): number {
    return this.bySlot.length;
  }

  get(name: string): ChainState | undefined {
    return this.byName.get(name);
  }

  at(slot: number): ChainState | undefined {
    return this.bySlot[slot];
  }

  all(): readonly ChainState[] {
    return this.bySlot;
  }

  /** The chain, created on first use in the light lane; undefined when the table is full. */
  getOrCreate(name: string, nextSeq = 0, nextHeight = 0): ChainState | undefined {
    const known = this.byName.get(name);
    if (known !== undefined) return known;
    const slot = this.table.register(LIGHT);
    if (slot < 0) return undefined;
    const chain = new ChainState(name, slot, nextSeq, nextHeight);
    this.byName.set(name, chain);
    this.bySlot.push(chain);
    this.onCreate?.(chain);
    return chain;
  }
}

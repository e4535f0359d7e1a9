// Entry blocks checked on every core while the walk follows the hash links in
// order. The walk reads each block once, checks what links it (the header's
// chain, height, prev hash, its directory's listing), then hands the record's
// bytes to a check thread (block-check-worker.ts), which re-hashes its entries
// and recomputes its roots. A problem found there is reported as if the walk
// had found it at that block: the first in walk order wins, with the counts as
// they stood before it, so the report reads the same on one thread or many.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { workerFile } from '../paths.js';
import { blockEntriesProblem } from './block-check.js';

/** What the walk had checked before a block: the report's counts when that block is the first break. */
export interface CountsBefore {
  blocks: number;
  entries: number;
  directories: number;
}

/** The walk's message to a check thread: one block record, its bytes transferred. */
export interface BlockCheckJob {
  id: number;
  at: string;
  bytes: Uint8Array;
}

/** A check thread's answer to job `id`. */
export interface BlockCheckAnswer {
  id: number;
  problem: string | undefined;
}

/** The first problem in walk order, and what had been checked before its block. */
export interface BlockProblem {
  problem: string;
  before: CountsBefore;
}

/** Thrown by `room()` once a check thread found a problem: the walk stops and settles. */
export class BlockCheckFailed extends Error {}

/**
 * Block bytes handed out and not yet answered, per thread. A thread always has
 * two blocks, so it never waits for the walk's next read; beyond that this
 * bounds what a store of large blocks holds in memory.
 */
const IN_FLIGHT_BYTES_PER_THREAD = 64 * 1024 * 1024;
const MIN_BLOCKS_PER_THREAD = 2;

interface Pending {
  before: CountsBefore;
  bytes: number;
  thread: CheckThread;
}

interface CheckThread {
  worker: Worker;
  inFlightBytes: number;
}

/** Every core the machine has: the walk's own thread reads and links while they hash. */
export function defaultCheckThreads(): number {
  return availableParallelism();
}

/**
 * Unless told how many threads, verify starts them after this many bytes of
 * blocks: a thread costs ~50 ms to start (its module and the native addon),
 * which a store this small is checked in.
 */
export const CHECK_THREADS_AFTER_BYTES = 32 * 1024 * 1024;

export class BlockChecks {
  private readonly threads: CheckThread[] = [];
  /** Bytes of blocks handed over so far (the threads start at startAfterBytes). */
  private handedBytes = 0;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private firstProblem: { id: number; found: BlockProblem } | undefined;
  private threadError: Error | undefined;
  private wake: (() => void) | undefined;

  /**
   * `threads` 0 checks each block in the caller's thread when it is handed
   * over. With `startAfterBytes`, the threads start only once that many bytes
   * of blocks were handed over (checked in the caller's thread until then): a
   * small store is checked before threads would have started.
   */
  constructor(
    private readonly threadCount: number,
    private readonly startAfterBytes = 0,
  ) {
    this.startThreadsWhenDue();
  }

  /** Checks the block record `bytes` (named `at` in a problem); its buffer is given away. */
  check(at: string, bytes: Uint8Array, before: CountsBefore): void {
    const id = this.nextId++;
    this.handedBytes += bytes.byteLength;
    this.startThreadsWhenDue();
    if (this.threads.length === 0) {
      const problem = blockEntriesProblem(bytes, at);
      if (problem !== undefined) this.found(id, { problem, before });
      return;
    }
    const thread = this.leastLoaded();
    const own = ownedBuffer(bytes);
    thread.inFlightBytes += own.length;
    this.pending.set(id, { before, bytes: own.length, thread });
    const job: BlockCheckJob = { id, at, bytes: own };
    thread.worker.postMessage(job, [own.buffer as ArrayBuffer]);
  }

  /** Waits while the threads hold their bound of blocks; throws BlockCheckFailed once a problem is known. */
  async room(): Promise<void> {
    while (this.threadError === undefined && this.firstProblem === undefined && this.full()) await this.next();
    this.throwIfThreadFailed();
    if (this.firstProblem !== undefined) throw new BlockCheckFailed(this.firstProblem.found.problem);
  }

  /** Waits for every block handed over; the first problem in walk order, if any. */
  async settle(): Promise<BlockProblem | undefined> {
    while (this.threadError === undefined && this.pending.size > 0) await this.next();
    this.throwIfThreadFailed();
    return this.firstProblem?.found;
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  private startThreadsWhenDue(): void {
    if (this.threads.length > 0 || this.handedBytes < this.startAfterBytes) return;
    for (let i = 0; i < this.threadCount; i++) this.threads.push(this.startThread());
  }

  private startThread(): CheckThread {
    const worker = new Worker(workerFile(import.meta.url, 'block-check-worker'));
    const thread: CheckThread = { worker, inFlightBytes: 0 };
    worker.on('message', (answer: BlockCheckAnswer) => this.answered(answer));
    worker.on('error', (error) => this.failed(error));
    worker.on('exit', (code) => {
      if (this.pending.size > 0) this.failed(new Error(`a block check thread exited (code ${code}) with blocks unchecked`));
    });
    return thread;
  }

  private answered({ id, problem }: BlockCheckAnswer): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    pending.thread.inFlightBytes -= pending.bytes;
    if (problem !== undefined) this.found(id, { problem, before: pending.before });
    this.wakeWalk();
  }

  private found(id: number, found: BlockProblem): void {
    if (this.firstProblem === undefined || id < this.firstProblem.id) this.firstProblem = { id, found };
  }

  private failed(error: Error): void {
    this.threadError ??= error;
    this.wakeWalk();
  }

  private throwIfThreadFailed(): void {
    if (this.threadError !== undefined) throw new Error(`verify: a block check thread failed: ${this.threadError.message}`);
  }

  private full(): boolean {
    if (this.threads.length === 0) return false;
    const thread = this.leastLoaded();
    const blocks = [...this.pending.values()].filter((p) => p.thread === thread).length;
    return blocks >= MIN_BLOCKS_PER_THREAD && thread.inFlightBytes >= IN_FLIGHT_BYTES_PER_THREAD;
  }

  private leastLoaded(): CheckThread {
    let best = this.threads[0]!;
    for (const thread of this.threads) if (thread.inFlightBytes < best.inFlightBytes) best = thread;
    return best;
  }

  private next(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private wakeWalk(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** `bytes` when it alone holds its buffer (lmdb gives each large value its own), else a copy that does: only a whole buffer can be transferred. */
function ownedBuffer(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes;
  return bytes.slice();
}

// The front door's handle on the sealer thread.
import * as workerThreads from 'node:worker_threads';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { workerFile } from '../paths.js';
import { allocateChainBacklog, allocateControl, chainPendingBytes, pendingBytes, ringDoorbell } from './control.js';
import { NO_SEAL_FAULTS, type Cut, type SealerCommand, type SealerEvent, type SealerHeads, type SealerWorkerData, type SealFaults } from './sealer-messages.js';
import {
  ReplicaError,
  TruncationError,
  type ExportedBlock,
  type ReplicaOwner,
  type ReplicatedSeals,
  type ShippedSeal,
  type TruncationRequest,
  type TruncationResult,
} from '../ledger/index.js';

/** Where a chain stands after adopted blocks were stored. */
export interface AdoptedHead {
  nextHeight: number;
  nextSeq: number;
  lastBlockHash: Buffer;
}

/**
 * The doorbell the front door rings when a ring is filling (control.ts). Made
 * before the sealer thread starts, so the lanes, started first, can hold it.
 */
export class SealerDoorbell {
  readonly control = allocateControl();

  ring(): void {
    ringDoorbell(this.control);
  }
}

export interface SealerOptions {
  rings: SharedArrayBuffer[];
  doorbell: SealerDoorbell;
  dataDir: string;
  anchorFile: string | null;
  cores: number[];
  nice: number;
  maxChains: number;
  /** Idle backlog segments the sealer keeps for reuse (backlog-segments.ts). */
  maxIdleBacklogBytes: number;
  dropSealedPageCache: boolean;
  sealFaults?: SealFaults;
  /** Signed heads; null: off. */
  heads: SealerHeads | null;
  onEvent(event: SealerEvent): void;
}

export class Sealer {
  private readonly worker: Worker;
  private readonly adoptions = new SealerRequests<AdoptedHead>();
  private readonly replications = new SealerRequests<ReplicatedSeals>();
  private readonly truncations = new SealerRequests<TruncationResult>();
  private readonly control: Int32Array;
  private readonly chainBacklog: Int32Array;
  private exited = false;

  private constructor(worker: Worker, control: Int32Array, chainBacklog: Int32Array) {
    this.worker = worker;
    this.control = control;
    this.chainBacklog = chainBacklog;
  }

  /** Starts the sealer thread and resolves once its store is open. */
  static async start(options: SealerOptions): Promise<Sealer> {
    const control = options.doorbell.control;
    const chainBacklog = allocateChainBacklog(options.maxChains);
    const data: SealerWorkerData = {
      rings: options.rings,
      control: control.buffer as SharedArrayBuffer,
      dataDir: options.dataDir,
      anchorFile: options.anchorFile,
      cores: options.cores,
      nice: options.nice,
      chainBacklog: chainBacklog.buffer as SharedArrayBuffer,
      maxIdleBacklogBytes: options.maxIdleBacklogBytes,
      dropSealedPageCache: options.dropSealedPageCache,
      sealFaults: options.sealFaults ?? NO_SEAL_FAULTS,
      heads: options.heads,
    };
    const worker = new Worker(workerFile(import.meta.url, 'sealer-thread'), { workerData: data, name: 'chainlanes-sealer' });
    const sealer = new Sealer(worker, control, chainBacklog);
    worker.on('exit', () => {
      sealer.exited = true;
      for (const requests of [sealer.adoptions, sealer.replications, sealer.truncations]) requests.rejectAll(new Error(THREAD_STOPPED));
    });
    const started = new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (event: SealerEvent) => {
        if (event.type === 'ready') resolve();
        if (event.type === 'adopted') sealer.adopted(event);
        else if (event.type === 'replicated') sealer.replicated(event);
        else if (event.type === 'truncated') sealer.truncated(event);
        else options.onEvent(event);
      });
    });
    await started;
    worker.on('error', (error) => options.onEvent({ type: 'thread-failed', message: error.message }));
    return sealer;
  }

  /** Announces a chain: the sealer takes its entries from `nextSeq` on. */
  chain(slot: number, nextSeq: number): void {
    this.post({ type: 'chain', slot, nextSeq });
  }

  cut(cut: Cut): void {
    this.post({ type: 'cut', cut });
  }

  /**
   * Stores blocks of `chain` adopted from another gateway, in order with the
   * seals; resolves with the chain's new head once durable, rejects with why
   * they were refused (then nothing of them is stored).
   */
  adopt(chain: string, blocks: ExportedBlock[]): Promise<AdoptedHead> {
    if (this.exited) return Promise.reject(new Error(THREAD_STOPPED));
    return this.adoptions.ask((id) => this.post({ type: 'adopt', id, chain, blocks }));
  }

  private adopted(event: Extract<SealerEvent, { type: 'adopted' }>): void {
    const waiter = this.adoptions.take(event.id);
    if (event.head !== undefined) waiter?.resolve({ ...event.head, lastBlockHash: Buffer.from(event.head.lastBlockHash) });
    else waiter?.reject(new Error(event.error ?? 'the sealer refused the blocks'));
  }

  /**
   * Seals shipped by `owner` (this gateway is its standby), in order with the
   * seals, stored as one batch (Ledger.replicateSeals): resolves once durable
   * with the height replicated and, when a seal after the first did not check,
   * its refusal (the seals before it are stored); rejects with a ReplicaError
   * naming the cause when the first does not check (nothing is stored), or an
   * Error when the store failed.
   * `handOver`: the memory under the seals' records, directories, heads and
   * frame ids is the caller's alone and is given to the thread, not copied
   * (megabytes a seal); the caller must not read those views again.
   */
  replicateSeals(owner: ReplicaOwner, seals: ShippedSeal[], handOver = false): Promise<ReplicatedSeals> {
    if (this.exited) return Promise.reject(new Error(THREAD_STOPPED));
    return this.replications.ask((id) => this.post({ type: 'replicate', id, owner, seals }, handOver ? memoryOf(seals) : []));
  }

  private replicated(event: Extract<SealerEvent, { type: 'replicated' }>): void {
    const waiter = this.replications.take(event.id);
    if (event.acked !== undefined)
      waiter?.resolve({ acked: event.acked, ...(event.refusal === undefined ? {} : { refused: new ReplicaError(event.refusal) }) });
    else {
      const message = event.error ?? 'the sealer refused the seal';
      waiter?.reject(event.refused === true ? new ReplicaError(message) : new Error(message));
    }
  }

  /**
   * The returning owner's truncation (Ledger.truncateUnreplicated), in order
   * with the seals: resolves with what was removed once durable; rejects with a
   * TruncationError when refused (nothing removed), or an Error when the store
   * failed. `slots` names the front door's slot of chains it knows (its
   * ChainState must follow the result's heads too), so the sealer's backlog
   * of each truncated chain restarts at its new head.
   */
  truncateUnreplicated(request: TruncationRequest, slots: Iterable<[chain: string, slot: number]> = []): Promise<TruncationResult> {
    if (this.exited) return Promise.reject(new Error(THREAD_STOPPED));
    return this.truncations.ask((id) => this.post({ type: 'truncate', id, request, slots: [...slots] }));
  }

  private truncated(event: Extract<SealerEvent, { type: 'truncated' }>): void {
    const waiter = this.truncations.take(event.id);
    if (event.result !== undefined) waiter?.resolve(event.result);
    else {
      const message = event.error ?? 'the sealer refused the truncation';
      waiter?.reject(event.refused === true ? new TruncationError(message) : new Error(message));
    }
  }

  /** Bytes of entries held by the sealer that are not yet durable. */
  pendingBytes(): number {
    return pendingBytes(this.control);
  }

  /** Bytes of one chain's entries held by the sealer that are not yet durable. */
  chainPendingBytes(slot: number): number {
    return chainPendingBytes(this.chainBacklog, slot);
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Seals every cut already sent, then stops the thread. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.exited) return;
    this.post({ type: 'stop' });
    const timeout = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([once(this.worker, 'exit'), timeout]);
    if (!this.exited) await this.worker.terminate();
  }

  private post(command: SealerCommand, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(command, transfer);
  }
}

/** The memory under the seals' binary parts (their credit books excepted: small, and made elsewhere), each once. */
function memoryOf(seals: readonly ShippedSeal[]): ArrayBuffer[] {
  const memory = new Set<ArrayBuffer>();
  for (const seal of seals) {
    for (const view of [seal.directory, seal.head, seal.frameIds, ...seal.blocks.map((b) => b.record)]) {
      if (view !== null && view.buffer instanceof ArrayBuffer && !untransferable(view.buffer)) memory.add(view.buffer);
    }
  }
  return [...memory];
}

/**
 * Whether Node refuses to move `memory` (its Buffer pool, under every small
 * `Buffer.from`): Node 21 and later throw DataCloneError for the whole message
 * when such memory is in a transfer list, Node 20 copies it silently and has
 * no way to ask. Such memory is copied with the message instead of moved.
 */
const untransferable: (memory: ArrayBuffer) => boolean =
  // Node 21+ only; absent from Node 20's worker_threads and its types.
  (workerThreads as { isMarkedAsUntransferable?: (value: object) => boolean }).isMarkedAsUntransferable ?? (() => false);

const THREAD_STOPPED = 'the sealer thread stopped';

/** Requests to the sealer thread answered by id (adopt, replicate, truncate): each waits for its one answer. */
class SealerRequests<T> {
  private readonly waiting = new Map<number, { resolve(answer: T): void; reject(error: Error): void }>();
  private nextId = 0;

  /** Posts the request under a new id; settles when its answer is taken. */
  ask(post: (id: number) => void): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      post(id);
    });
  }

  /** The waiter of an answer (gone from the table), if it still waits. */
  take(id: number): { resolve(answer: T): void; reject(error: Error): void } | undefined {
    const waiter = this.waiting.get(id);
    this.waiting.delete(id);
    return waiter;
  }

  rejectAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}

// The front door's handle on one lane: its ring, its piscina pool, and the
// hand-off of ring ranges to workers.
//
// Dispatch: frames pushed into the ring wait in `pending` until the next
// dispatch, which happens at most once per event-loop turn (setImmediate) and
// only while fewer tasks are in flight than the lane has workers. A task takes
// everything pending, so under load tasks grow instead of multiplying.
//
// Completion: tasks finish out of order. The lane's `hashed` cursor advances
// over the finished prefix only, because the sealer reads every record before
// `hashed` and frees ring space behind itself.
import { Piscina } from 'piscina';
import { hashing, jsAddon } from '../native/index.js';
import { LaneCores, LoadCounters, RingProducer, RingView, LANE_NAMES } from '../ring/index.js';
import { workerFile } from '../paths.js';
import { hashRange } from './hash-range.js';
import type { LaneTask, LaneWorkerData } from './lane-messages.js';

/** Attempts on workers before the front door hashes a failing range itself. */
const WORKER_ATTEMPTS = 3;
/** The largest frame the front door hashes itself when its lane is idle (see submit). */
const INLINE_MAX_ENTRIES = 4;
const INLINE_MAX_BYTES = 4096;

export interface LanePoolOptions<F> {
  lane: number;
  ringBytes: number;
  threads: number;
  counters: LoadCounters;
  laneCores: LaneCores;
  nice: number;
  crashAfterTasks?: number;
  /** Every frame of a finished task, in ring order; its hashes are in the ring now. */
  onFramesHashed(frames: F[], view: RingView): void;
  /** The lane's `hashed` cursor moved: the sealer may read further. */
  onHashedAdvanced(view: RingView): void;
  onWorkerError(error: Error, attempt: number): void;
}

interface InFlightTask<F> {
  from: number;
  to: number;
  frames: F[];
  attempts: number;
  done: boolean;
}

export class LanePool<F> {
  readonly lane: number;
  readonly name: string;
  readonly view: RingView;
  readonly threads: number;
  private readonly producer: RingProducer;
  private readonly piscina: Piscina;
  private readonly options: LanePoolOptions<F>;
  private pending: F[] = [];
  private dispatchedTo: number;
  private readonly inFlight: InFlightTask<F>[] = [];
  private running = 0;
  private closing = false;
  private dispatchScheduled = false;
  private hashedEntries = 0;
  private tasksRun = 0;
  private retries = 0;
  private inlineFrames = 0;
  /** The front door's own row in the load counters, for frames it hashes inline. */
  private readonly inlineSlot: number;
  private readonly countInline: (chainSlot: number, entries: number, frameBytes: number) => void;

  constructor(options: LanePoolOptions<F>) {
    this.options = options;
    this.lane = options.lane;
    this.name = LANE_NAMES[options.lane] ?? `lane-${options.lane}`;
    this.threads = options.threads;
    this.view = RingView.allocate(options.ringBytes);
    this.producer = new RingProducer(this.view);
    this.dispatchedTo = this.producer.position;
    this.inlineSlot = options.counters.claimSlot(options.lane);
    this.countInline = (chainSlot, entries, frameBytes) => options.counters.count(this.inlineSlot, chainSlot, entries, frameBytes);
    const workerData: LaneWorkerData = {
      lane: options.lane,
      ring: this.view.sab,
      counters: options.counters.sab,
      laneCores: options.laneCores.sab,
      maxChains: options.counters.maxChains,
      workerSlots: options.counters.workerSlots,
      nice: options.nice,
      crashAfterTasks: options.crashAfterTasks ?? 0,
    };
    this.piscina = new Piscina({
      filename: workerFile(import.meta.url, 'lane-thread').href,
      name: 'default',
      minThreads: options.threads,
      maxThreads: options.threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      // Its run and wait histograms are never read here (the lane's own counters are): not kept per task.
      recordTiming: false,
      workerData,
    });
  }

  /**
   * Copies a frame and its entries' spans (from admission's walk: offsets from
   * the frame's first byte, and lengths) into the ring and returns the record's
   * byte offset in the ring's SharedArrayBuffer, or -1 when the ring is full
   * (the caller answers `busy`; nothing was written). The frame is hashed once
   * `submit` is called.
   */
  push(frame: Uint8Array, entryCount: number, chainSlot: number, firstSeq: number, spans: Int32Array): number {
    const pos = this.producer.push(frame, entryCount, chainSlot, firstSeq, spans);
    return pos < 0 ? -1 : this.view.offsetOf(pos);
  }

  /** False when a frame of this many bytes certainly does not fit in the ring now (entries only add to it). */
  mayFit(frameBytes: number): boolean {
    return this.view.used() + frameBytes <= this.view.size;
  }

  /**
   * Hands the frame last pushed to the lane. A small frame that finds the lane
   * idle is hashed right here instead: two thread hand-offs (to a worker and
   * back) cost more than hashing a few entries, and on a VM a sleeping
   * thread's wake-up is where the latency tail comes from. Under load the lane
   * is not idle, so frames go to workers and batch up as usual.
   */
  submit(pendingFrame: F, entryCount: number, frameBytes: number): void {
    if (this.running === 0 && this.pending.length === 0 && entryCount <= INLINE_MAX_ENTRIES && frameBytes <= INLINE_MAX_BYTES) {
      this.hashInline(pendingFrame);
      return;
    }
    this.pending.push(pendingFrame);
    this.scheduleDispatch();
  }

  private hashInline(pendingFrame: F): void {
    const from = this.dispatchedTo;
    const to = this.producer.position;
    this.dispatchedTo = to;
    this.hashedEntries += hashRange(this.view, from, to, hashing, this.countInline);
    this.inlineFrames++;
    // Nothing is in flight (the lane was idle), so the hashed prefix ends here.
    this.view.storeHashed(to);
    this.options.onFramesHashed([pendingFrame], this.view);
    this.options.onHashedAdvanced(this.view);
  }

  /** Frames admitted but not yet hashed. */
  get backlog(): number {
    let frames = this.pending.length;
    for (const task of this.inFlight) if (!task.done) frames += task.frames.length;
    return frames;
  }

  stats(): { ringBytes: number; ringUsed: number; tasks: number; inlineFrames: number; entries: number; retries: number; backlogFrames: number } {
    return {
      ringBytes: this.view.size,
      ringUsed: this.view.used(),
      tasks: this.tasksRun,
      inlineFrames: this.inlineFrames,
      entries: this.hashedEntries,
      retries: this.retries,
      backlogFrames: this.backlog,
    };
  }

  /** Resolves once every frame pushed so far is hashed. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.running > 0) {
      this.dispatch();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /** Worker threads are running and the pool is not closing (GET /readyz). */
  get up(): boolean {
    return !this.closing && this.piscina.threads.length > 0;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.drain();
    await this.piscina.close({ force: false });
  }

  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    if (this.pending.length === 0 || this.running >= this.threads) return;
    const task: InFlightTask<F> = {
      from: this.dispatchedTo,
      to: this.producer.position,
      frames: this.pending,
      attempts: 0,
      done: false,
    };
    this.pending = [];
    this.dispatchedTo = task.to;
    this.inFlight.push(task);
    this.run(task);
  }

  private run(task: InFlightTask<F>): void {
    this.running++;
    task.attempts++;
    const range: LaneTask = { from: task.from, to: task.to };
    this.piscina.run(range).then(
      (entries: number) => this.finish(task, entries),
      (error: Error) => this.failed(task, error),
    );
  }

  private failed(task: InFlightTask<F>, error: Error): void {
    this.running--;
    this.retries++;
    this.options.onWorkerError(error, task.attempts);
    if (task.attempts < WORKER_ATTEMPTS) {
      // The frames are still in the ring, untouched until `hashed` passes them,
      // and hashing is deterministic, so running the range again is safe.
      this.run(task);
      return;
    }
    this.running++;
    const entries = hashRange(this.view, task.from, task.to, jsAddon, null);
    this.finish(task, entries);
  }

  private finish(task: InFlightTask<F>, entries: number): void {
    this.running--;
    this.tasksRun++;
    this.hashedEntries += entries;
    task.done = true;
    this.options.onFramesHashed(task.frames, this.view);
    this.advanceHashed();
    this.dispatch();
  }

  private advanceHashed(): void {
    let moved = false;
    while (this.inFlight.length > 0 && this.inFlight[0]!.done) {
      this.view.storeHashed(this.inFlight.shift()!.to);
      moved = true;
    }
    if (moved) this.options.onHashedAdvanced(this.view);
  }
}

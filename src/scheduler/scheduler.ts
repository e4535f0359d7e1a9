// The front door's handle on the scheduler thread.
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { workerFile } from '../paths.js';
import type { ChainTable, LaneCores, LoadCounters } from '../ring/index.js';
import type { SchedulerCommand, SchedulerEvent, SchedulerSettings, SchedulerWorkerData } from './scheduler-messages.js';

/**
 * The front door's handle on the scheduler thread. A scheduler that dies is
 * started again after a second: until then chains keep the lanes they have,
 * so traffic flows on, only unbalanced.
 */
export class Scheduler {
  private worker: Worker;
  private readonly data: SchedulerWorkerData;
  private readonly onEvent: (event: SchedulerEvent) => void;
  private stopped = false;
  restarts = 0;

  /** Operator pins by chain slot, handed to the thread again if it restarts. */
  private readonly pins = new Map<number, number>();

  constructor(
    settings: SchedulerSettings,
    dataDir: string,
    chains: ChainTable,
    counters: LoadCounters,
    laneCores: LaneCores,
    onEvent: (event: SchedulerEvent) => void,
    pins: ReadonlyMap<number, number> = new Map(),
  ) {
    for (const [slot, lane] of pins) this.pins.set(slot, lane);
    this.data = {
      settings,
      dataDir,
      chainTable: chains.sab,
      counters: counters.sab,
      laneCores: laneCores.sab,
      maxChains: chains.maxChains,
      workerSlots: counters.workerSlots,
      pins: [],
    };
    this.onEvent = onEvent;
    this.worker = this.spawn();
  }

  private spawn(): Worker {
    this.data.pins = [...this.pins];
    const worker = new Worker(workerFile(import.meta.url, 'scheduler-thread'), { workerData: this.data, name: 'chainlanes-scheduler' });
    worker.on('message', this.onEvent);
    worker.on('error', (error) => this.onEvent({ type: 'thread-failed', message: error.message, restarts: this.restarts }));
    worker.on('exit', () => {
      if (this.stopped) return;
      this.restarts++;
      setTimeout(() => {
        if (!this.stopped) this.worker = this.spawn();
      }, 1000).unref();
    });
    worker.unref();
    return worker;
  }

  /** Pins a chain to a lane (null: unpins it); applied by the thread at once. */
  pin(slot: number, lane: number | null): void {
    if (lane === null) this.pins.delete(slot);
    else this.pins.set(slot, lane);
    this.send({ type: 'pin', slot, lane });
  }

  /** The lane table in the store changed: read it now rather than at the next poll. */
  reloadTable(): void {
    this.send({ type: 'reload-table' });
  }

  private send(command: SchedulerCommand): void {
    this.worker.postMessage(command);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.send({ type: 'stop' });
    await Promise.race([once(this.worker, 'exit'), new Promise((resolve) => setTimeout(resolve, 1000))]);
    await this.worker.terminate();
  }
}

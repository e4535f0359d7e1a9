// The front door's handle on the scheduler thread.
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { workerFile } from '../paths.js';
import type { ChainTable, LaneCores, LoadCounters } from '../ring/index.js';
import type { SchedulerEvent, SchedulerSettings, SchedulerWorkerData } from './types.js';

export { defaultCoreLayout, customCoreLayout, describeLayout, type CoreLayout } from './core-layout.js';
export {
  DEFAULT_LANE_TABLE, LaneTableSchema, LaneThresholdsSchema, lookupLane, validateLaneTable, LaneAssigner,
  type LaneTable, type LaneThresholds, type ChainLoad,
} from './lane-table.js';
export { RateEstimator } from './rates.js';
export { rebalanceCores, DEFAULT_REBALANCE } from './rebalance.js';
export type { SchedulerSettings, SchedulerEvent } from './types.js';

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

  constructor(settings: SchedulerSettings, dataDir: string, chains: ChainTable, counters: LoadCounters, laneCores: LaneCores, onEvent: (event: SchedulerEvent) => void) {
    this.data = {
      settings,
      dataDir,
      chainTable: chains.sab,
      counters: counters.sab,
      laneCores: laneCores.sab,
      maxChains: chains.maxChains,
      workerSlots: counters.workerSlots,
    };
    this.onEvent = onEvent;
    this.worker = this.spawn();
  }

  private spawn(): Worker {
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

  async stop(): Promise<void> {
    this.stopped = true;
    this.worker.postMessage({ type: 'stop' });
    await Promise.race([once(this.worker, 'exit'), new Promise((resolve) => setTimeout(resolve, 1000))]);
    await this.worker.terminate();
  }
}

// The front door's handle on the scheduler thread.
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { workerFile } from '../paths.js';
import type { ChainTable, LaneCores, LoadCounters } from '../ring/index.js';
import type { SchedulerEvent, SchedulerSettings, SchedulerWorkerData } from './types.js';

export { defaultCoreLayout, customCoreLayout, describeLayout, type CoreLayout } from './core-layout.js';
export { DEFAULT_LANE_TABLE, lookupLane, validateLaneTable, LaneAssigner, type LaneTable, type LaneThresholds, type ChainLoad } from './lane-table.js';
export { RateEstimator } from './rates.js';
export { rebalanceCores, DEFAULT_REBALANCE } from './rebalance.js';
export type { SchedulerSettings, SchedulerEvent } from './types.js';

export class Scheduler {
  private readonly worker: Worker;

  constructor(settings: SchedulerSettings, chains: ChainTable, counters: LoadCounters, laneCores: LaneCores, onEvent: (event: SchedulerEvent) => void) {
    const data: SchedulerWorkerData = {
      settings,
      chainTable: chains.sab,
      counters: counters.sab,
      laneCores: laneCores.sab,
      maxChains: chains.maxChains,
      workerSlots: counters.workerSlots,
    };
    this.worker = new Worker(workerFile(import.meta.url, 'thread'), { workerData: data, name: 'chainlanes-scheduler' });
    this.worker.on('message', onEvent);
    this.worker.on('error', (error) => {
      console.error('chainlanes: scheduler thread failed:', error);
    });
    this.worker.unref();
  }

  async stop(): Promise<void> {
    this.worker.postMessage({ type: 'stop' });
    await Promise.race([once(this.worker, 'exit'), new Promise((resolve) => setTimeout(resolve, 1000))]);
    await this.worker.terminate();
  }
}

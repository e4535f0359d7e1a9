import type { CoreLayout } from './core-layout.js';
import type { LaneTable } from './lane-table.js';

export interface SchedulerSettings {
  tickMs: number;
  /** Time constant of the moving averages. */
  tauMs: number;
  demoteAfterMs: number;
  laneTable: LaneTable;
  layout: CoreLayout;
  /** How often the lane table is re-read from the store (it may be changed while the gateway runs). */
  laneTablePollMs: number;
  /** Move cores between lanes by utilisation. */
  rebalance: boolean;
  rebalanceEveryTicks: number;
}

export interface SchedulerWorkerData {
  settings: SchedulerSettings;
  /** The store holding the lane table. */
  dataDir: string;
  chainTable: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  laneCores: SharedArrayBuffer;
  maxChains: number;
  workerSlots: number;
}

export type SchedulerEvent =
  | { type: 'lane-change'; slot: number; from: number; to: number; entriesPerSec: number }
  | { type: 'cores'; lanes: number[][]; utilisation: number[] }
  | { type: 'tick'; at: number }
  | { type: 'lane-table'; table: LaneTable }
  | { type: 'lane-table-rejected'; message: string }
  /** Raised on the front door's side: the thread died and is started again after a second. */
  | { type: 'thread-failed'; message: string; restarts: number };

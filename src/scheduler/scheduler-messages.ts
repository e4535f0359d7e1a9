import type { CoreLayout } from './core-layout.js';
import type { LaneTable } from './lane-table.js';
import type { Demand, LaneCapacity } from './capacity.js';

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
  balancer: BalancerSettings;
}

/** What the scheduler uses of the config's `balancer` object. */
export interface BalancerSettings {
  headroom: number;
  calibrationMs: number;
  /** Capacity given per lane name instead of measured. */
  declaredCapacity: Partial<Record<string, LaneCapacity>>;
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
  /** Pinned chains as [slot, lane] pairs, current when the thread (re)starts. */
  pins: [number, number][];
}

/** Why a chain changed lane. */
export type MoveReason = 'table' | 'placement' | 'returned' | 'pin' | 'unpin';

/** The front door to the scheduler thread. */
export type SchedulerCommand = { type: 'stop' } | { type: 'pin'; slot: number; lane: number | null } | { type: 'reload-table' };

export interface LaneBalance {
  capacity: LaneCapacity;
  /** Placed demand: the moving-average rates of the chains in the lane, pinned ones included. */
  demand: Demand;
  /** demand as a fraction of capacity (entries/E + bytes/B). */
  load: number;
  /** Busy-time correction of the calibrated capacity (1: as calibrated). */
  correction: number;
  chains: number;
}

export type SchedulerEvent =
  | {
      type: 'lane-change';
      slot: number;
      from: number;
      to: number;
      reason: MoveReason;
      entriesPerSec: number;
      bytesPerSec: number;
      /** Placement moves: the loads behind the decision (fractions of each lane's capacity). */
      loads?: { relief: number; fromLoad: number; fromLoadAfter: number; toLoad: number; toLoadAfter: number; headroom: number };
    }
  | { type: 'cores'; lanes: number[][]; utilisation: number[]; reason: 'utilisation' | 'capacity'; loads?: number[] }
  | { type: 'capacity'; reason: 'calibration' | 'cores moved'; lanes: LaneCapacity[]; ms: number }
  | { type: 'balance'; lanes: LaneBalance[]; headroom: number }
  | { type: 'overloaded'; lane: number; load: number; headroom: number }
  | { type: 'tick'; at: number }
  | { type: 'lane-table'; table: LaneTable }
  | { type: 'lane-table-rejected'; message: string }
  /** Raised on the front door's side: the thread died and is started again after a second. */
  | { type: 'thread-failed'; message: string; restarts: number };

// Messages between the load generator (parent) and its client processes.
import type { ChainClass, ConnSpec } from './plan.js';

export interface InitMessage {
  type: 'init';
  /** Gateway base, e.g. ws://127.0.0.1:8080 */
  url: string;
  conns: ConnSpec[];
  entrySize: number;
  /** Each chain's writer key, sent as `Authorization: Bearer` (a gateway with credits on). */
  keys?: Record<string, string>;
}

/** Times are epoch milliseconds (clock.ts), shared by all processes. */
export interface GoMessage {
  type: 'go';
  startAt: number;
  measureFrom: number;
  measureUntil: number;
  /** Last moment to wait for replies and committed notices after sending stops. */
  drainUntil: number;
  intervalMs: number;
}

export type ToWorker = InitMessage | GoMessage;

export interface ReadyMessage {
  type: 'ready';
  /** One line per connection that could not open. */
  failures: string[];
}

/** What one client process saw in one chart interval (by reply arrival time, measured window only). */
export interface IntervalMessage {
  type: 'interval';
  index: number;
  entries: number;
  /** Encoded histograms of send → accepted. */
  latency: Record<ChainClass, string>;
}

export interface ClassCounts {
  framesSent: number;
  framesAccepted: number;
  entriesAccepted: number;
  framesCommitted: number;
  entriesCommitted: number;
}

export interface WorkerResult {
  connections: number;
  cpuSeconds: number;
  wallSeconds: number;
  /** Event-loop utilisation over the measured window: near 1 = the client was the bottleneck. */
  elu: number;
  histograms: Record<ChainClass, { accepted: string; committed: string }>;
  counts: Record<ChainClass, ClassCounts>;
  errors: Record<string, number>;
  /** Whether any `committed` notice arrived at all. */
  committedSeen: boolean;
  /** Entries accepted in the window whose commit did not arrive before the drain ended. */
  uncommitted: number;
  /** Entries accepted over the whole run (warm-up and drain included), by class. */
  entriesAcceptedTotal: Record<ChainClass, number>;
  /** Entries covered by committed notices over the whole run, by class. */
  entriesCommittedTotal: Record<ChainClass, number>;
  /** Connections the target closed before the run ended (not closed by this client). */
  connectionsLost: number;
  /** Connections the target closed, by "class code reason". */
  lostBecause: Record<string, number>;
  /** Paced frames not sent because the connection already had its maximum in flight. */
  skipped: number;
  /** Paced frames sent more than 5 ms after their due time (client too busy), and the worst delay. */
  lateSends: number;
  maxLateMs: number;
  /** By chain: send → accepted in the measured window, encoded, and entries accepted in it. */
  chains: Record<string, { accepted: string; entriesAccepted: number }>;
}

export interface DoneMessage {
  type: 'done';
  result: WorkerResult;
}

export type FromWorker = ReadyMessage | IntervalMessage | DoneMessage;

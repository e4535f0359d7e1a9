// The front door's event-loop turns, measured whole (docs/architecture.md,
// "The front door's time, shared by address"): every turn's busy time and CPU
// time, by the native addon's check handle (native/src/loop-turns.cc), and
// what uWS delivered in it, counted here by the callbacks. A frame that
// arrives during a turn waits for the rest of it, so the longest turn is what
// a tenant can be made to wait by everyone else.
//
// AddressTurns reads its own clock only every 256 frame units, to bar whoever
// overloads a turn while it runs; this meter sees every turn after it ends,
// timers, lane replies and garbage collection included, and costs one check
// callback per turn (it never wakes an idle loop) and an add per callback.
//
// Turns busy for at least RECORD_MS are recorded with their counts in a ring
// the native side writes; `drain` reads what is new (from a clock that runs
// anyway), and the worst of each LOG_WINDOW_MS is logged once the window ends.
import type { Logger } from '../log/index.js';
import { system } from '../native/index.js';

/** What the front door's callbacks count per turn: the slot of each in the counts region. */
export const TURN_COUNTS = {
  /** WebSocket messages handed to JavaScript, and their bytes. */
  frames: 0,
  frameBytes: 1,
  /** Of those, frames of streams already cut off (dropped unread). */
  framesDropped: 2,
  /** WebSocket upgrade requests, streams opened, streams closed. */
  upgrades: 3,
  opens: 4,
  closes: 5,
  /** HTTP requests routed (upgrades not included). */
  requests: 6,
  /** Requests and upgrades refused by the guard (any cause). */
  refused: 7,
  /** Batches of hashed frames answered from the lanes, and blocks made durable (their committed notices). */
  hashedBatches: 8,
  sealedBlocks: 9,
  /** Streams cut off by a bar on their address; times the share judged the turn, and addresses it barred. */
  streamsCut: 10,
  judged: 11,
  bars: 12,
  /** Frames answered `busy` for their address's share of a judged turn (address-turns.ts). */
  framesShed: 13,
} as const;
export type TurnCountName = keyof typeof TURN_COUNTS;
const COUNT_NAMES = Object.keys(TURN_COUNTS) as TurnCountName[];

/** Bucket bounds of turns by busy time, in seconds (Prometheus `le`). */
export const TURN_BOUNDS_S: readonly number[] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** A turn busy this long is recorded with its counts. */
export const RECORD_MS = 5;
/** Records the ring holds between two drains (a drain runs every 250 ms). */
const RECORDS = 256;
/** The worst turns of a window are logged when it ends, at most this many lines. */
const LOG_WINDOW_MS = 10_000;
const LOGGED_PER_WINDOW = 3;

// The slots' layout, as native/src/loop-turns.cc writes it (its header comment).
const HEADER = { turns: 0, busyNs: 1, cpuNs: 2, longestBusyNs: 3, longestCpuNs: 4, recordsWritten: 5 } as const;
const HEADER_SLOTS = 6;
const RECORD_HEAD = 3;
const BUCKETS = TURN_BOUNDS_S.length + 1;
const COUNTS_AT = HEADER_SLOTS + BUCKETS;
const RECORDS_AT = COUNTS_AT + COUNT_NAMES.length;
const RECORD_WIDTH = RECORD_HEAD + COUNT_NAMES.length;
const SLOTS = RECORDS_AT + RECORDS * RECORD_WIDTH;

/** One long turn: when it ended (epoch ms), how long it kept the thread busy and on a CPU, and what it held. */
export interface LongTurn {
  endedAt: number;
  /**
   * When it ended on the machine's monotonic clock (CLOCK_MONOTONIC, ms): what
   * system traces (`perf record -k CLOCK_MONOTONIC`) time their events by, and
   * unlike the epoch never slewed (bench/turn-trace.ts matches turns with it).
   */
  monotonicMs: number;
  busyMs: number;
  cpuMs: number;
  counts: Record<TurnCountName, number>;
}

/** Everything measured since start, for metrics. */
export interface TurnTotals {
  turns: number;
  busySeconds: number;
  cpuSeconds: number;
  longestBusySeconds: number;
  longestCpuSeconds: number;
  /** Turns by busy time, non-cumulative, one more than TURN_BOUNDS_S (the last: above all bounds). */
  buckets: number[];
}

/**
 * The thread's measurement, shared by every TurnMeter on it (tests run several
 * gateways in one process): the native side measures one loop per thread.
 */
let threadSlots: { slots: Float64Array; measuring: boolean; users: number } | null = null;

function acquireSlots(): { slots: Float64Array; measuring: boolean } {
  if (threadSlots === null) {
    const slots = new Float64Array(SLOTS);
    const boundsNs = Float64Array.from(TURN_BOUNDS_S, (s) => s * 1e9);
    threadSlots = { slots, measuring: system.watchLoopTurns(slots, boundsNs, COUNT_NAMES.length, RECORDS, RECORD_MS * 1e6), users: 0 };
  }
  threadSlots.users++;
  return threadSlots;
}

function releaseSlots(): void {
  if (threadSlots === null || --threadSlots.users > 0) return;
  if (threadSlots.measuring) system.unwatchLoopTurns();
  threadSlots = null;
}

export class TurnMeter {
  /** Whether turns are measured (the native addon is loaded); without it only the counts are kept, unread. */
  readonly measuring: boolean;
  private readonly slots: Float64Array;
  /** The region the callbacks add to: `counts[TURN_COUNTS.frames] += 1`. */
  readonly counts: Float64Array;
  private readonly log: Logger;
  private recordsRead: number;
  private stopped = false;
  /** Long turns not yet logged: the window's worst by busy time and by CPU time, and how many there were. */
  private windowStart = 0;
  private windowWorst: LongTurn[] = [];
  private windowWorstCpu: LongTurn[] = [];
  private windowLong = 0;
  /** Long turns the ring overwrote before they were read. */
  lostRecords = 0;

  constructor(log: Logger) {
    this.log = log;
    const { slots, measuring } = acquireSlots();
    this.slots = slots;
    this.measuring = measuring;
    this.counts = slots.subarray(COUNTS_AT, RECORDS_AT);
    this.recordsRead = slots[HEADER.recordsWritten]!;
  }

  stop(): void {
    if (this.stopped) return;
    this.drain();
    this.logWindow();
    this.stopped = true;
    releaseSlots();
  }

  /** Turns this thread's loop has ended so far: the same all through a turn. Only counts while `measuring`. */
  turnsEnded(): number {
    return this.slots[HEADER.turns]!;
  }

  totals(): TurnTotals {
    const s = this.slots;
    return {
      turns: s[HEADER.turns]!,
      busySeconds: s[HEADER.busyNs]! / 1e9,
      cpuSeconds: s[HEADER.cpuNs]! / 1e9,
      longestBusySeconds: s[HEADER.longestBusyNs]! / 1e9,
      longestCpuSeconds: s[HEADER.longestCpuNs]! / 1e9,
      buckets: Array.from(s.subarray(HEADER_SLOTS, COUNTS_AT)),
    };
  }

  /** The long turns recorded since the last drain, oldest first; the window's worst are logged once it ends. */
  drain(): LongTurn[] {
    if (this.stopped) return [];
    const written = this.slots[HEADER.recordsWritten]!;
    const from = Math.max(this.recordsRead, written - RECORDS);
    this.lostRecords += from - this.recordsRead;
    const turns: LongTurn[] = [];
    // uv_hrtime and performance.now() differ by a constant: the record's age is what converts.
    const hrNowMs = Number(process.hrtime.bigint()) / 1e6;
    const epochNow = Date.now();
    for (let i = from; i < written; i++) {
      const at = RECORDS_AT + (i % RECORDS) * RECORD_WIDTH;
      const counts = {} as Record<TurnCountName, number>;
      for (const [j, name] of COUNT_NAMES.entries()) counts[name] = this.slots[at + RECORD_HEAD + j]!;
      const monotonicMs = this.slots[at]!;
      turns.push({ endedAt: epochNow - (hrNowMs - monotonicMs), monotonicMs, busyMs: this.slots[at + 1]! / 1e6, cpuMs: this.slots[at + 2]! / 1e6, counts });
    }
    this.recordsRead = written;
    this.keepForLog(turns, epochNow);
    return turns;
  }

  private keepForLog(turns: readonly LongTurn[], now: number): void {
    if (now - this.windowStart >= LOG_WINDOW_MS) {
      this.logWindow();
      this.windowStart = now;
    }
    this.windowLong += turns.length;
    this.windowWorst = worstOf([...this.windowWorst, ...turns], (t) => t.busyMs);
    this.windowWorstCpu = worstOf([...this.windowWorstCpu, ...turns], (t) => t.cpuMs);
  }

  /**
   * One line per window with long turns: its worst turns by busy time and by
   * CPU time (a turn can be long because the thread lost its core, or because
   * of its own work), with what they held: where the front door's time went.
   * A warning only when some turn's own work took RECORD_MS of CPU: turns that
   * were long only because the thread waited for a core say so at info (the
   * machine is busier than its cores; nothing in the gateway to fix).
   */
  private logWindow(): void {
    if (this.windowLong === 0) return;
    const worst = this.windowWorst;
    const longest = worst[0]!;
    const mostCpu = this.windowWorstCpu[0]!;
    const ownWork = mostCpu.cpuMs >= RECORD_MS;
    const fields = { event: 'long-turns', turns: this.windowLong, recordMs: RECORD_MS, worst, worstCpu: this.windowWorstCpu, lostRecords: this.lostRecords };
    const what = `${this.windowLong} turns of the front door were busy ${RECORD_MS} ms or more in the last ${LOG_WINDOW_MS / 1000} s; `;
    if (ownWork) {
      this.log.warn(fields, what + `the longest ${longest.busyMs.toFixed(1)} ms (${longest.cpuMs.toFixed(1)} ms on a CPU): ${describeCounts(longest.counts)}`);
    } else {
      this.log.info(
        fields,
        what +
          `none used ${RECORD_MS} ms of CPU (the longest ${longest.busyMs.toFixed(1)} ms, ${longest.cpuMs.toFixed(1)} ms on a CPU): ` +
          'the thread waited for a core, the machine is busier than its cores',
      );
    }
    this.windowLong = 0;
    this.windowWorst = [];
    this.windowWorstCpu = [];
  }
}

function worstOf(turns: LongTurn[], by: (turn: LongTurn) => number): LongTurn[] {
  return turns.sort((a, b) => by(b) - by(a)).slice(0, LOGGED_PER_WINDOW);
}

/** "1203 frames, 40 opens, …": the non-zero counts of a turn (no locale formatting: its first use loads ICU data, on the front door). */
export function describeCounts(counts: Readonly<Record<TurnCountName, number>>): string {
  const parts = COUNT_NAMES.filter((name) => counts[name] > 0).map((name) => `${counts[name]} ${name}`);
  return parts.length === 0 ? 'no callback counted (timers, garbage collection or uWS alone)' : parts.join(', ');
}

// The shared chain table: which lane each chain is in, and its measured load.
//
// Layout (one SharedArrayBuffer):
//   line 0           i32 count        chains registered; slots [0, count) are live
//   lines 1…         i32 lane         one per chain slot, packed
//   the next line…   f64 × 3 rates    one row per chain slot, packed:
//                                     entries/s, bytes/s, share of all entries/s
//
//   count  written by the front door (register), after the new slot's lane.
//          The scheduler reads it with Atomics.load every tick and may assume
//          every slot below it has its lane.
//   lane   written once by the front door when it registers the chain, then
//          by the scheduler only. The front door reads it with Atomics.load
//          for every frame; a frame routed by a lane that just changed is
//          harmless (the sealer orders a chain's entries by seq, whichever
//          ring they came through).
//   rates  written by the scheduler only, each tick, with plain stores.
//          Readers (the front door's chain stats) may see a row from two
//          ticks mixed: they are estimates.
//
// The lane column is packed rather than one line per chain: after a chain is
// registered only the scheduler writes its cell, and only when the chain
// changes lane, so the front door's per-frame reads seldom find a line taken
// away from them.
import { CACHE_LINE_BYTES, LINE_CELLS, wholeLines } from './layout.js';

export const LANE_NAMES = ['heavy', 'medium', 'light'] as const;
export type LaneName = (typeof LANE_NAMES)[number];
export const HEAVY = 0;
export const MEDIUM = 1;
export const LIGHT = 2;
export const LANE_COUNT = LANE_NAMES.length;

export function laneIndex(name: string): number {
  const i = (LANE_NAMES as readonly string[]).indexOf(name);
  if (i < 0) throw new RangeError(`unknown lane "${name}" (expected one of ${LANE_NAMES.join(', ')})`);
  return i;
}

const COUNT_CELL = 0;
const RATE_COLUMNS = 3; // entries/s, bytes/s, share of all entries/s

export class ChainTable {
  readonly sab: SharedArrayBuffer;
  readonly maxChains: number;
  private readonly header: Int32Array;
  private readonly lanes: Int32Array;
  private readonly rates: Float64Array;

  constructor(sab: SharedArrayBuffer, maxChains: number) {
    this.sab = sab;
    this.maxChains = maxChains;
    this.header = new Int32Array(sab, 0, LINE_CELLS);
    this.lanes = new Int32Array(sab, CACHE_LINE_BYTES, maxChains);
    this.rates = new Float64Array(sab, ratesOffset(maxChains), maxChains * RATE_COLUMNS);
  }

  static allocate(maxChains: number): ChainTable {
    const bytes = ratesOffset(maxChains) + maxChains * RATE_COLUMNS * Float64Array.BYTES_PER_ELEMENT;
    return new ChainTable(new SharedArrayBuffer(bytes), maxChains);
  }

  get count(): number {
    return Atomics.load(this.header, COUNT_CELL);
  }

  /** Front door only: makes slot `count` live in `lane`. */
  register(lane: number): number {
    const slot = this.count;
    if (slot >= this.maxChains) return -1;
    Atomics.store(this.lanes, slot, lane);
    Atomics.store(this.header, COUNT_CELL, slot + 1);
    return slot;
  }

  lane(slot: number): number {
    return Atomics.load(this.lanes, slot);
  }
  /** Scheduler only. */
  setLane(slot: number, lane: number): void {
    Atomics.store(this.lanes, slot, lane);
  }

  entriesPerSec(slot: number): number {
    return this.rates[slot * RATE_COLUMNS]!;
  }
  bytesPerSec(slot: number): number {
    return this.rates[slot * RATE_COLUMNS + 1]!;
  }
  share(slot: number): number {
    return this.rates[slot * RATE_COLUMNS + 2]!;
  }
  /** Scheduler only. */
  setRates(slot: number, entriesPerSec: number, bytesPerSec: number, share: number): void {
    const r = slot * RATE_COLUMNS;
    this.rates[r] = entriesPerSec;
    this.rates[r + 1] = bytesPerSec;
    this.rates[r + 2] = share;
  }
}

/** The rate rows start on the line after the lane column. */
function ratesOffset(maxChains: number): number {
  return CACHE_LINE_BYTES + wholeLines(maxChains * Int32Array.BYTES_PER_ELEMENT);
}

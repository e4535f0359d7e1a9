// The shared chain table: which lane each chain is in, and its measured load.
// The front door owns slot assignment (it registers chains); the scheduler
// thread owns the lane column and the rate columns. Each cell has one writer;
// readers use Atomics.load on the lane column, which the front door consults
// for every frame.

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

const RATE_COLUMNS = 3; // entries/s, bytes/s, share of all entries/s

export class ChainTable {
  readonly sab: SharedArrayBuffer;
  readonly maxChains: number;
  /** [0] = registered chain count. */
  private readonly header: Int32Array;
  private readonly lanes: Int32Array;
  private readonly rates: Float64Array;

  constructor(sab: SharedArrayBuffer, maxChains: number) {
    this.sab = sab;
    this.maxChains = maxChains;
    this.header = new Int32Array(sab, 0, 32);
    this.lanes = new Int32Array(sab, 128, maxChains);
    this.rates = new Float64Array(sab, ratesOffset(maxChains), maxChains * RATE_COLUMNS);
  }

  static allocate(maxChains: number): ChainTable {
    const bytes = ratesOffset(maxChains) + maxChains * RATE_COLUMNS * 8;
    return new ChainTable(new SharedArrayBuffer(bytes), maxChains);
  }

  get count(): number { return Atomics.load(this.header, 0); }

  /** Front door only: makes slot `count` live in `lane`. */
  register(lane: number): number {
    const slot = this.count;
    if (slot >= this.maxChains) return -1;
    Atomics.store(this.lanes, slot, lane);
    Atomics.store(this.header, 0, slot + 1);
    return slot;
  }

  lane(slot: number): number { return Atomics.load(this.lanes, slot); }
  /** Scheduler only. */
  setLane(slot: number, lane: number): void { Atomics.store(this.lanes, slot, lane); }

  entriesPerSec(slot: number): number { return this.rates[slot * RATE_COLUMNS]!; }
  bytesPerSec(slot: number): number { return this.rates[slot * RATE_COLUMNS + 1]!; }
  share(slot: number): number { return this.rates[slot * RATE_COLUMNS + 2]!; }
  /** Scheduler only. Readers may see a row from two ticks mixed; they are estimates. */
  setRates(slot: number, entriesPerSec: number, bytesPerSec: number, share: number): void {
    const r = slot * RATE_COLUMNS;
    this.rates[r] = entriesPerSec;
    this.rates[r + 1] = bytesPerSec;
    this.rates[r + 2] = share;
  }
}

function ratesOffset(maxChains: number): number {
  return 128 + Math.ceil((maxChains * 4) / 128) * 128;
}

// Moving-average load per chain from the workers' u32 counters.
import { LANE_COUNT, seqDistance, type LoadCounters } from '../ring/index.js';

/**
 * Exponentially weighted moving averages of entries/s and bytes/s. The weight
 * of a new sample depends on the time since the last one (alpha = 1 - e^(-dt/tau)),
 * so a late tick does not distort the average.
 */
export class RateEstimator {
  readonly entriesPerSec: Float64Array;
  readonly bytesPerSec: Float64Array;
  /** The last tick's rates alone, unaveraged: what promotion looks at. */
  readonly instantEntriesPerSec: Float64Array;
  readonly instantBytesPerSec: Float64Array;
  private readonly tauMs: number;
  private readonly prevEntries: Uint32Array;
  private readonly prevBytes: Uint32Array;
  private readonly deltaEntries: Float64Array;
  private readonly deltaBytes: Float64Array;
  private readonly maxChains: number;
  /** Entries and bytes each lane's workers hashed since `takeLaneTotals` last ran (capacity refinement). */
  private readonly laneEntries = new Float64Array(LANE_COUNT);
  private readonly laneBytes = new Float64Array(LANE_COUNT);
  /** The first sample only learns where the counters stand (a restarted scheduler finds them far from 0). */
  private primed = false;

  constructor(maxChains: number, workerSlots: number, tauMs: number) {
    this.maxChains = maxChains;
    this.tauMs = tauMs;
    this.entriesPerSec = new Float64Array(maxChains);
    this.bytesPerSec = new Float64Array(maxChains);
    this.instantEntriesPerSec = new Float64Array(maxChains);
    this.instantBytesPerSec = new Float64Array(maxChains);
    this.prevEntries = new Uint32Array(workerSlots * maxChains);
    this.prevBytes = new Uint32Array(workerSlots * maxChains);
    this.deltaEntries = new Float64Array(maxChains);
    this.deltaBytes = new Float64Array(maxChains);
  }

  /** Reads every worker row for chains [0, chains) and folds dtMs worth of counts into the averages. */
  sample(counters: LoadCounters, chains: number, dtMs: number): void {
    this.deltaEntries.fill(0, 0, chains);
    this.deltaBytes.fill(0, 0, chains);
    const slots = counters.slotsInUse();
    for (let w = 0; w < slots; w++) {
      const row = w * this.maxChains;
      // Frames the front door hashed inline are counted in rows that record no
      // busy time (no tasks): they stay out of the lane totals that busy time corrects.
      const lane = counters.tasks(w) > 0 ? counters.laneOf(w) : -1;
      for (let c = 0; c < chains; c++) {
        const e = counters.entries(w, c);
        const b = counters.bytes(w, c);
        const de = seqDistance(e, this.prevEntries[row + c]!);
        const db = seqDistance(b, this.prevBytes[row + c]!);
        this.deltaEntries[c]! += de;
        this.deltaBytes[c]! += db;
        if (lane >= 0) {
          this.laneEntries[lane]! += de;
          this.laneBytes[lane]! += db;
        }
        this.prevEntries[row + c] = e;
        this.prevBytes[row + c] = b;
      }
    }
    if (!this.primed || dtMs <= 0) {
      if (!this.primed) this.takeLaneTotals();
      this.primed = true;
      return;
    }
    const alpha = 1 - Math.exp(-dtMs / this.tauMs);
    for (let c = 0; c < chains; c++) {
      const e = (this.deltaEntries[c]! * 1000) / dtMs;
      const b = (this.deltaBytes[c]! * 1000) / dtMs;
      this.instantEntriesPerSec[c] = e;
      this.instantBytesPerSec[c] = b;
      this.entriesPerSec[c]! += alpha * (e - this.entriesPerSec[c]!);
      this.bytesPerSec[c]! += alpha * (b - this.bytesPerSec[c]!);
    }
  }

  /** What each lane hashed since the last call, and starts counting again. */
  takeLaneTotals(): { entries: number[]; bytes: number[] } {
    const out = { entries: Array.from(this.laneEntries), bytes: Array.from(this.laneBytes) };
    this.laneEntries.fill(0);
    this.laneBytes.fill(0);
    return out;
  }

  totalEntriesPerSec(chains: number): number {
    let total = 0;
    for (let c = 0; c < chains; c++) total += this.entriesPerSec[c]!;
    return total;
  }
}

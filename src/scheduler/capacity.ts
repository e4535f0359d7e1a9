// What each lane can carry: entries/s and bytes/s, measured on the lane's own
// cores by hashing real frame shapes, then corrected by the workers' live busy
// time.
//
// Two shapes, because they hit different limits: many small entries cost per
// entry (decode, SHA-256 set-up, span bookkeeping), a few large entries cost per
// byte (memory bandwidth and the hash rounds). The lane's bytes/s is measured
// with the large shape, never derived from entries/s (issue 9).
//
// A lane's load is the linear cost model `entries/E + bytes/B`, each term a
// fraction of one second of the lane. The entries shape carries a few bytes per
// entry, so the sum counts a chain of tiny entries a little (bytes/B, ~3 % here)
// too heavy: on the side of caution.
import { performance } from 'node:perf_hooks';
import { pack } from 'msgpackr';
import { FrameReader } from '../ring/index.js';

export interface LaneCapacity {
  entriesPerSec: number;
  bytesPerSec: number;
}

export interface Demand {
  entriesPerSec: number;
  bytesPerSec: number;
}

/** Frame shapes hashed by the calibration: a batch of small entries, and a few large ones. */
export const CALIBRATION_SHAPES = {
  entries: { entries: 64, entryBytes: 64 },
  bytes: { entries: 4, entryBytes: 64 * 1024 },
} as const;

/** What the calibration needs of the native addon (or its JS fallback). */
export interface CalibrationHasher {
  sha256Spans(src: Uint8Array, spans: Int32Array, count: number, dst: Uint8Array, dstOffset: number): void;
}

export interface ShapeRate {
  entriesPerSec: number;
  bytesPerSec: number;
}

/** Hashes frames of one shape for about `budgetMs` on the calling thread; its rates per thread. */
export function measureShape(hasher: CalibrationHasher, shape: { entries: number; entryBytes: number }, budgetMs: number): ShapeRate {
  const entry = new Uint8Array(shape.entryBytes);
  for (let i = 0; i < entry.length; i++) entry[i] = (i * 31 + 7) & 0xff;
  const frame = pack(Array.from({ length: shape.entries }, () => entry)) as Uint8Array;
  const reader = new FrameReader({ maxEntryBytes: shape.entryBytes, maxEntriesPerFrame: shape.entries });
  const spans = new Int32Array(shape.entries * 2);
  const hashes = new Uint8Array(shape.entries * 32);
  let frames = 0;
  const started = performance.now();
  let elapsed = 0;
  // At least a few frames, so a slow machine still measures something.
  while (elapsed < budgetMs || frames < 4) {
    for (let i = 0; i < 8; i++) {
      const count = reader.scan(frame, 0, frame.byteLength, spans);
      if (count !== shape.entries) throw new Error(`calibration frame did not decode: ${reader.message}`);
      hasher.sha256Spans(frame, spans, count, hashes, 0);
      frames++;
    }
    elapsed = performance.now() - started;
  }
  const seconds = Math.max(elapsed, 1e-3) / 1000;
  return { entriesPerSec: (frames * shape.entries) / seconds, bytesPerSec: (frames * frame.byteLength) / seconds };
}

/**
 * A lane's capacity from per-thread rates: threads run in parallel only on as
 * many cores as the lane has. `budgetMs` is split between the two shapes.
 */
export function calibrateLane(hasher: CalibrationHasher, parallel: number, budgetMs: number): LaneCapacity {
  const entries = measureShape(hasher, CALIBRATION_SHAPES.entries, budgetMs / 2);
  const bytes = measureShape(hasher, CALIBRATION_SHAPES.bytes, budgetMs / 2);
  return { entriesPerSec: entries.entriesPerSec * parallel, bytesPerSec: bytes.bytesPerSec * parallel };
}

/** The fraction of one second of the lane that `demand` takes (may exceed 1). */
export function loadOf(demand: Demand, capacity: LaneCapacity): number {
  if (capacity.entriesPerSec <= 0 || capacity.bytesPerSec <= 0) return Number.POSITIVE_INFINITY;
  return demand.entriesPerSec / capacity.entriesPerSec + demand.bytesPerSec / capacity.bytesPerSec;
}

/** Bounds of the live correction: calibration is off by more than 4× only if something else is wrong. */
const CORRECTION_MIN = 0.25;
const CORRECTION_MAX = 4;
/** Busy thread-seconds per second below which a window says too little to correct anything. */
const MIN_BUSY = 0.05;
/** Weight of one window in the correction's moving average. */
const CORRECTION_WEIGHT = 0.3;

/**
 * The calibrated capacity of a lane, corrected by live busy time: when workers
 * spend longer on what they hashed than calibration predicts (a shared VM, a
 * noisy neighbour, cache misses the calibration loop did not have), the lane
 * carries less, and the other way round.
 */
export class LaneCapacityModel {
  calibrated: LaneCapacity;
  /** Measured busy time ÷ predicted: above 1 the lane is slower than calibrated. */
  correction = 1;
  /** Declared by the operator: kept as given, never corrected. */
  readonly declared: boolean;

  constructor(calibrated: LaneCapacity, declared = false) {
    this.calibrated = calibrated;
    this.declared = declared;
  }

  get current(): LaneCapacity {
    return {
      entriesPerSec: this.calibrated.entriesPerSec / this.correction,
      bytesPerSec: this.calibrated.bytesPerSec / this.correction,
    };
  }

  /**
   * Folds a window in which the lane's workers hashed `hashed` (per second of
   * the window) while busy `busy` thread-seconds per second, over `parallel`
   * threads. Returns true when the window was large enough to count.
   */
  refine(hashed: Demand, busy: number, parallel: number): boolean {
    if (this.declared || busy < MIN_BUSY) return false;
    // The calibrated rates are for all threads together; busy time is summed over threads.
    const predicted = loadOf(hashed, this.calibrated) * parallel;
    if (!(predicted > 0)) return false;
    const ratio = Math.min(CORRECTION_MAX, Math.max(CORRECTION_MIN, busy / predicted));
    this.correction += CORRECTION_WEIGHT * (ratio - this.correction);
    return true;
  }
}

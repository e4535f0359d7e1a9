// The lane table: ranges of measured load mapped to lanes. A chain belongs to
// the heaviest lane whose thresholds it reaches in any one measure; the
// lightest lane takes everything else. Hysteresis lives in `LaneAssigner`:
// promotion happens on the first tick a chain qualifies, demotion only after
// it stayed below its lane for `demoteAfterMs`, so a bursty chain does not
// bounce between lanes (each move splits its frames over two rings).
import { LANE_COUNT, LANE_NAMES, type LaneName } from '../ring/index.js';

export interface LaneThresholds {
  lane: LaneName;
  /** Enter this lane at or above any of these. */
  minEntriesPerSec?: number;
  minBytesPerSec?: number;
  minShare?: number;
}

export interface LaneTable {
  /** Heaviest first; lanes not listed are never chosen except the lightest, the default. */
  lanes: LaneThresholds[];
  /** Share of traffic only counts once all chains together reach this many entries/s. */
  shareFloorEntriesPerSec: number;
}

export const DEFAULT_LANE_TABLE: LaneTable = {
  lanes: [
    { lane: 'heavy', minEntriesPerSec: 50_000, minBytesPerSec: 16 * 1024 * 1024, minShare: 0.3 },
    { lane: 'medium', minEntriesPerSec: 2_000, minBytesPerSec: 1024 * 1024, minShare: 0.05 },
  ],
  shareFloorEntriesPerSec: 1_000,
};

export interface ChainLoad {
  entriesPerSec: number;
  bytesPerSec: number;
  share: number;
  totalEntriesPerSec: number;
}

/** Checks a lane table that may come from a file or the store (so: anything at all), and returns it typed. */
export function validateLaneTable(table: unknown): LaneTable {
  if (typeof table !== 'object' || table === null) throw new RangeError('lane table: expected an object with "lanes" and "shareFloorEntriesPerSec"');
  const { lanes, shareFloorEntriesPerSec } = table as Record<string, unknown>;
  if (!Array.isArray(lanes)) throw new RangeError('lane table: "lanes" must be an array, heaviest lane first');
  if (!isThreshold(shareFloorEntriesPerSec)) throw new RangeError('lane table: "shareFloorEntriesPerSec" must be a non-negative number');
  let last = -1;
  for (const row of lanes as unknown[]) {
    if (typeof row !== 'object' || row === null) throw new RangeError('lane table: each row must be an object');
    const { lane, minEntriesPerSec, minBytesPerSec, minShare } = row as Record<string, unknown>;
    const index = (LANE_NAMES as readonly string[]).indexOf(String(lane));
    if (index < 0) throw new RangeError(`lane table: unknown lane "${String(lane)}"`);
    if (index <= last) throw new RangeError('lane table: list lanes heaviest first, each once');
    for (const [name, value] of Object.entries({ minEntriesPerSec, minBytesPerSec, minShare })) {
      if (value !== undefined && !isThreshold(value)) throw new RangeError(`lane table: ${String(lane)}.${name} must be a non-negative number`);
    }
    last = index;
  }
  return table as LaneTable;
}

function isThreshold(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** The lane a load belongs in, without hysteresis. */
export function lookupLane(table: LaneTable, load: ChainLoad): number {
  const shareCounts = load.totalEntriesPerSec >= table.shareFloorEntriesPerSec;
  for (const row of table.lanes) {
    if (reaches(load.entriesPerSec, row.minEntriesPerSec) || reaches(load.bytesPerSec, row.minBytesPerSec)
      || (shareCounts && reaches(load.share, row.minShare))) {
      return (LANE_NAMES as readonly string[]).indexOf(row.lane);
    }
  }
  return LANE_COUNT - 1;
}

function reaches(value: number, threshold: number | undefined): boolean {
  return threshold !== undefined && value >= threshold;
}

/** Per-chain lane decisions with promote-fast, demote-slowly hysteresis. */
export class LaneAssigner {
  private readonly demoteAfterMs: number;
  /** When each chain first looked lighter than its lane, or -1. */
  private lighterSince: Float64Array;

  constructor(maxChains: number, demoteAfterMs: number) {
    this.demoteAfterMs = demoteAfterMs;
    this.lighterSince = new Float64Array(maxChains).fill(-1);
  }

  /** Returns the lane the chain should be in now, given its current lane and the table's answer. */
  decide(slot: number, current: number, wanted: number, nowMs: number): number {
    if (wanted <= current) {
      // Same lane or heavier (lower index): move at once.
      this.lighterSince[slot] = -1;
      return wanted;
    }
    const since = this.lighterSince[slot]!;
    if (since < 0) {
      this.lighterSince[slot] = nowMs;
      return current;
    }
    if (nowMs - since < this.demoteAfterMs) return current;
    this.lighterSince[slot] = -1;
    return wanted;
  }
}

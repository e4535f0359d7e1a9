// The lane table: ranges of measured load mapped to lanes. A chain belongs to
// the heaviest lane whose thresholds it reaches in any one measure; the
// lightest lane takes everything else. Hysteresis lives in `LaneAssigner`:
// promotion happens on the first tick a chain qualifies, demotion only after
// it stayed below its lane for `demoteAfterMs`, so a bursty chain does not
// bounce between lanes (each move splits its frames over two rings).
import { z } from 'zod';
import { LANE_COUNT, LANE_NAMES } from '../ring/index.js';
import { WHEN_VALID, atLeast, parseWith, tryParse } from '../validation/index.js';

/** Load at or above which a chain enters a lane; absent: that measure never sends a chain there. */
const threshold = atLeast(0).optional();

export const LaneThresholdsSchema = z.strictObject({
  lane: z.enum(LANE_NAMES),
  minEntriesPerSec: threshold,
  minBytesPerSec: threshold,
  minShare: threshold,
});

const HEAVIEST_FIRST = `lanes listed heaviest first, each once (${LANE_NAMES.join(', ')})`;

/** A lane table from a config file, `chainlanes lanes --set FILE` or the store: so, anything at all until parsed. */
export const LaneTableSchema = z
  .strictObject({
    /** Heaviest first; lanes not listed are never chosen except the lightest, the default. */
    lanes: z.array(LaneThresholdsSchema),
    /** Share of traffic only counts once all chains together reach this many entries/s. */
    shareFloorEntriesPerSec: atLeast(0, 'entries/s'),
  })
  .superRefine((table, ctx) => {
    // lookupLane takes the first row a load reaches, so a lighter lane listed first would shadow heavier ones.
    let last = -1;
    let ordered = true;
    table.lanes.forEach((row, i) => {
      const index = LANE_NAMES.indexOf(row.lane);
      if (index <= last) {
        ctx.addIssue({ code: 'custom', path: ['lanes', i, 'lane'], input: row.lane, message: HEAVIEST_FIRST });
        ordered = false;
      }
      last = Math.max(last, index);
    });
    if (ordered) checkRanges(table.lanes, ctx);
  }, WHEN_VALID);

const MEASURES = ['minEntriesPerSec', 'minBytesPerSec', 'minShare'] as const;

/**
 * Each row's ranges must hold something: a row with no threshold never takes a
 * chain (empty), and a lighter row whose threshold is not below a heavier
 * row's in the same measure overlaps it, so its range there is empty (the
 * heavier row takes every such chain first).
 */
function checkRanges(rows: readonly z.output<typeof LaneThresholdsSchema>[], ctx: z.RefinementCtx): void {
  rows.forEach((row, i) => {
    if (MEASURES.every((m) => row[m] === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['lanes', i],
        input: row,
        message: `a row with at least one of ${MEASURES.join(', ')}: an empty row never takes a chain (the lightest lane takes every chain no row catches)`,
      });
      return;
    }
    for (const m of MEASURES) {
      const mine = row[m];
      if (mine === undefined) continue;
      for (let j = 0; j < i; j++) {
        const heavier = rows[j]![m];
        if (heavier === undefined || mine < heavier) continue;
        ctx.addIssue({
          code: 'custom',
          path: ['lanes', i, m],
          input: mine,
          message: `a number below ${heavier}, lanes[${j}].${m} (${rows[j]!.lane}): the ranges overlap, and ${rows[j]!.lane} takes every chain at or above it, so this range would be empty`,
        });
        break;
      }
    }
  });
}

export type LaneThresholds = z.output<typeof LaneThresholdsSchema>;
export type LaneTable = z.output<typeof LaneTableSchema>;

export const DEFAULT_LANE_TABLE: LaneTable = LaneTableSchema.parse({
  lanes: [
    { lane: 'heavy', minEntriesPerSec: 50_000, minBytesPerSec: 16 * 1024 * 1024, minShare: 0.3 },
    { lane: 'medium', minEntriesPerSec: 2_000, minBytesPerSec: 1024 * 1024, minShare: 0.05 },
  ],
  shareFloorEntriesPerSec: 1_000,
});

export interface ChainLoad {
  entriesPerSec: number;
  bytesPerSec: number;
  share: number;
  totalEntriesPerSec: number;
}

/**
 * Parses a lane table, throwing a `ConfigError` whose lines start with
 * `source` (e.g. "lane table ./lanes.json") and name the path in the table.
 */
export function validateLaneTable(table: unknown, source = 'lane table'): LaneTable {
  return parseWith(LaneTableSchema, table, source);
}

/** The same check as `validateLaneTable`, for callers that answer rather than throw: the table, or one line per problem. */
export function checkLaneTable(table: unknown, source = 'lane table'): { table: LaneTable } | { problems: readonly string[] } {
  const parsed = tryParse(LaneTableSchema, table, source);
  return parsed.ok ? { table: parsed.value } : { problems: parsed.error.problems };
}

/** The lane a load belongs in, without hysteresis. */
export function lookupLane(table: LaneTable, load: ChainLoad): number {
  const shareCounts = load.totalEntriesPerSec >= table.shareFloorEntriesPerSec;
  for (const row of table.lanes) {
    if (
      reaches(load.entriesPerSec, row.minEntriesPerSec) ||
      reaches(load.bytesPerSec, row.minBytesPerSec) ||
      (shareCounts && reaches(load.share, row.minShare))
    ) {
      return LANE_NAMES.indexOf(row.lane);
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

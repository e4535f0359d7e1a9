import { describe, expect, it } from 'vitest';
import { HEAVY, LIGHT, MEDIUM } from '../../src/ring/index.js';
import { DEFAULT_LANE_TABLE, LaneAssigner, lookupLane, validateLaneTable, type LaneTable } from '../../src/scheduler/index.js';

const load = (entriesPerSec: number, bytesPerSec = 0, share = 0, totalEntriesPerSec = entriesPerSec) => ({
  entriesPerSec,
  bytesPerSec,
  share,
  totalEntriesPerSec,
});

describe('lane table', () => {
  it('maps load ranges to lanes by any one measure', () => {
    const t = DEFAULT_LANE_TABLE;
    expect(lookupLane(t, load(0))).toBe(LIGHT);
    expect(lookupLane(t, load(1_999))).toBe(LIGHT);
    expect(lookupLane(t, load(2_000))).toBe(MEDIUM);
    expect(lookupLane(t, load(50_000))).toBe(HEAVY);
    expect(lookupLane(t, load(10, 20 * 1024 * 1024))).toBe(HEAVY);
    expect(lookupLane(t, load(500, 0, 0.4, 1_250))).toBe(HEAVY);
  });

  it('ignores share while total traffic is below the floor', () => {
    expect(lookupLane(DEFAULT_LANE_TABLE, load(5, 0, 1, 5))).toBe(LIGHT);
  });

  it('rejects tables that are not tables (they may come from a file or the store)', () => {
    expect(() => validateLaneTable(null)).toThrow(/^lane table: null is not allowed: expected an object$/);
    expect(() => validateLaneTable({ lanes: 'heavy', shareFloorEntriesPerSec: 0 })).toThrow(/lanes: "heavy" is not allowed: expected a list/);
    expect(() => validateLaneTable({ lanes: [] })).toThrow(/shareFloorEntriesPerSec: missing/);
    expect(() => validateLaneTable({ lanes: [{ lane: 'heavy', minShare: -1 }], shareFloorEntriesPerSec: 0 })).toThrow(
      /lanes\[0\]\.minShare: -1 is not allowed: expected a number ≥ 0/,
    );
    expect(validateLaneTable(DEFAULT_LANE_TABLE)).toEqual(DEFAULT_LANE_TABLE);
  });

  it('rejects unknown lanes and wrong order', () => {
    expect(() => validateLaneTable({ lanes: [{ lane: 'fast' as 'heavy' }], shareFloorEntriesPerSec: 0 })).toThrow(/lanes\[0\]\.lane: "fast" is not allowed/);
    const backwards: LaneTable = { lanes: [{ lane: 'medium' }, { lane: 'heavy' }], shareFloorEntriesPerSec: 0 };
    expect(() => validateLaneTable(backwards)).toThrow(/lanes\[1\]\.lane: "heavy" is not allowed: expected lanes listed heaviest first/);
    const twice: LaneTable = { lanes: [{ lane: 'heavy' }, { lane: 'heavy' }], shareFloorEntriesPerSec: 0 };
    expect(() => validateLaneTable(twice)).toThrow(/heaviest first, each once/);
  });
});

describe('hysteresis', () => {
  it('promotes at once and demotes only after a quiet period', () => {
    const a = new LaneAssigner(2, 1000);
    expect(a.decide(0, LIGHT, HEAVY, 0)).toBe(HEAVY);
    expect(a.decide(0, HEAVY, LIGHT, 100)).toBe(HEAVY);
    expect(a.decide(0, HEAVY, LIGHT, 900)).toBe(HEAVY);
    expect(a.decide(0, HEAVY, LIGHT, 1100)).toBe(LIGHT);
  });

  it('restarts the quiet period when the load comes back', () => {
    const a = new LaneAssigner(1, 1000);
    expect(a.decide(0, HEAVY, LIGHT, 0)).toBe(HEAVY);
    expect(a.decide(0, HEAVY, HEAVY, 600)).toBe(HEAVY);
    expect(a.decide(0, HEAVY, MEDIUM, 700)).toBe(HEAVY);
    expect(a.decide(0, HEAVY, MEDIUM, 1500)).toBe(HEAVY);
    expect(a.decide(0, HEAVY, MEDIUM, 1701)).toBe(MEDIUM);
  });
});

describe('lane table ranges', () => {
  it('refuses an empty row and a lighter row that overlaps a heavier one, naming the row', () => {
    expect(() => validateLaneTable({ lanes: [{ lane: 'heavy', minEntriesPerSec: 10 }, { lane: 'medium' }], shareFloorEntriesPerSec: 0 })).toThrow(
      /lanes\[1\]: .* is not allowed: expected a row with at least one of minEntriesPerSec, minBytesPerSec, minShare/,
    );
    expect(() =>
      validateLaneTable({
        lanes: [
          { lane: 'heavy', minEntriesPerSec: 1_000 },
          { lane: 'medium', minEntriesPerSec: 1_000 },
        ],
        shareFloorEntriesPerSec: 0,
      }),
    ).toThrow(/lanes\[1\]\.minEntriesPerSec: 1000 is not allowed: expected a number below 1000, lanes\[0\]\.minEntriesPerSec \(heavy\): the ranges overlap/);
    // Different measures do not overlap; lower thresholds in lighter rows are fine.
    expect(
      validateLaneTable({
        lanes: [
          { lane: 'heavy', minEntriesPerSec: 1_000 },
          { lane: 'medium', minBytesPerSec: 1e9, minEntriesPerSec: 10 },
        ],
        shareFloorEntriesPerSec: 0,
      }).lanes,
    ).toHaveLength(2);
  });
});

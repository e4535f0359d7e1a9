import { describe, expect, it } from 'vitest';
import { customCoreLayout, defaultCoreLayout, describeLayout, rebalanceCores, DEFAULT_REBALANCE } from '../../src/scheduler/index.js';

describe('core layout', () => {
  it.each([1, 2, 4, 16, 64])('lays out %i cores: every core used, heavy alone from 2 up', (cpus) => {
    const layout = defaultCoreLayout(cpus);
    const used = new Set([...layout.frontdoor, ...layout.sealer, ...layout.lanes.flat()]);
    expect(used.size).toBe(cpus);
    if (cpus !== 2) expect(layout.threads).toEqual(layout.lanes.map((c) => c.length));
    // From two cores up heavy never shares a core with the front door, and from three up with no lane.
    if (cpus >= 2) expect(layout.lanes[0]!.some((c) => layout.frontdoor.includes(c))).toBe(false);
    if (cpus >= 3) {
      const others = new Set([...layout.frontdoor, ...layout.lanes[1]!, ...layout.lanes[2]!]);
      expect(layout.lanes[0]!.some((c) => others.has(c))).toBe(false);
    }
    // Bulk work yields to the front door and the lighter lanes.
    expect(layout.nice[0]).toBeGreaterThan(layout.nice[2]!);
    if (cpus >= 4) expect(layout.frontdoor).toEqual([0]);
    // Only on two cores does the front door lack a core of its own: there it may use both while no chain is heavy.
    expect(layout.frontdoorQuiet).toEqual(cpus === 2 ? [0, 1] : layout.frontdoor);
    // From eight cores up the sealer has a core of its own and no two lanes share one.
    if (cpus >= 8) {
      expect(layout.sealer).toEqual([1]);
      expect(layout.lanes.flat().length).toBe(cpus - 2);
    } else {
      expect(layout.sealer).toHaveLength(cpus);
    }
  });

  it('gives the expected split on 1, 2, 4, 16 and 64 cores', () => {
    expect(defaultCoreLayout(1).lanes).toEqual([[0], [0], [0]]);
    expect(defaultCoreLayout(2).lanes).toEqual([[1], [0, 1], [0, 1]]);
    expect(defaultCoreLayout(2).threads).toEqual([1, 1, 1]);
    expect(defaultCoreLayout(4).lanes).toEqual([[1, 2], [3], [3]]);
    expect(defaultCoreLayout(16).lanes.map((l) => l.length)).toEqual([7, 4, 3]);
    expect(defaultCoreLayout(16).lanes[0]![0]).toBe(2);
    expect(defaultCoreLayout(64).lanes.map((l) => l.length)).toEqual([31, 16, 15]);
    expect(describeLayout(defaultCoreLayout(2))).toBe(
      "2 cores: front door [0] ([0,1] while no chain is heavy), sealer [0,1], heavy [1] ×1 nice 5, medium [0,1] ×1, light [0,1] ×1; Node's helper threads nice 10",
    );
  });

  it('takes an override and refuses cores the machine lacks', () => {
    const layout = customCoreLayout(2, [0], [[1], [1], [0]], [2, 1, 1]);
    expect(layout.threads).toEqual([2, 1, 1]);
    expect(() => customCoreLayout(2, [0], [[5], [1], [0]])).toThrow(/core 5 does not exist/);
    expect(() => customCoreLayout(2, [0], [[], [1], [0]])).toThrow(/no cores/);
  });
});

describe('rebalancing by utilisation', () => {
  it('moves one core from an idle lane to a saturated one', () => {
    const moved = rebalanceCores([[1, 2], [3, 4], [5]], [0.95, 0.1, 0.5], DEFAULT_REBALANCE);
    expect(moved).toEqual([[1, 2, 4], [3], [5]]);
  });

  it('leaves the layout alone when nobody is saturated or no donor has a spare core', () => {
    expect(rebalanceCores([[1, 2], [3, 4], [5]], [0.5, 0.1, 0.5], DEFAULT_REBALANCE)).toBeNull();
    expect(rebalanceCores([[1], [0], [0]], [0.99, 0.0, 0.0], DEFAULT_REBALANCE)).toBeNull();
  });
});

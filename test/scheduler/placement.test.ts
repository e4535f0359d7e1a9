// Placement by capacity, on synthetic numbers: which lane is over, whether a
// core can move, and which chain moves where.
import { describe, expect, it } from 'vitest';
import { HEAVY, LIGHT, MEDIUM } from '../../src/ring/index.js';
import { laneLoads, loadOf, overloadedLane, planChainMove, planCore, type LaneCapacity, type PlacedChain } from '../../src/scheduler/index.js';

const cap = (entriesPerSec: number, bytesPerSec = 1e12): LaneCapacity => ({ entriesPerSec, bytesPerSec });
const chain = (slot: number, lane: number, entriesPerSec: number, extra: Partial<PlacedChain> = {}): PlacedChain => ({
  slot,
  lane,
  tableLane: lane,
  demand: { entriesPerSec, bytesPerSec: 0 },
  pinned: false,
  ...extra,
});

describe('capacity load', () => {
  it('adds the entries and the bytes terms, each a fraction of the lane', () => {
    expect(loadOf({ entriesPerSec: 500, bytesPerSec: 250 }, { entriesPerSec: 1000, bytesPerSec: 1000 })).toBeCloseTo(0.75);
    expect(loadOf({ entriesPerSec: 1, bytesPerSec: 0 }, { entriesPerSec: 0, bytesPerSec: 1 })).toBe(Number.POSITIVE_INFINITY);
  });

  it('sums placed demand per lane, pinned chains included', () => {
    const loads = laneLoads([cap(1000), cap(1000), cap(100)], [chain(0, LIGHT, 50), chain(1, LIGHT, 30, { pinned: true }), chain(2, HEAVY, 500)]);
    expect(loads[LIGHT]).toBeCloseTo(0.8);
    expect(loads[HEAVY]).toBeCloseTo(0.5);
    expect(loads[MEDIUM]).toBe(0);
    expect(overloadedLane(loads, 0.8)).toBe(-1);
    expect(overloadedLane(loads, 0.7)).toBe(LIGHT);
  });
});

describe('planChainMove', () => {
  const caps = [cap(10_000), cap(1_000), cap(1_000)];

  it('moves the chain that relieves the lane most to the nearest lane with room', () => {
    const chains = [chain(0, LIGHT, 300), chain(1, LIGHT, 500), chain(2, LIGHT, 100), chain(3, MEDIUM, 100)];
    const move = planChainMove(caps, chains, LIGHT, 0.8);
    expect(move).toMatchObject({ slot: 1, from: LIGHT, to: MEDIUM });
    expect(move!.relief).toBeCloseTo(0.5);
    expect(move!.fromLoad).toBeCloseTo(0.9);
    expect(move!.toLoadAfter).toBeCloseTo(0.6);
  });

  it('skips the biggest chain when it fits nowhere, and takes the next that does', () => {
    // Medium has room for 0.3 only, heavy for 0.37 of its own: the 500/s chain fits neither.
    const chains = [chain(0, LIGHT, 300), chain(1, LIGHT, 500), chain(2, MEDIUM, 500), chain(3, HEAVY, 300)];
    const tight = [cap(700), cap(1_000), cap(1_000)];
    expect(planChainMove(tight, chains, LIGHT, 0.8)).toMatchObject({ slot: 0, to: MEDIUM });
  });

  it('goes further when the nearest lane is full', () => {
    const chains = [chain(0, LIGHT, 900), chain(1, MEDIUM, 790)];
    expect(planChainMove(caps, chains, LIGHT, 0.8)).toMatchObject({ slot: 0, to: HEAVY });
  });

  it('leaves pinned chains where they are', () => {
    const chains = [chain(0, LIGHT, 600, { pinned: true }), chain(1, LIGHT, 300)];
    expect(planChainMove(caps, chains, LIGHT, 0.8)).toMatchObject({ slot: 1 });
    expect(planChainMove(caps, [chain(0, LIGHT, 900, { pinned: true })], LIGHT, 0.8)).toBeNull();
  });

  it('never moves a heavy flood into the light lane', () => {
    const chains = [chain(0, HEAVY, 9_000), chain(1, MEDIUM, 790)];
    // Medium has no room, light would: still no move.
    expect(planChainMove(caps, chains, HEAVY, 0.8)).toBeNull();
    // A chain the table puts in medium may go to light.
    expect(planChainMove(caps, [chain(0, MEDIUM, 900)], MEDIUM, 0.8)).toMatchObject({ slot: 0, to: HEAVY });
    const heavyFull = [chain(0, MEDIUM, 700), chain(1, MEDIUM, 200), chain(2, HEAVY, 7_900)];
    expect(planChainMove(caps, heavyFull, MEDIUM, 0.8)).toMatchObject({ slot: 0, to: LIGHT });
  });

  it('does nothing when no chain fits anywhere', () => {
    expect(planChainMove(caps, [chain(0, LIGHT, 2_000), chain(1, MEDIUM, 700), chain(2, HEAVY, 7_900)], LIGHT, 0.8)).toBeNull();
  });
});

describe('planCore', () => {
  it('takes a core from a lane with cores of its own that stays within the headroom', () => {
    const lanes = [[2, 3, 4, 5], [6, 7], [8]];
    const move = planCore(lanes, [0.2, 0.5, 1.2], LIGHT, 0.8);
    expect(move).toMatchObject({ from: HEAVY, to: LIGHT, core: 5 });
    expect(move!.lanes).toEqual([
      [2, 3, 4],
      [6, 7],
      [5, 8],
    ]);
  });

  it('finds none when the donors would go over, or share their cores (two cores)', () => {
    expect(planCore([[2, 3], [4, 5], [6]], [0.5, 0.45, 1.2], LIGHT, 0.8)).toBeNull();
    expect(planCore([[1], [0, 1], [0, 1]], [0, 0, 1.2], LIGHT, 0.8)).toBeNull();
  });
});

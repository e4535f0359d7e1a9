// Per-chain token buckets inside a lane, on synthetic capacity and frames.
import { describe, expect, it } from 'vitest';
import { CONTENDED_BACKLOG_FRAMES, FairShare } from '../../src/balancer/index.js';
import { HEAVY, LIGHT } from '../../src/ring/index.js';

const CONTENDED = CONTENDED_BACKLOG_FRAMES;
const IDLE = 0;
const TICK_S = 0.1;

/** Three lanes of 1000 entries/s each (bytes cost nothing here). */
function shares(maxChains = 8): FairShare {
  const fair = new FairShare({ newChainReserve: 0.1, burstTicks: 2, maxChains });
  fair.setCapacities([0, 1, 2].map(() => ({ entriesPerSec: 1_000, bytesPerSec: 1e15 })));
  return fair;
}

/** Offers `frames` frames of `entries` entries for a chain in one tick; returns how many entries got through. */
function offer(fair: FairShare, slot: number, lane: number, frames: number, entries: number, backlog = CONTENDED): number {
  let passed = 0;
  for (let i = 0; i < frames; i++) {
    if (!fair.allows(slot, lane, backlog)) continue;
    fair.charge(slot, lane, entries, 0);
    passed += entries;
  }
  return passed;
}

describe('fair share', () => {
  it('caps an over-share chain at its share and never refuses one under its share', () => {
    const fair = shares();
    const laneOf = (): number => HEAVY;
    let floodPassed = 0;
    let lightPassed = 0;
    for (let tick = 0; tick < 50; tick++) {
      fair.refill(TICK_S, 2, laneOf);
      // Each tick the lane can do 100 entries; 90 are split between the two chains (45 each).
      floodPassed += offer(fair, 0, HEAVY, 20, 10);
      const offered = 3 * 10;
      const got = offer(fair, 1, HEAVY, 3, 10);
      if (tick > 0) expect(got).toBe(offered);
      lightPassed += got;
    }
    expect(lightPassed).toBeGreaterThanOrEqual(49 * 30);
    // The flood gets about its share (45/tick, plus what the light chain leaves it: nothing here) and no more.
    expect(floodPassed / 50).toBeLessThan(45 * 1.3);
    expect(floodPassed / 50).toBeGreaterThan(45 * 0.7);
    expect(fair.refused[0]).toBeGreaterThan(0);
    expect(fair.refused[1]).toBe(0);
  });

  it('refuses nothing while the lane is not contended, or when a chain is alone in it', () => {
    const fair = shares();
    fair.refill(TICK_S, 2, () => HEAVY);
    expect(offer(fair, 0, HEAVY, 100, 10, IDLE)).toBe(1_000);
    fair.refill(TICK_S, 2, () => HEAVY);
    // Alone (the only active chain in heavy) it takes everything even under contention.
    expect(offer(fair, 0, HEAVY, 100, 10)).toBe(1_000);
    expect(fair.refused[0]).toBe(0);
  });

  it('refuses once an over-share chain that ran ahead while idle meets contention', () => {
    const fair = shares();
    fair.refill(TICK_S, 2, () => HEAVY);
    offer(fair, 1, HEAVY, 1, 1);
    offer(fair, 0, HEAVY, 100, 10, IDLE);
    fair.refill(TICK_S, 2, () => HEAVY);
    // Its debt is bounded (one burst), but it is not paid back in one tick.
    expect(fair.tokensOf(0)).toBeLessThan(0);
    expect(offer(fair, 0, HEAVY, 5, 10)).toBe(0);
  });

  it('lets a new chain through from the reserve while a flood holds the lane', () => {
    const fair = shares();
    const laneOf = (): number => LIGHT;
    for (let tick = 0; tick < 5; tick++) {
      fair.refill(TICK_S, 2, laneOf);
      offer(fair, 0, LIGHT, 100, 10);
      offer(fair, 1, LIGHT, 100, 10);
    }
    // A chain the gateway does not have yet (-1), then the same chain once created (slot 2).
    expect(fair.allows(-1, LIGHT, CONTENDED)).toBe(true);
    fair.charge(2, LIGHT, 5, 0);
    // Active at once, with a share at once: its next frame before the next refill passes too (a late tick refused it).
    expect(fair.tokensOf(2)).toBeGreaterThan(0);
    expect(offer(fair, 2, LIGHT, 1, 5)).toBe(5);
    fair.refill(TICK_S, 3, laneOf);
    // Now active: it has a share of its own.
    expect(offer(fair, 2, LIGHT, 1, 5)).toBe(5);
  });

  it('refuses nothing before the scheduler has measured capacity', () => {
    const fair = new FairShare({ newChainReserve: 0.1, burstTicks: 2, maxChains: 2 });
    fair.refill(TICK_S, 2, () => HEAVY);
    expect(offer(fair, 0, HEAVY, 1000, 1000)).toBe(1_000_000);
  });
});

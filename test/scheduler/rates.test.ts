import { describe, expect, it } from 'vitest';
import { LoadCounters } from '../../src/ring/index.js';
import { RateEstimator } from '../../src/scheduler/index.js';

describe('load counters and moving averages', () => {
  it('sums per-worker rows and converges on the true rate', () => {
    const counters = LoadCounters.allocate(4, 8);
    const a = counters.claimSlot(0);
    const b = counters.claimSlot(2);
    expect(a).not.toBe(b);
    const rates = new RateEstimator(4, 8, 500);
    rates.sample(counters, 4, 100);
    // 100 ms ticks: chain 1 gets 1,000 entries per tick split over two workers (10,000/s), 200 bytes each.
    for (let t = 0; t < 50; t++) {
      counters.count(a, 1, 600, 600 * 200);
      counters.count(b, 1, 400, 400 * 200);
      counters.count(b, 3, 10, 10);
      rates.sample(counters, 4, 100);
    }
    expect(rates.entriesPerSec[1]).toBeCloseTo(10_000, -1);
    expect(rates.bytesPerSec[1]).toBeCloseTo(2_000_000, -3);
    expect(rates.entriesPerSec[3]).toBeCloseTo(100, 0);
    expect(rates.entriesPerSec[0]).toBe(0);
    expect(rates.totalEntriesPerSec(4)).toBeCloseTo(10_100, -1);
  });

  it('follows a step with the time constant it was given', () => {
    const counters = LoadCounters.allocate(1, 1);
    const slot = counters.claimSlot(0);
    const rates = new RateEstimator(1, 1, 1000);
    rates.sample(counters, 1, 1000);
    counters.count(slot, 0, 1000, 0);
    rates.sample(counters, 1, 1000);
    // One time constant after a step from 0 to 1,000/s: 1 - 1/e of the way.
    expect(rates.entriesPerSec[0]).toBeCloseTo(1000 * (1 - Math.exp(-1)), 3);
  });

  it("keeps the last tick's rates unaveraged beside the moving averages, for fast promotion", () => {
    const counters = LoadCounters.allocate(1, 1);
    const slot = counters.claimSlot(0);
    const rates = new RateEstimator(1, 1, 5_000);
    rates.sample(counters, 1, 100);
    counters.count(slot, 0, 10_000, 2_000_000);
    rates.sample(counters, 1, 100);
    expect(rates.instantEntriesPerSec[0]).toBeCloseTo(100_000, 6);
    expect(rates.instantBytesPerSec[0]).toBeCloseTo(20_000_000, 3);
    // The average has barely moved yet (tau 5 s).
    expect(rates.entriesPerSec[0]).toBeLessThan(5_000);
  });

  it('takes its first sample as the starting point, not as load (a restarted scheduler)', () => {
    const counters = LoadCounters.allocate(1, 1);
    const slot = counters.claimSlot(0);
    counters.count(slot, 0, 5_000_000, 0);
    const rates = new RateEstimator(1, 1, 1);
    rates.sample(counters, 1, 100);
    expect(rates.entriesPerSec[0]).toBe(0);
    counters.count(slot, 0, 10, 0);
    rates.sample(counters, 1, 1000);
    expect(rates.entriesPerSec[0]).toBeCloseTo(10, 6);
  });

  it('takes differences modulo 2^32 when a counter wraps', () => {
    const counters = LoadCounters.allocate(1, 1);
    const slot = counters.claimSlot(0);
    counters.count(slot, 0, 2 ** 32 - 10, 0);
    const rates = new RateEstimator(1, 1, 1);
    rates.sample(counters, 1, 1000);
    counters.count(slot, 0, 30, 0);
    rates.sample(counters, 1, 1000);
    // tau of 1 ms makes the average the last sample: 30 entries in one second.
    expect(rates.entriesPerSec[0]).toBeCloseTo(30, 6);
  });
});

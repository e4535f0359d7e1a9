// The fees of a window's transactions and the cost sums of confirmed windows,
// the sums in a real lmdb store.
import { open } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { parseGwei } from 'viem';
import { addCost, costView, dayOf, NO_COSTS } from '../../src/anchors/costs.js';
import { firstFees, gweiToWei, raisedFees } from '../../src/anchors/fees.js';
import { WindowStore, type WindowRecord } from '../../src/anchors/window-store.js';
import { registerCleanup, tempDir } from '../helpers/index.js';

const gwei = (n: string): bigint => parseGwei(n);

describe('anchor fees', () => {
  it('signs the first transaction at the estimate, held to the cap', () => {
    const estimate = { maxFeePerGas: gwei('30'), maxPriorityFeePerGas: gwei('2') };
    expect(firstFees(estimate, gwei('200'))).toEqual(estimate);
    expect(firstFees(estimate, gwei('20'))).toEqual({ maxFeePerGas: gwei('20'), maxPriorityFeePerGas: gwei('2') });
    expect(firstFees(estimate, gwei('1'))).toEqual({ maxFeePerGas: gwei('1'), maxPriorityFeePerGas: gwei('1') });
  });

  it('raises tip and fee cap by at least the replacement minimum, to the estimate when that is higher', () => {
    const previous = { maxFeePerGas: gwei('10'), maxPriorityFeePerGas: gwei('1') };
    // Fees did not move: exactly 15 % more of each.
    expect(raisedFees(previous, previous, 15, gwei('200'))).toEqual({ maxFeePerGas: gwei('11.5'), maxPriorityFeePerGas: gwei('1.15') });
    // The base fee jumped: the estimate wins.
    expect(raisedFees(previous, { maxFeePerGas: gwei('61'), maxPriorityFeePerGas: gwei('3') }, 15, gwei('200'))).toEqual({
      maxFeePerGas: gwei('61'),
      maxPriorityFeePerGas: gwei('3'),
    });
    // Rounded up, so a raise of a few wei is never nothing.
    expect(raisedFees({ maxFeePerGas: 7n, maxPriorityFeePerGas: 1n }, { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n }, 10, gwei('1'))).toEqual({
      maxFeePerGas: 8n,
      maxPriorityFeePerGas: 2n,
    });
  });

  it('never passes the cap: up to it while that is still a valid replacement, then no replacement at all', () => {
    const previous = { maxFeePerGas: gwei('10'), maxPriorityFeePerGas: gwei('1') };
    const estimate = { maxFeePerGas: gwei('61'), maxPriorityFeePerGas: gwei('1') };
    expect(raisedFees(previous, estimate, 15, gwei('20'))).toEqual({ maxFeePerGas: gwei('20'), maxPriorityFeePerGas: gwei('1.15') });
    expect(raisedFees(previous, estimate, 15, gwei('11.4'))).toBeNull();
    expect(raisedFees({ maxFeePerGas: gwei('20'), maxPriorityFeePerGas: gwei('1.15') }, estimate, 15, gwei('20'))).toBeNull();
    // A tip already at the fee cap rises with it.
    expect(raisedFees({ maxFeePerGas: gwei('10'), maxPriorityFeePerGas: gwei('10') }, estimate, 15, gwei('11.5'))).toEqual({
      maxFeePerGas: gwei('11.5'),
      maxPriorityFeePerGas: gwei('11.5'),
    });
  });

  it("reads the operator's cap in gwei, fractions included", () => {
    expect(gweiToWei(200)).toBe(gwei('200'));
    expect(gweiToWei(0.5)).toBe(gwei('0.5'));
    expect(gweiToWei(1e-9)).toBe(1n);
  });
});

describe('anchor costs', () => {
  it('sums windows, and puts gas and fees against a million entries', () => {
    const a = { day: '2025-01-02', gasUsed: 23_000, feeWei: '1000000000000000000000', entries: 3 };
    const b = { day: '2025-01-02', gasUsed: 24_000, feeWei: '1', entries: 7 };
    const both = addCost(addCost(NO_COSTS, a, 1), b, 1);
    expect(both).toEqual({ windows: 2, gasUsed: 47_000, feeWei: '1000000000000000000001', entries: 10 });
    expect(costView(both)).toMatchObject({ gasPerMillionEntries: 4_700_000_000, feeWeiPerMillionEntries: '100000000000000000000100000' });
    expect(addCost(both, b, -1)).toEqual(addCost(NO_COSTS, a, 1));
    expect(costView(NO_COSTS)).toMatchObject({ gasPerMillionEntries: null, feeWeiPerMillionEntries: null });
    expect(dayOf(Date.UTC(2025, 0, 2, 23, 59))).toBe('2025-01-02');
  });

  it('keeps the sums in the store with the window that moves them, per UTC day and in all', async () => {
    const root = open(tempDir(), { noSubdir: false });
    registerCleanup('lmdb', () => root.close());
    const store = new WindowStore(root);
    const window = { first: 0, last: 0, attempts: [] } as unknown as WindowRecord;
    const day1 = { day: '2025-01-01', gasUsed: 100, feeWei: '5', entries: 2 };
    const day2 = { day: '2025-01-02', gasUsed: 200, feeWei: '7', entries: 3 };
    await store.put(window, { add: day1 });
    await store.put({ ...window, first: 1 }, { add: day2 });
    expect(store.totalCosts()).toEqual({ windows: 2, gasUsed: 300, feeWei: '12', entries: 5 });
    expect(store.dailyCosts(10).map((d) => d.day)).toEqual(['2025-01-02', '2025-01-01']);
    expect(store.dailyCosts(1)).toEqual([{ day: '2025-01-02', windows: 1, gasUsed: 200, feeWei: '7', entries: 3 }]);
    // A window its block left, confirmed again another day: it moves from one day to the other, counted once.
    await store.put({ ...window, first: 1 }, { remove: day2, add: { ...day2, day: '2025-01-03' } });
    expect(store.totalCosts()).toEqual({ windows: 2, gasUsed: 300, feeWei: '12', entries: 5 });
    expect(store.dayCosts('2025-01-02')).toEqual({ windows: 0, gasUsed: 0, feeWei: '0', entries: 0 });
    expect(store.dayCosts('2025-01-03')).toMatchObject({ windows: 1, feeWei: '7' });
    expect(store.dayCosts('2024-12-31')).toEqual(NO_COSTS);
  });
});

// What anchoring costs: gas and fees of the confirmed windows, summed per UTC
// day of confirmation and in all, and put against the entries they anchor. A
// window counts once it is confirmed and stops counting if a reorganisation
// takes its block away (it counts again when it is confirmed anew).

/** Sums over confirmed windows. Wei as a decimal string: a year of fees is past 2^53 wei. */
export interface CostTotals {
  windows: number;
  gasUsed: number;
  feeWei: string;
  entries: number;
}

/** CostTotals with the figures per million entries anchored (null before any entry is). */
export interface CostView extends CostTotals {
  gasPerMillionEntries: number | null;
  feeWeiPerMillionEntries: string | null;
}

/** What one confirmed window adds (or, taken away by a reorganisation, removes). */
export interface WindowCost {
  /** UTC day of confirmation, YYYY-MM-DD. */
  day: string;
  gasUsed: number;
  feeWei: string;
  entries: number;
}

export const NO_COSTS: Readonly<CostTotals> = Object.freeze({ windows: 0, gasUsed: 0, feeWei: '0', entries: 0 });

/** The UTC day of `ms` since the epoch, YYYY-MM-DD. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `totals` with one window added (sign 1) or taken away (sign -1). */
export function addCost(totals: CostTotals, cost: WindowCost, sign: 1 | -1): CostTotals {
  return {
    windows: totals.windows + sign,
    gasUsed: totals.gasUsed + sign * cost.gasUsed,
    feeWei: (BigInt(totals.feeWei) + BigInt(sign) * BigInt(cost.feeWei)).toString(),
    entries: totals.entries + sign * cost.entries,
  };
}

export function costView(totals: CostTotals): CostView {
  const { entries } = totals;
  return {
    ...totals,
    gasPerMillionEntries: entries === 0 ? null : Math.round((totals.gasUsed * 1_000_000) / entries),
    feeWeiPerMillionEntries: entries === 0 ? null : ((BigInt(totals.feeWei) * 1_000_000n) / BigInt(entries)).toString(),
  };
}

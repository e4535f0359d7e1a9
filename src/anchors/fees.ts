// EIP-1559 fees of a window's transactions: the first at the node's estimate,
// each re-signed one (same nonce) above the last by the replacement minimum
// nodes ask for, and none above the operator's cap. Wei as bigint throughout;
// decimal strings where they are stored or shown as JSON.

export interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

const WEI_PER_GWEI = 1_000_000_000;

/** anchors.ethereum.maxFeePerGasGwei (fractions allowed, checked ≥ 1 wei by the schema) in wei. */
export function gweiToWei(gwei: number): bigint {
  return BigInt(Math.round(gwei * WEI_PER_GWEI));
}

/** Wei as gwei for people to read (/healthz, the dashboard); never used to sign. */
export function weiToGwei(wei: bigint): number {
  return Number(wei) / WEI_PER_GWEI;
}

/** The first transaction's fees: the node's estimate, the fee cap held to `cap` and the tip to the fee cap. */
export function firstFees(estimate: Fees, cap: bigint): Fees {
  const maxFeePerGas = min(estimate.maxFeePerGas, cap);
  return { maxFeePerGas, maxPriorityFeePerGas: min(estimate.maxPriorityFeePerGas, maxFeePerGas) };
}

/**
 * The fees of a replacement for `previous`: the node's estimate now, but at least
 * `percent` above `previous` in both tip and fee cap (a node refuses a
 * replacement that raises either by less), with the fee cap held to `cap`.
 * Null when `cap` leaves no room for such a raise: the window then waits.
 */
export function raisedFees(previous: Fees, estimate: Fees, percent: number, cap: bigint): Fees | null {
  const leastFee = raise(previous.maxFeePerGas, percent);
  const leastTip = raise(previous.maxPriorityFeePerGas, percent);
  const maxFeePerGas = min(max(estimate.maxFeePerGas, leastFee), cap);
  if (maxFeePerGas < leastFee) return null;
  // The previous tip was at most its fee cap, so leastTip ≤ leastFee ≤ maxFeePerGas: the tip always has room.
  return { maxFeePerGas, maxPriorityFeePerGas: min(max(estimate.maxPriorityFeePerGas, leastTip), maxFeePerGas) };
}

/** `value` raised by `percent`, rounded up (so a 10 % raise of 1 wei is 2 wei, never 1). */
function raise(value: bigint, percent: number): bigint {
  const times = BigInt(100 + percent);
  return (value * times + 99n) / 100n;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

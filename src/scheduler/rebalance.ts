// Moving cores between lanes by measured utilisation. Only cores a lane holds
// alone can move, and a lane never drops below one core; a core moves from
// the idlest lane to the busiest one when the busiest is saturated and the
// idlest has room, at most one core per decision, so the layout drifts
// gently instead of oscillating.

export interface RebalanceLimits {
  /** The busiest lane must be at least this busy (busy time / its cores' time). */
  saturated: number;
  /** The donor must be at most this busy. */
  idle: number;
}

export const DEFAULT_REBALANCE: RebalanceLimits = { saturated: 0.85, idle: 0.3 };

/** Returns new per-lane core sets, or null when nothing should move. */
export function rebalanceCores(lanes: readonly (readonly number[])[], utilisation: readonly number[], limits: RebalanceLimits): number[][] | null {
  let busiest = -1;
  let idlest = -1;
  for (let i = 0; i < lanes.length; i++) {
    if (busiest < 0 || utilisation[i]! > utilisation[busiest]!) busiest = i;
  }
  for (let i = 0; i < lanes.length; i++) {
    if (i === busiest || ownCores(lanes, i).length < 2) continue;
    if (idlest < 0 || utilisation[i]! < utilisation[idlest]!) idlest = i;
  }
  if (busiest < 0 || idlest < 0) return null;
  if (utilisation[busiest]! < limits.saturated || utilisation[idlest]! > limits.idle) return null;
  const donated = ownCores(lanes, idlest).at(-1)!;
  return lanes.map((cores, i) => {
    if (i === idlest) return cores.filter((c) => c !== donated);
    if (i === busiest) return [...cores, donated].sort((a, b) => a - b);
    return [...cores];
  });
}

/** Cores no other lane shares. */
export function ownCores(lanes: readonly (readonly number[])[], lane: number): number[] {
  return lanes[lane]!.filter((core) => lanes.every((other, j) => j === lane || !other.includes(core)));
}

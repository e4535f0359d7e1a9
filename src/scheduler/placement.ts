// Placement by capacity: a lane never carries more placed demand than its
// capacity times the headroom. When one does, the balancer first asks for a
// core (a lane with cores of its own to spare and room after giving one);
// failing that it moves the one chain whose move relieves the lane most to the
// nearest lane with room for it. Pinned chains stay, but their demand counts.
// Pure functions over numbers, so the tests can feed them synthetic loads.
import { HEAVY, LIGHT } from '../ring/index.js';
import { loadOf, type Demand, type LaneCapacity } from './capacity.js';
import { ownCores } from './rebalance.js';

export interface PlacedChain {
  slot: number;
  /** The lane it is in now. */
  lane: number;
  /** The lane the lane table gives it. */
  tableLane: number;
  demand: Demand;
  pinned: boolean;
}

export interface ChainMove {
  slot: number;
  from: number;
  to: number;
  /** Load taken off `from` (fraction of its capacity) and the loads before and after, both lanes. */
  relief: number;
  fromLoad: number;
  fromLoadAfter: number;
  toLoad: number;
  toLoadAfter: number;
}

export interface CoreMove {
  lanes: number[][];
  core: number;
  from: number;
  to: number;
}

/** Each lane's placed demand as a fraction of its capacity. */
export function laneLoads(capacities: readonly LaneCapacity[], chains: readonly PlacedChain[]): number[] {
  const loads = capacities.map(() => 0);
  for (const chain of chains) loads[chain.lane]! += loadOf(chain.demand, capacities[chain.lane]!);
  return loads;
}

/** The lane furthest above its headroom, or -1 when every lane is within it. */
export function overloadedLane(loads: readonly number[], headroom: number): number {
  let worst = -1;
  for (let lane = 0; lane < loads.length; lane++) {
    if (loads[lane]! > headroom && (worst < 0 || loads[lane]! > loads[worst]!)) worst = lane;
  }
  return worst;
}

/**
 * A core for lane `to` from a lane that holds two or more cores of its own and
 * stays within the headroom on one core fewer; null when none can give one.
 */
export function planCore(lanes: readonly (readonly number[])[], loads: readonly number[], to: number, headroom: number): CoreMove | null {
  let donor = -1;
  let donorLoadAfter = Number.POSITIVE_INFINITY;
  for (let lane = 0; lane < lanes.length; lane++) {
    const own = ownCores(lanes, lane);
    if (lane === to || own.length < 2) continue;
    const after = (loads[lane]! * lanes[lane]!.length) / (lanes[lane]!.length - 1);
    if (after <= headroom && after < donorLoadAfter) {
      donor = lane;
      donorLoadAfter = after;
    }
  }
  if (donor < 0) return null;
  const core = ownCores(lanes, donor).at(-1)!;
  const moved = lanes.map((cores, lane) => {
    if (lane === donor) return cores.filter((c) => c !== core);
    if (lane === to) return [...cores, core].sort((a, b) => a - b);
    return [...cores];
  });
  return { lanes: moved, core, from: donor, to };
}

/** Lanes other than `lane`, nearest first; at equal distance the heavier (it has the bigger core share). */
function byDistance(lane: number, count: number): number[] {
  const out: number[] = [];
  for (let d = 1; d < count; d++) {
    if (lane - d >= 0) out.push(lane - d);
    if (lane + d < count) out.push(lane + d);
  }
  return out;
}

/** A flood the table sends to heavy is never moved into light: it would swamp the chains light keeps fast. */
function mayGo(chain: PlacedChain, to: number): boolean {
  return !(chain.tableLane === HEAVY && to === LIGHT);
}

/**
 * The move that relieves the overloaded lane `from` most: of its unpinned
 * chains, the one with the largest load that fits, within the headroom, into
 * the nearest lane with room. Null when no chain can move.
 */
export function planChainMove(capacities: readonly LaneCapacity[], chains: readonly PlacedChain[], from: number, headroom: number): ChainMove | null {
  const loads = laneLoads(capacities, chains);
  const targets = byDistance(from, capacities.length);
  let best: ChainMove | null = null;
  for (const chain of chains) {
    if (chain.lane !== from || chain.pinned) continue;
    const relief = loadOf(chain.demand, capacities[from]!);
    if (!(relief > 0) || (best !== null && relief <= best.relief)) continue;
    for (const to of targets) {
      if (!mayGo(chain, to)) continue;
      const toLoadAfter = loads[to]! + loadOf(chain.demand, capacities[to]!);
      if (toLoadAfter > headroom) continue;
      best = { slot: chain.slot, from, to, relief, fromLoad: loads[from]!, fromLoadAfter: loads[from]! - relief, toLoad: loads[to]!, toLoadAfter };
      break;
    }
  }
  return best;
}

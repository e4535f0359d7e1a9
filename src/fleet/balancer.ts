// The fleet balancer's decisions: the lane balancer's rules one level up
// (src/scheduler/placement.ts). Each gateway reports its capacity (its lanes'
// calibration, in the member record) and its placed demand with its busiest
// chains (the load report). Load is demand as a fraction of capacity, the
// same linear model the lanes use (entries/E + bytes/B). A gateway over the
// headroom is overloaded; only an overloaded gateway gives a chain away, and
// only the chain whose move relieves it most while the receiving gateway stays
// within the headroom. Hysteresis: a gateway must be over the headroom for a
// while before anything moves (a burst is not a trend), a moved chain stays
// put for a long while, a gateway that just gave or took a chain is left alone
// until its reports show the move, and moves are counted against a fleet-wide
// budget per hour (each is a handoff). One move per decision at most.
// Pure over numbers and a clock, so the bench can feed it a simulated fleet.
import { loadOf } from '../scheduler/index.js';
import type { Capacity, ChainDemand } from './keys.js';
import type { FleetBalancerSettings } from './settings.js';

export interface GatewayLoad {
  id: string;
  capacity: Capacity;
  /** Placed demand: the moving-average rates of every chain it owns. */
  demand: Capacity;
  /** Its busiest chains, heaviest first (the load report's `top`). */
  top: readonly ChainDemand[];
  /** ms since the epoch of the load report (stale ones are not trusted). */
  reportedAt: number;
}

export interface FleetMove {
  chain: string;
  from: string;
  to: string;
  /** Load taken off `from` (fraction of its capacity), and the loads before and after on both gateways. */
  relief: number;
  fromLoad: number;
  fromLoadAfter: number;
  toLoad: number;
  toLoadAfter: number;
  headroom: number;
  entriesPerSec: number;
  bytesPerSec: number;
}

export type FleetDecision =
  | { kind: 'move'; move: FleetMove }
  /** Over the headroom and nothing can move (said once per episode): why, with the numbers. */
  | { kind: 'overloaded'; gateway: string; load: number; headroom: number; why: string }
  | { kind: 'none' };

const NONE: FleetDecision = { kind: 'none' };
const HOUR_MS = 3_600_000;

export class FleetBalancer {
  private readonly settings: FleetBalancerSettings;
  /** When each gateway went over the headroom (deleted when it is back within it). */
  private readonly overloadedSince = new Map<string, number>();
  /** Gateways whose overload was reported as one no move could relieve (said once per episode). */
  private readonly reported = new Set<string>();
  private readonly chainMovedAt = new Map<string, number>();
  private readonly gatewayMovedAt = new Map<string, number>();
  private readonly movesInHour: number[] = [];

  constructor(settings: FleetBalancerSettings) {
    this.settings = settings;
  }

  /** Each gateway's load (demand ÷ capacity). */
  static loadOf(gateway: Pick<GatewayLoad, 'capacity' | 'demand'>): number {
    return loadOf(gateway.demand, gateway.capacity);
  }

  /** At most one move; `now` is ms since the epoch (the reports' clock). */
  decide(gateways: readonly GatewayLoad[], now: number): FleetDecision {
    const fresh = gateways.filter((g) => now - g.reportedAt <= this.settings.staleReportMs && g.capacity.entriesPerSec > 0 && g.capacity.bytesPerSec > 0);
    const loads = new Map(fresh.map((g) => [g.id, FleetBalancer.loadOf(g)]));
    this.trackOverload(fresh, loads, now);
    const source = this.mostOverloaded(fresh, loads, now);
    if (source === null) return NONE;
    this.pruneHour(now);
    if (this.movesInHour.length >= this.settings.maxMovesPerHour) {
      return this.overloaded(source, loads, `the fleet made its ${this.settings.maxMovesPerHour} moves of the last hour (balancer.maxMovesPerHour)`);
    }
    const targets = fresh.filter((g) => g.id !== source.id && !this.cooling(this.gatewayMovedAt, g.id, this.settings.gatewayCooldownMs, now));
    const move = this.bestMove(source, targets, loads, now);
    if (move === null) {
      const why =
        targets.length === 0
          ? 'no other gateway with a fresh load report is free to take a chain'
          : 'none of its busiest chains fits on another gateway within the headroom (or they moved recently)';
      return this.overloaded(source, loads, why);
    }
    return { kind: 'move', move };
  }

  /** The move was made (its handoff committed): start the cool-downs it sets. */
  moved(move: Pick<FleetMove, 'chain' | 'from' | 'to'>, now: number): void {
    this.chainMovedAt.set(move.chain, now);
    this.gatewayMovedAt.set(move.from, now);
    this.gatewayMovedAt.set(move.to, now);
    this.movesInHour.push(now);
    this.overloadedSince.delete(move.from);
    this.reported.delete(move.from);
  }

  /** A move that failed still cools the chain down: retrying it at once would fail the same way. */
  failed(move: Pick<FleetMove, 'chain'>, now: number): void {
    this.chainMovedAt.set(move.chain, now);
  }

  private trackOverload(fresh: readonly GatewayLoad[], loads: Map<string, number>, now: number): void {
    for (const g of fresh) {
      if (loads.get(g.id)! > this.settings.headroom) {
        if (!this.overloadedSince.has(g.id)) this.overloadedSince.set(g.id, now);
      } else {
        this.overloadedSince.delete(g.id);
        this.reported.delete(g.id);
      }
    }
    // Bounded by the fleet: gateways gone from the reports are forgotten.
    const ids = new Set(fresh.map((g) => g.id));
    for (const id of this.overloadedSince.keys()) if (!ids.has(id)) this.overloadedSince.delete(id);
    for (const id of this.gatewayMovedAt.keys())
      if (!ids.has(id) && !this.cooling(this.gatewayMovedAt, id, this.settings.gatewayCooldownMs, now)) this.gatewayMovedAt.delete(id);
    for (const [chain, at] of this.chainMovedAt) if (now - at >= this.settings.chainCooldownMs) this.chainMovedAt.delete(chain);
  }

  /** The gateway furthest over the headroom that has been over it long enough and is not cooling down. */
  private mostOverloaded(fresh: readonly GatewayLoad[], loads: Map<string, number>, now: number): GatewayLoad | null {
    let worst: GatewayLoad | null = null;
    for (const g of fresh) {
      const since = this.overloadedSince.get(g.id);
      if (since === undefined || now - since < this.settings.overloadedForMs) continue;
      if (this.cooling(this.gatewayMovedAt, g.id, this.settings.gatewayCooldownMs, now)) continue;
      if (worst === null || loads.get(g.id)! > loads.get(worst.id)!) worst = g;
    }
    return worst;
  }

  /**
   * Of the source's busiest chains not cooling down, the one that relieves it
   * most and fits somewhere within the headroom; it goes to the gateway that
   * is least loaded after taking it.
   */
  private bestMove(source: GatewayLoad, targets: readonly GatewayLoad[], loads: Map<string, number>, now: number): FleetMove | null {
    const { headroom } = this.settings;
    const fromLoad = loads.get(source.id)!;
    let best: FleetMove | null = null;
    for (const chain of source.top) {
      if (this.cooling(this.chainMovedAt, chain.name, this.settings.chainCooldownMs, now)) continue;
      const relief = loadOf(chain, source.capacity);
      if (!(relief > 0) || (best !== null && relief <= best.relief)) continue;
      let to: GatewayLoad | null = null;
      let toLoadAfter = Number.POSITIVE_INFINITY;
      for (const target of targets) {
        const after = loads.get(target.id)! + loadOf(chain, target.capacity);
        if (after <= headroom && after < toLoadAfter) {
          to = target;
          toLoadAfter = after;
        }
      }
      if (to === null) continue;
      best = {
        chain: chain.name,
        from: source.id,
        to: to.id,
        relief,
        fromLoad,
        fromLoadAfter: fromLoad - relief,
        toLoad: loads.get(to.id)!,
        toLoadAfter,
        headroom,
        entriesPerSec: chain.entriesPerSec,
        bytesPerSec: chain.bytesPerSec,
      };
    }
    return best;
  }

  private overloaded(source: GatewayLoad, loads: Map<string, number>, why: string): FleetDecision {
    if (this.reported.has(source.id)) return NONE;
    this.reported.add(source.id);
    return { kind: 'overloaded', gateway: source.id, load: loads.get(source.id)!, headroom: this.settings.headroom, why };
  }

  private cooling(table: Map<string, number>, key: string, ms: number, now: number): boolean {
    const at = table.get(key);
    return at !== undefined && now - at < ms;
  }

  private pruneHour(now: number): void {
    while (this.movesInHour.length > 0 && now - this.movesInHour[0]! >= HOUR_MS) this.movesInHour.shift();
  }
}

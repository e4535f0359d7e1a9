// Fair admission inside a lane: per-chain token buckets, in lane-seconds.
//
// A frame costs entries/E + bytes/B seconds of its lane (E, B: the lane's
// capacity from the scheduler, capacity.ts). Every tick each lane's capacity
// for that tick, less a reserve, is split evenly among the chains active in it
// and poured into their buckets, each capped at `burstTicks` ticks of its
// share. The reserve feeds one pool per lane that chains not yet active draw
// on, so a new light chain is never starved by a flood that holds the rest.
//
// The buckets only refuse while the lane is contended (frames queue for its
// workers, or its placed load is over the headroom): a lone flood on an idle
// lane takes all of it. Every admitted frame is charged either way, a debt
// capped at one burst, so a chain that ran over its share while nobody waited
// is the first refused once others do.
//
// Refusals are checked before the frame is parsed (the bucket is either above
// zero or not) and charged after it is admitted, with its exact entry count.
// Neither uWS build (src/uws: 20.30, 20.57) has WebSocket pause/resume,
// so over-share frames are read and refused `busy`; bench/micro/fair-share.ts
// measures what a refusal costs.
import { LANE_COUNT } from '../ring/index.js';
import type { LaneCapacity } from '../scheduler/index.js';
import type { FairShareGate } from '../frontdoor/index.js';

export interface FairShareSettings {
  /** Share of each lane's capacity held for chains it has not seen yet. */
  newChainReserve: number;
  /** A bucket holds this many ticks of its chain's share. */
  burstTicks: number;
  maxChains: number;
}

/** A chain that admitted nothing for this many ticks is no longer counted among its lane's active chains. */
const ACTIVE_TICKS = 10;
/** Frames waiting for a lane's workers from which the lane counts as contended. */
export const CONTENDED_BACKLOG_FRAMES = 16;

export class FairShare implements FairShareGate {
  private readonly settings: FairShareSettings;
  /** Per chain slot: lane-seconds it may still spend (negative: debt). */
  private readonly tokens: Float64Array;
  /** Per chain slot: the tick it last admitted a frame in, or -∞ (never). */
  private readonly lastActive: Float64Array;
  /** Per chain slot: frames refused over its share. */
  readonly refused: Uint32Array;
  /** Per lane: lane-seconds held for chains not yet active. */
  private readonly reserve = new Float64Array(LANE_COUNT);
  private readonly active = new Int32Array(LANE_COUNT);
  /** Per lane: each active chain's share at the last refill, in lane-seconds. */
  private readonly share = new Float64Array(LANE_COUNT);
  private capacities: LaneCapacity[] | null = null;
  /** Per lane: placed load over the headroom at the scheduler's last balance. */
  private readonly overloaded = new Uint8Array(LANE_COUNT);
  private tickNumber = 0;

  constructor(settings: FairShareSettings) {
    this.settings = settings;
    this.tokens = new Float64Array(settings.maxChains);
    this.lastActive = new Float64Array(settings.maxChains).fill(Number.NEGATIVE_INFINITY);
    this.refused = new Uint32Array(settings.maxChains);
  }

  /** The scheduler's latest capacities; until the first arrives, nothing is refused. */
  setCapacities(capacities: readonly LaneCapacity[]): void {
    this.capacities = capacities.map((c) => ({ ...c }));
  }

  /** The scheduler's latest loads (fractions of capacity) against its headroom. */
  setLoads(loads: readonly number[], headroom: number): void {
    loads.forEach((load, lane) => {
      this.overloaded[lane] = load > headroom ? 1 : 0;
    });
  }

  private isActive(slot: number): boolean {
    return this.tickNumber - this.lastActive[slot]! <= ACTIVE_TICKS;
  }

  /** Pours `seconds` of each lane's capacity into the buckets of its active chains. */
  refill(seconds: number, chains: number, laneOf: (slot: number) => number): void {
    this.tickNumber++;
    this.active.fill(0);
    for (let slot = 0; slot < chains; slot++) if (this.isActive(slot)) this.active[laneOf(slot)]!++;
    const { newChainReserve, burstTicks } = this.settings;
    for (let lane = 0; lane < LANE_COUNT; lane++) {
      const held = newChainReserve * seconds;
      this.reserve[lane] = Math.min(this.reserve[lane]! + held, held * burstTicks);
      this.share[lane] = ((1 - newChainReserve) * seconds) / Math.max(1, this.active[lane]!);
    }
    for (let slot = 0; slot < chains; slot++) {
      if (!this.isActive(slot)) {
        this.tokens[slot] = 0;
        continue;
      }
      const share = this.share[laneOf(slot)]!;
      this.tokens[slot] = Math.min(this.tokens[slot]! + share, share * burstTicks);
    }
  }

  /**
   * False when a frame of chain `slot` (-1: a chain not created yet) in `lane`
   * is over its share while the lane is contended. Cheap: no parsing.
   */
  allows(slot: number, lane: number, backlogFrames: number): boolean {
    if (this.capacities === null || (backlogFrames < CONTENDED_BACKLOG_FRAMES && this.overloaded[lane] === 0)) return true;
    if (slot >= 0 && this.isActive(slot)) {
      // Alone in its lane, nobody waits for it: only a second chain makes shares matter.
      if (this.tokens[slot]! > 0 || this.active[lane]! <= 1) return true;
      this.refused[slot]!++;
      return false;
    }
    // Not active yet: it draws on the reserve held for chains the lane has not seen.
    if (this.reserve[lane]! > 0) return true;
    if (slot >= 0) this.refused[slot]!++;
    return false;
  }

  /** Charges an admitted frame to its chain (or, for a chain not active yet, to the lane's reserve). */
  charge(slot: number, lane: number, entries: number, bytes: number): void {
    if (this.capacities === null) return;
    const capacity = this.capacities[lane]!;
    const cost = entries / capacity.entriesPerSec + bytes / capacity.bytesPerSec;
    if (!this.isActive(slot)) {
      this.reserve[lane]! -= cost;
      this.lastActive[slot] = this.tickNumber;
      // Active from now on, so its share starts now: with nothing until the next refill, its second frame before
      // that tick was refused (a tick that comes late on a loaded machine left a newcomer's trickle refused).
      this.tokens[slot] = this.share[lane]!;
      return;
    }
    this.lastActive[slot] = this.tickNumber;
    // The debt a chain may run up while nobody waits: one burst, repaid in burstTicks ticks.
    this.tokens[slot] = Math.max(this.tokens[slot]! - cost, -this.share[lane]! * this.settings.burstTicks);
  }

  /** Lane-seconds in a chain's bucket, for views. */
  tokensOf(slot: number): number {
    return this.tokens[slot]!;
  }
}

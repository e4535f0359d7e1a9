// The chain view's history (docs/protocol.md §12.3, "chain-history"): per
// chain, a point a second for five minutes — entries/s accepted and
// committed, bytes/s, lane, seqs, height, blocks/min, commit latency, credits
// burned/min. Kept for a bounded set of chains: those a page watches, and in
// the rest the busiest (a chain pushed out loses its points). Sampled on the
// feed's timer from state the front door holds anyway (seqs, the chain table,
// the commit sampler's running totals, the credit book's burned counter):
// nothing here runs per frame.
import { LANE_NAMES } from '../ring/index.js';
import type { ChainRegistry, ChainState } from '../frontdoor/index.js';
import { CHAIN_HISTORY } from './bounds.js';

/** The columns of a point, in order. NaN: nothing to measure (sent as null). */
export const CHAIN_COLUMNS = [
  'at',
  'acceptedPerSec',
  'committedPerSec',
  'bytesPerSec',
  'lane',
  'nextSeq',
  'committedSeq',
  'height',
  'blocksPerMin',
  'commitLatencyMs',
  'creditsBurnedPerMin',
] as const;
export type ChainColumn = (typeof CHAIN_COLUMNS)[number];
const COLUMN = Object.fromEntries(CHAIN_COLUMNS.map((name, i) => [name, i])) as Record<ChainColumn, number>;
const WIDTH = CHAIN_COLUMNS.length;

/** A chain's points as columns, oldest first (uPlot's shape): `at` in ms since the epoch, `lane` an index into `LANE_NAMES`. */
export type ChainSeries = Record<ChainColumn, number[]>;

export interface ChainHistorySources {
  chains: ChainRegistry;
  /** Per chain slot, the sampled commit latencies added up and counted (CommitSampler). */
  latencySumMs: Float64Array;
  latencyCount: Float64Array;
  /** Credits burned on the chain over the gateway's life; null in open mode. */
  creditsBurned(chain: string): number | null;
}

export interface WatchRefusal {
  code: 'unknown_chain' | 'busy';
  message: string;
}

export interface ChainHistoryBounds {
  points: number;
  maxChains: number;
}

/** A busy chain without a history yet, and its rates at this point. */
interface Newcomer {
  chain: ChainState;
  accepted: number;
  committed: number;
}

/** One chain's ring of points, and the running totals its next point takes differences of. */
interface Tracked {
  slot: number;
  values: Float64Array;
  /** Index of the oldest point in the ring, and how many there are. */
  start: number;
  length: number;
  watchers: number;
  /** When it last accepted or committed an entry, and its accepted rate then: who is pushed out first. */
  activeAt: number;
  rate: number;
  /** The totals at the last point; NaN before the first (so its blocks and credits per minute are NaN). */
  latencySumMs: number;
  latencyCount: number;
  burned: number;
  nextHeight: number;
}

export class ChainHistories {
  private readonly sources: ChainHistorySources;
  private readonly bounds: ChainHistoryBounds;
  private readonly tracked = new Map<number, Tracked>();
  /**
   * Per slot, the seqs at the last point: every chain's, so a chain that becomes
   * busy has a rate at once. A chain registered later starts from 0, as chains
   * created while the gateway runs do (the store's are restored before).
   */
  private readonly lastNextSeq: Float64Array;
  private readonly lastCommittedSeq: Float64Array;
  private lastAt: number;

  constructor(sources: ChainHistorySources, bounds: ChainHistoryBounds = CHAIN_HISTORY, now = Date.now()) {
    this.sources = sources;
    this.bounds = bounds;
    const slots = sources.chains.table.maxChains;
    this.lastNextSeq = new Float64Array(slots);
    this.lastCommittedSeq = new Float64Array(slots);
    for (const chain of sources.chains.all()) {
      this.lastNextSeq[chain.slot] = chain.nextSeq;
      this.lastCommittedSeq[chain.slot] = chain.committedSeq;
    }
    this.lastAt = now;
  }

  get size(): number {
    return this.tracked.size;
  }

  has(slot: number): boolean {
    return this.tracked.has(slot);
  }

  /** Takes a point of every tracked chain, and starts tracking the busiest chains that were not. */
  sample(now = Date.now()): void {
    const seconds = Math.max((now - this.lastAt) / 1000, 1e-3);
    this.lastAt = now;
    const all = this.sources.chains.all();
    const newcomers: Newcomer[] = [];
    for (let slot = 0; slot < all.length; slot++) {
      const chain = all[slot]!;
      const accepted = (chain.nextSeq - this.lastNextSeq[slot]!) / seconds;
      const committed = (chain.committedSeq - this.lastCommittedSeq[slot]!) / seconds;
      this.lastNextSeq[slot] = chain.nextSeq;
      this.lastCommittedSeq[slot] = chain.committedSeq;
      const tracked = this.tracked.get(slot);
      if (tracked !== undefined) this.append(tracked, chain, now, seconds, accepted, committed);
      else if (accepted > 0 || committed > 0) this.keepBusiest(newcomers, chain, accepted, committed);
    }
    this.admit(newcomers, now, seconds);
  }

  /**
   * A page watches `name`: it is tracked (pushing out an unwatched chain when
   * full) until unwatch(). Its slot, or why not.
   */
  watch(name: string): number | WatchRefusal {
    const chain = this.sources.chains.get(name);
    if (chain === undefined) return { code: 'unknown_chain', message: `no chain ${JSON.stringify(name)}` };
    const tracked = this.tracked.get(chain.slot) ?? this.track(chain, this.lastAt, true);
    if (tracked === null) return { code: 'busy', message: `${this.bounds.maxChains} chains are watched already, the most this gateway keeps a history of` };
    tracked.watchers++;
    return chain.slot;
  }

  unwatch(slot: number): void {
    const tracked = this.tracked.get(slot);
    if (tracked !== undefined && tracked.watchers > 0) tracked.watchers--;
  }

  /** The chain's points, oldest first; null when it is not tracked. */
  series(slot: number): ChainSeries | null {
    const tracked = this.tracked.get(slot);
    return tracked === undefined ? null : this.columns(tracked, 0);
  }

  /** Its newest point alone (as one-point columns); null when it has none. */
  latest(slot: number): ChainSeries | null {
    const tracked = this.tracked.get(slot);
    return tracked === undefined || tracked.length === 0 ? null : this.columns(tracked, tracked.length - 1);
  }

  /** When the newest point was taken (ms since the epoch). */
  get sampledAt(): number {
    return this.lastAt;
  }

  private columns(tracked: Tracked, from: number): ChainSeries {
    const out = Object.fromEntries(CHAIN_COLUMNS.map((name) => [name, [] as number[]])) as ChainSeries;
    for (let i = from; i < tracked.length; i++) {
      const at = ((tracked.start + i) % this.bounds.points) * WIDTH;
      for (let c = 0; c < WIDTH; c++) out[CHAIN_COLUMNS[c]!].push(tracked.values[at + c]!);
    }
    return out;
  }

  private append(tracked: Tracked, chain: ChainState, now: number, seconds: number, accepted: number, committed: number): void {
    const { chains, latencySumMs, latencyCount } = this.sources;
    const sum = latencySumMs[chain.slot]!;
    const count = latencyCount[chain.slot]!;
    const burned = this.sources.creditsBurned(chain.name);
    const v = tracked.values;
    const base = ((tracked.start + tracked.length) % this.bounds.points) * WIDTH;
    v[base + COLUMN.at] = now;
    v[base + COLUMN.acceptedPerSec] = round(accepted);
    v[base + COLUMN.committedPerSec] = round(committed);
    v[base + COLUMN.bytesPerSec] = round(chains.table.bytesPerSec(chain.slot));
    v[base + COLUMN.lane] = chains.table.lane(chain.slot);
    v[base + COLUMN.nextSeq] = chain.nextSeq;
    v[base + COLUMN.committedSeq] = chain.committedSeq;
    v[base + COLUMN.height] = chain.nextHeight - 1;
    // NaN in a tracked total (its first point) makes the difference NaN: nothing measured yet.
    v[base + COLUMN.blocksPerMin] = round(((chain.nextHeight - tracked.nextHeight) * 60) / seconds);
    v[base + COLUMN.commitLatencyMs] = count > tracked.latencyCount ? round((sum - tracked.latencySumMs) / (count - tracked.latencyCount)) : NaN;
    v[base + COLUMN.creditsBurnedPerMin] = burned === null ? NaN : round(((burned - tracked.burned) * 60) / seconds);
    tracked.latencySumMs = sum;
    tracked.latencyCount = count;
    tracked.burned = burned ?? NaN;
    tracked.nextHeight = chain.nextHeight;
    if (accepted > 0 || committed > 0) tracked.activeAt = now;
    tracked.rate = accepted;
    if (tracked.length < this.bounds.points) tracked.length++;
    else tracked.start = (tracked.start + 1) % this.bounds.points;
  }

  /**
   * Keeps the `maxChains` busiest newcomers, busiest first: no more can take a
   * place in one point, and 10,000 busy chains cost a comparison each, not a sort.
   */
  private keepBusiest(newcomers: Newcomer[], chain: ChainState, accepted: number, committed: number): void {
    const max = this.bounds.maxChains;
    if (newcomers.length >= max && accepted <= newcomers[max - 1]!.accepted) return;
    let at = newcomers.length;
    while (at > 0 && newcomers[at - 1]!.accepted < accepted) at--;
    newcomers.splice(at, 0, { chain, accepted, committed });
    if (newcomers.length > max) newcomers.pop();
  }

  /** The busiest newcomers first; each takes a free place, or that of a tracked chain idle or much slower than it. */
  private admit(newcomers: Newcomer[], now: number, seconds: number): void {
    for (const { chain, accepted, committed } of newcomers) {
      const tracked = this.track(chain, now, false, accepted);
      // Sorted: if the busiest left cannot take a place, no slower one can.
      if (tracked === null) return;
      // Its first point has rates (every chain's seqs are followed); blocks and credits per minute start with the next.
      this.append(tracked, chain, now, seconds, accepted, committed);
    }
  }

  /**
   * Starts a history for `chain`: in a free place, or pushing out the unwatched
   * chain idle longest (slowest among equals) — for a watched chain always, for
   * a busy one when that chain was idle at this point or is less than half as busy.
   */
  private track(chain: ChainState, now: number, watched: boolean, rate = 0): Tracked | null {
    let values: Float64Array | null = null;
    if (this.tracked.size >= this.bounds.maxChains) {
      let victim: Tracked | null = null;
      for (const t of this.tracked.values()) {
        if (t.watchers > 0) continue;
        if (victim === null || t.activeAt < victim.activeAt || (t.activeAt === victim.activeAt && t.rate < victim.rate)) victim = t;
      }
      if (victim === null) return null;
      if (!watched && victim.activeAt >= now && rate <= 2 * victim.rate) return null;
      this.tracked.delete(victim.slot);
      values = victim.values;
    }
    const tracked: Tracked = {
      slot: chain.slot,
      values: values ?? new Float64Array(this.bounds.points * WIDTH),
      start: 0,
      length: 0,
      watchers: 0,
      activeAt: now,
      rate,
      // Latencies are counted from here; blocks and credits from the first point.
      latencySumMs: this.sources.latencySumMs[chain.slot]!,
      latencyCount: this.sources.latencyCount[chain.slot]!,
      burned: NaN,
      nextHeight: NaN,
    };
    this.tracked.set(chain.slot, tracked);
    return tracked;
  }
}

/** Lane names by index, for the `lane` column. */
export const CHAIN_LANES: readonly string[] = LANE_NAMES;

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

// The balancer's decisions, explained: every chain move, core move, pin, table
// change and recalibration, with when, why and the numbers behind it. Kept in
// a bounded ring for GET /v1/lanes/events; the last ones are kept in the store
// (under LANE_EVENTS_KEY) so that a restart does not forget why things are
// where they are.

/** Store keys (StoredSettings, the gateway.settings table) of the balancer's own state. */
export const LANE_PINS_KEY = 'lane-pins';
export const LANE_EVENTS_KEY = 'lane-events';

export type DecisionKind = 'chain-move' | 'core-move' | 'pin' | 'unpin' | 'table' | 'calibration' | 'overloaded';

export interface LaneDecision {
  /** Numbered from 1 over the gateway's life (carried across restarts), so a reader can ask for what is new. */
  id: number;
  /** ms since the epoch. */
  at: number;
  kind: DecisionKind;
  /** One sentence a person reads. */
  reason: string;
  chain?: string;
  from?: string;
  to?: string;
  /** The numbers behind the decision (rates, loads, capacities). */
  numbers: Record<string, number | number[] | string>;
}

export class LaneDecisions {
  private readonly kept: number;
  private readonly ring: LaneDecision[] = [];
  private nextId = 1;

  constructor(kept: number, restored: unknown = null) {
    this.kept = kept;
    if (Array.isArray(restored)) {
      for (const item of restored.slice(-kept)) {
        if (isDecision(item)) this.ring.push(item);
      }
      this.nextId = (this.ring.at(-1)?.id ?? 0) + 1;
    }
  }

  add(decision: Omit<LaneDecision, 'id' | 'at'> & { at?: number }): LaneDecision {
    const full: LaneDecision = { ...decision, id: this.nextId++, at: decision.at ?? Date.now() };
    this.ring.push(full);
    if (this.ring.length > this.kept) this.ring.shift();
    return full;
  }

  /** Decisions after id `since`, oldest first, at most `limit` (the newest ones). */
  list(since = 0, limit = this.kept): LaneDecision[] {
    const newer = this.ring.filter((d) => d.id > since);
    return newer.slice(Math.max(0, newer.length - limit));
  }

  /** The id of the newest decision (0: none yet). */
  get lastId(): number {
    return this.nextId - 1;
  }

  /**
   * The oldest `limit` decisions after id `since`, oldest first: a reader that
   * keeps the last id it took (the dashboard's feed) misses none unless more
   * than the ring holds were made between two reads.
   */
  after(since: number, limit: number): LaneDecision[] {
    let first = this.ring.length;
    while (first > 0 && this.ring[first - 1]!.id > since) first--;
    return this.ring.slice(first, first + limit);
  }

  /** The last `n`, for the store. */
  last(n: number): LaneDecision[] {
    return n <= 0 ? [] : this.ring.slice(-n);
  }
}

function isDecision(value: unknown): value is LaneDecision {
  const d = value as LaneDecision;
  return (
    typeof d === 'object' && d !== null && Number.isInteger(d.id) && typeof d.at === 'number' && typeof d.kind === 'string' && typeof d.reason === 'string'
  );
}

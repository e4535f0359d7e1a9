// The front door's side of the balancer: operator pins (kept in the store),
// the decisions ring (GET /v1/lanes/events, also logged, the last ones kept in
// the store), the scheduler's latest capacity and placed demand (GET
// /v1/lanes), and the fair shares that admission asks (fair-share.ts).
import { LANE_NAMES, type ChainTable } from '../ring/index.js';
import { LANE_EVENTS_KEY, LANE_PINS_KEY, LaneDecisions, type LaneBalance, type LaneDecision, type LaneTable, type SchedulerEvent } from '../scheduler/index.js';
import type { StoredSettings } from '../ledger/index.js';
import { errorMessage, type Logger } from '../log/index.js';
import type { ChainRegistry, ChainState } from '../frontdoor/index.js';
import type { FairShare } from './fair-share.js';

/** The last decisions are written to the store at most this often (each write waits for a flush). */
const PERSIST_EVERY_MS = 1_000;
/** After a failed write, the next try waits this long: a full disk is the sealer's to report, not ours to hammer. */
const PERSIST_RETRY_MS = 30_000;

export interface BalancerLogOptions {
  log: Logger;
  stored: StoredSettings;
  chains: ChainRegistry;
  settings: { eventsKept: number; eventsPersisted: number };
  /** The lane table in force at start: the store's, or the config's on a new store. */
  table: LaneTable;
  fairShare: FairShare | null;
  /** Why seals are failing now, or null: the decisions wait while the store is in trouble (a full disk). */
  storeTrouble(): string | null;
}

type Decision = Parameters<LaneDecisions['add']>[0];

const laneName = (lane: number): string => LANE_NAMES[lane] ?? `lane ${lane}`;
const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

export class BalancerLog {
  readonly decisions: LaneDecisions;
  readonly fairShare: FairShare | null;
  /** The scheduler's last balance: capacity and placed demand per lane. */
  balance: { lanes: LaneBalance[]; headroom: number } | null = null;
  /** The lane table the scheduler applies now; changed by PUT /v1/lanes/table or in the store (`chainlanes lanes --set`). */
  table: LaneTable;
  private readonly options: BalancerLogOptions;
  /** Pinned lane by chain name, as stored under LANE_PINS_KEY. */
  private readonly pins = new Map<string, number>();
  /** Why each chain (by slot) is in the lane it is in, from its last move. */
  private readonly reasons = new Map<number, string>();
  private dirty = false;
  private retryAt = 0;
  private timers: NodeJS.Timeout[] = [];

  constructor(options: BalancerLogOptions) {
    this.options = options;
    this.table = options.table;
    this.fairShare = options.fairShare;
    this.decisions = new LaneDecisions(options.settings.eventsKept, this.read(LANE_EVENTS_KEY));
    const pins = this.read(LANE_PINS_KEY);
    if (typeof pins === 'object' && pins !== null) {
      for (const [name, lane] of Object.entries(pins)) {
        const index = (LANE_NAMES as readonly string[]).indexOf(String(lane));
        if (index >= 0) this.pins.set(name, index);
      }
    }
  }

  /** A damaged value in the store is logged and ignored: pins and history are worth less than starting. */
  private read(key: string): unknown {
    try {
      return this.options.stored.get(key);
    } catch (error) {
      this.options.log.warn({ event: 'lane-state-unreadable', key, error: errorMessage(error) }, `ignoring ${key} in the store: ${errorMessage(error)}`);
      return null;
    }
  }

  /** Pins of the chains the gateway has, by slot, for the scheduler. */
  pinsBySlot(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [name, lane] of this.pins) {
      const chain = this.options.chains.get(name);
      if (chain !== undefined) out.set(chain.slot, lane);
    }
    return out;
  }

  pinOf(name: string): number | null {
    return this.pins.get(name) ?? null;
  }

  /** Refills the fair shares every tick and writes the last decisions to the store when there are new ones. */
  start(tickMs: number, chainTable: ChainTable): void {
    const fair = this.fairShare;
    if (fair !== null) {
      let last = performance.now();
      this.timers.push(
        setInterval(() => {
          const now = performance.now();
          fair.refill((now - last) / 1000, chainTable.count, (slot) => chainTable.lane(slot));
          last = now;
        }, tickMs),
      );
    }
    this.timers.push(setInterval(() => void this.persist(), PERSIST_EVERY_MS));
    for (const timer of this.timers) timer.unref();
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    if (this.options.storeTrouble() === null) await this.persist(true);
  }

  private async persist(force = false): Promise<void> {
    if (!this.dirty || (!force && (Date.now() < this.retryAt || this.options.storeTrouble() !== null))) return;
    this.dirty = false;
    try {
      await this.options.stored.put(LANE_EVENTS_KEY, this.decisions.last(this.options.settings.eventsPersisted));
    } catch (error) {
      this.dirty = true;
      this.retryAt = Date.now() + PERSIST_RETRY_MS;
      this.options.log.warn(
        { event: 'lane-events-unsaved', error: errorMessage(error) },
        `could not keep the lane decisions in the store: ${errorMessage(error)}`,
      );
    }
  }

  private decide(event: string, decision: Decision, fields: Record<string, unknown> = {}): LaneDecision {
    const added = this.decisions.add(decision);
    this.dirty = this.options.settings.eventsPersisted > 0;
    const { chain, from, to, numbers, kind } = added;
    this.options.log.info({ event, kind, chain, from, to, reason: added.reason, numbers, ...fields }, added.reason);
    return added;
  }

  /** Pins (lane) or unpins (null) a chain; durable in the store when it resolves. */
  async pin(chain: ChainState, lane: number | null, currentLane: number): Promise<void> {
    const was = this.pins.get(chain.name);
    if (lane === null) this.pins.delete(chain.name);
    else this.pins.set(chain.name, lane);
    await this.options.stored.put(LANE_PINS_KEY, Object.fromEntries([...this.pins].map(([name, l]) => [name, laneName(l)])));
    const numbers = {
      entriesPerSec: round(this.options.chains.table.entriesPerSec(chain.slot), 1),
      bytesPerSec: round(this.options.chains.table.bytesPerSec(chain.slot), 1),
    };
    if (lane === null) {
      this.decide('lane-pin', {
        kind: 'unpin',
        chain: chain.name,
        from: was === undefined ? undefined : laneName(was),
        reason: `operator unpinned chain "${chain.name}"; the lane table and the balancer place it again`,
        numbers,
      });
    } else {
      this.decide('lane-pin', {
        kind: 'pin',
        chain: chain.name,
        from: laneName(currentLane),
        to: laneName(lane),
        reason: `operator pinned chain "${chain.name}" to ${laneName(lane)}; the balancer leaves it there and counts its demand`,
        numbers,
      });
    }
  }

  tableChanged(table: LaneTable, source: string): void {
    this.table = table;
    this.decide('lane-table-decision', {
      kind: 'table',
      reason: `lane table replaced from ${source}`,
      numbers: { rows: table.lanes.length, shareFloorEntriesPerSec: table.shareFloorEntriesPerSec },
    });
  }

  /** Why a chain is in its lane, for GET /v1/lanes. */
  why(slot: number): string {
    const chain = this.options.chains.at(slot);
    const pinned = chain === undefined ? undefined : this.pins.get(chain.name);
    if (pinned !== undefined) return `pinned to ${laneName(pinned)} by the operator`;
    return this.reasons.get(slot) ?? 'lane table (where new chains start)';
  }

  /** Per-chain fair-share refusals, chains with none left out. */
  refusals(): [string, number][] {
    const fair = this.fairShare;
    if (fair === null) return [];
    const out: [string, number][] = [];
    for (const chain of this.options.chains.all()) {
      const n = fair.refused[chain.slot]!;
      if (n > 0) out.push([chain.name, n]);
    }
    return out;
  }

  onSchedulerEvent(event: SchedulerEvent): void {
    if (event.type === 'lane-table') this.tableRead(event.table);
    else if (event.type === 'lane-table-rejected') {
      this.options.log.warn({ event: 'lane-table-rejected', error: event.message }, `ignoring the lane table in the store: ${event.message}`);
    } else if (event.type === 'lane-change') this.chainMoved(event);
    else if (event.type === 'cores') {
      const lanes = Object.fromEntries(event.lanes.map((cores, i) => [laneName(i), cores]));
      const utilisation = event.utilisation.map((u) => round(u, 2));
      const reason =
        event.reason === 'capacity'
          ? `a lane was over its headroom (loads ${(event.loads ?? []).map((l) => round(l, 2)).join(', ')}): a core moved to it instead of a chain`
          : 'cores moved between lanes by utilisation';
      this.decide(
        'cores',
        { kind: 'core-move', reason, numbers: { utilisation, ...(event.loads === undefined ? {} : { loads: event.loads.map((l) => round(l, 3)) }) } },
        { lanes },
      );
    } else if (event.type === 'capacity') {
      this.fairShare?.setCapacities(event.lanes);
      const numbers: LaneDecision['numbers'] = { ms: event.ms };
      event.lanes.forEach((c, i) => {
        numbers[`${laneName(i)}EntriesPerSec`] = Math.round(c.entriesPerSec);
        numbers[`${laneName(i)}BytesPerSec`] = Math.round(c.bytesPerSec);
      });
      this.decide('lane-capacity', { kind: 'calibration', reason: `lane capacity measured (${event.reason})`, numbers });
    } else if (event.type === 'balance') {
      this.balance = { lanes: event.lanes, headroom: event.headroom };
      this.fairShare?.setCapacities(event.lanes.map((l) => l.capacity));
      this.fairShare?.setLoads(
        event.lanes.map((l) => l.load),
        event.headroom,
      );
    } else if (event.type === 'overloaded') {
      this.decide('lane-overloaded', {
        kind: 'overloaded',
        to: laneName(event.lane),
        reason: `the ${laneName(event.lane)} lane carries ${round(event.load, 2)} of its capacity, over the headroom ${event.headroom}, and no core or chain can move`,
        numbers: { load: round(event.load, 4), headroom: event.headroom },
      });
    }
  }

  /** The scheduler re-read the store's table; a change made there (not through PUT) is a decision of its own. */
  private tableRead(table: LaneTable): void {
    if (JSON.stringify(table) === JSON.stringify(this.table)) return;
    this.tableChanged(table, 'the store (chainlanes lanes --set)');
    this.options.log.info({ event: 'lane-table', table }, 'lane table changed in the store');
  }

  private chainMoved(event: Extract<SchedulerEvent, { type: 'lane-change' }>): void {
    const chain = this.options.chains.at(event.slot)?.name;
    const [from, to] = [laneName(event.from), laneName(event.to)];
    const entriesPerSec = Math.round(event.entriesPerSec);
    const numbers: LaneDecision['numbers'] = { entriesPerSec, bytesPerSec: Math.round(event.bytesPerSec) };
    let reason: string;
    if (event.reason === 'placement' && event.loads !== undefined) {
      const l = event.loads;
      Object.assign(numbers, {
        relief: round(l.relief),
        fromLoad: round(l.fromLoad),
        fromLoadAfter: round(l.fromLoadAfter),
        toLoad: round(l.toLoad),
        toLoadAfter: round(l.toLoadAfter),
        headroom: l.headroom,
      });
      reason =
        `chain "${chain}" ${from} → ${to}: ${from} was over its headroom (${round(l.fromLoad, 2)} of capacity > ${l.headroom}) and no core could move; ` +
        `this chain relieves it most (${round(l.relief, 2)}) and ${to} has room (${round(l.toLoadAfter, 2)} after)`;
      this.reasons.set(event.slot, `placed in ${to} by the balancer: ${from} was over its headroom`);
    } else if (event.reason === 'returned') {
      reason = `chain "${chain}" ${from} → ${to}: back to its table lane, which has room again (${round(event.loads?.toLoadAfter ?? 0, 2)} of capacity with it)`;
      this.reasons.delete(event.slot);
    } else if (event.reason === 'pin') {
      reason = `chain "${chain}" ${from} → ${to}: pinned there by the operator`;
    } else {
      reason = `chain "${chain}" ${from} → ${to} at ${entriesPerSec} entries/s (lane table)`;
      this.reasons.set(event.slot, `lane table: moved ${from} → ${to} at ${entriesPerSec} entries/s`);
    }
    this.decide('lane-change', { kind: 'chain-move', chain, from, to, reason, numbers }, { entriesPerSec, why: event.reason });
  }
}

// The dashboard's fleet view (a gateway in a fleet only): the members with
// their capacity and load, how many chains each owns, and the fleet's recent
// moves (the `events/` the balancer and `fleet move` write). Built every few
// seconds off the feed's tick (counting chains walks the whole ownership
// table, and the moves are one etcd range), so the feed only reads it.
import { FleetBalancer, loadsMirror, readEvents, type FleetEvent, type LoadReport, type PrefixMirror } from '../fleet/index.js';
import { errorMessage, type Logger } from '../log/index.js';
import type { FleetParts } from './fleet-parts.js';

/** How often the view is built again. */
const REFRESH_MS = 5_000;
/** The latest moves shown. */
const MOVES_SHOWN = 20;

export interface FleetMemberView {
  id: string;
  url: string;
  /** This gateway. */
  self: boolean;
  capacityEntriesPerSec: number;
  /** Placed demand over capacity (the fleet balancer's measure); null without a recent report. */
  load: number | null;
  chains: number;
}

export interface FleetMoveView {
  at: number;
  kind: string;
  chain: string | null;
  from: string | null;
  to: string | null;
  reason: string;
}

export interface FleetView {
  gateway: string;
  member: string;
  members: FleetMemberView[];
  /** Owners of chains that are not live members: their chains wait for them. */
  absent: { id: string; chains: number }[];
  moves: FleetMoveView[];
  /** Owner → standby pairs (docs/replicas.md part 2); empty without replicas. */
  standbys: { owner: string; standby: string; since: number }[];
}

export class FleetViewSource {
  private view: FleetView | null = null;
  private readonly loads: PrefixMirror<LoadReport>;
  private timer: NodeJS.Timeout | null = null;
  private refreshing = false;

  constructor(
    private readonly fleet: FleetParts,
    private readonly log: Logger,
  ) {
    this.loads = loadsMirror(fleet.node.client, fleet.node.keys, { maxEntries: 10_000, checkEveryMs: fleet.settings.etcd.watchCheckMs, canary: true });
  }

  start(): void {
    this.loads.start().catch(() => undefined); // an etcd away now: the view shows no loads until it is back
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
    void this.refresh();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.loads.stop();
  }

  /** The latest view (null until built once). */
  current(): FleetView | null {
    return this.view;
  }

  private async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const { node, settings } = this.fleet;
      const owned = new Map<string, number>();
      for (const entry of node.table.entries.values()) owned.set(entry.value.gateway, (owned.get(entry.value.gateway) ?? 0) + 1);
      const now = Date.now();
      const members = [...node.members.entries]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([id, { value }]) => {
          const report = this.loads.get(id)?.value;
          const fresh = report !== undefined && now - report.at < 6 * settings.loadReportMs;
          return {
            id,
            url: value.url,
            self: id === settings.gatewayId,
            capacityEntriesPerSec: Math.round(value.capacity.entriesPerSec),
            load: fresh ? FleetBalancer.loadOf({ capacity: value.capacity, demand: report.demand }) : null,
            chains: owned.get(id) ?? 0,
          };
        });
      const absent = [...owned].filter(([id]) => !node.members.entries.has(id)).map(([id, chains]) => ({ id, chains }));
      const events = await readEvents(node.client, node.keys).catch((error: unknown) => {
        this.log.debug(
          { event: 'fleet-view-events-failed', error: errorMessage(error) },
          `the dashboard could not read the fleet's moves: ${errorMessage(error)}`,
        );
        return null;
      });
      const moves = events === null ? (this.view?.moves ?? []) : events.filter(isMove).slice(-MOVES_SHOWN).reverse().map(moveView);
      const standbys = node.standbys?.pairs() ?? [];
      this.view = { gateway: settings.gatewayId, member: node.member.keeper.state, members, absent, moves, standbys };
    } finally {
      this.refreshing = false;
    }
  }
}

function isMove(event: FleetEvent): boolean {
  return event.chain !== undefined;
}

function moveView(event: FleetEvent): FleetMoveView {
  return { at: event.at, kind: event.kind, chain: event.chain ?? null, from: event.from ?? null, to: event.to ?? null, reason: event.reason };
}

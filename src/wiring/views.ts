// What the running parts look like from outside: /healthz and the metrics' sources.
import { TURN_BOUNDS_S, openDescriptors } from '../defence/index.js';
import { healthView } from '../http/index.js';
import type { MetricSources } from '../metrics/index.js';
import { nativeLoaded, nativeLoadError } from '../native/index.js';
import type { CoreLayout } from '../scheduler/index.js';
import type { ClientParts, IntakeParts } from './intake.js';
import type { SharedParts } from './shared.js';
import type { StoreParts } from './store.js';
import type { ThreadParts } from './threads.js';
import type { FleetParts } from './fleet-parts.js';
import type { ReplicaParts } from './replica-parts.js';

/** Everything the gateway runs, once every phase has started. */
export interface RunningParts {
  layout: CoreLayout;
  store: StoreParts;
  shared: SharedParts;
  clients: ClientParts;
  threads: ThreadParts;
  intake: IntakeParts;
  /** The fleet this gateway is in; null: a gateway on its own. */
  fleet: FleetParts | null;
  /** Standby replicas (fleet.replicas: 1); null without. */
  replicas: ReplicaParts | null;
  startedAt: number;
}

/** Why nothing accepted can become durable now (a dead sealer, failing seals), or null. */
export function sealTrouble(parts: Pick<RunningParts, 'store' | 'threads'>): string | null {
  return parts.store.seals.trouble(parts.threads.sealer.alive);
}

/** `GET /healthz`. */
export function health(parts: RunningParts): Record<string, unknown> {
  const { store, shared, clients, threads } = parts;
  return {
    ...healthView({
      trouble: sealTrouble(parts),
      sealerAlive: threads.sealer.alive,
      native: nativeLoaded,
      nativeError: nativeLoadError,
      chains: shared.chains.size,
      connections: clients.connections.size,
      seals: store.seals,
      startedAt: parts.startedAt,
    }),
    ...(threads.anchors === null ? {} : { anchors: threads.anchors.health() }),
    ...store.heads.health(),
    ...(parts.fleet === null ? {} : { fleet: { ...fleetHealth(parts.fleet), ...(parts.replicas === null ? {} : { replica: parts.replicas.health() }) } }),
  };
}

/**
 * A gateway in a fleet: its membership (live, or fenced: cut off from etcd,
 * admitting nothing, still serving reads) and its ownership table's watch.
 * Never a reason for 503: a fenced gateway must stay in HAProxy's rotation.
 */
function fleetHealth(fleet: FleetParts): Record<string, unknown> {
  const { node } = fleet;
  return {
    gateway: fleet.settings.gatewayId,
    member: node.member.keeper.state,
    table: node.table.isSynced ? 'synced' : 'interrupted',
    tableRevision: node.table.revision,
    joinRevision: node.member.joinRevision,
    members: node.members.entries.size,
    /** Requests sent to etcd since the start: none is per frame (the bench compares loaded and idle). */
    etcdRequests: node.client.requests,
  };
}

/** What the metrics read at each scrape. */
export function metricSources(
  parts: RunningParts,
  descriptors: () => { low: boolean; episodes: number; listening: boolean; listenStops: number },
): MetricSources {
  const { store, shared, clients, threads, intake } = parts;
  return {
    admission: () => intake.admission.stats,
    frameIds: () => intake.admission.frameIds.stats,
    seals: () => store.seals,
    unsealedBytes: () => threads.sealer.pendingBytes(),
    chains: () => shared.chains.size,
    connections: () => clients.connections.size,
    guard: () => ({
      refused: intake.guard.stats.refused,
      httpInFlight: intake.guard.stats.httpInFlight,
      maxConnections: intake.bounds.maxConnections,
      descriptorsLow: descriptors().low,
      descriptorsLowEpisodes: descriptors().episodes,
      listening: descriptors().listening,
      listenStops: descriptors().listenStops,
    }),
    addressTurns: () => intake.turns?.stats ?? null,
    openDescriptors: () => openDescriptors(),
    frontDoorTurns: () => (clients.turnMeter.measuring ? { ...clients.turnMeter.totals(), bounds: TURN_BOUNDS_S } : null),
    lanes: () => threads.pools.map((p) => ({ ringUsed: p.view.used(), backlog: p.backlog, retries: p.stats().retries })),
    fairShareRefusals: () => threads.balancer.refusals(),
  };
}

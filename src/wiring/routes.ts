// Which handler answers which route: the stream, the HTTP API, the operator's
// lane routes, credits, anchors, readiness, and the dashboard. Every HTTP
// route goes through the connection guard (Host and Origin checks, caps).
import { AnchoredReads } from '../anchors/index.js';
import { LANE_TABLE_KEY } from '../ledger/index.js';
import { StaticFiles } from '../dashboard/index.js';
import type { GatewayConfig } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { addStreamRoute, revokeStreams } from '../frontdoor/index.js';
import {
  addAnchorRoutes,
  addCreditRoutes,
  addHandoffRoutes,
  addHttpRoutes,
  addLaneRoutes,
  addOpenModeCreditRoutes,
  addReplicaRoute,
  addReadinessRoute,
  chainView,
} from '../http/index.js';
import type { MetricsText } from '../http/index.js';
import type { TemplatedApp } from '../uws/index.js';
import { lanesNow } from './lanes-view.js';
import { handoffService } from './handoff.js';
import { health, sealTrouble, type RunningParts } from './views.js';

export interface RouteInputs {
  config: GatewayConfig;
  log: Logger;
  parts: RunningParts;
  metrics: MetricsText;
  /** The gateway has begun to stop (GET /readyz). */
  stopping(): boolean;
  /** The admin key (a fleet's gateways pull blocks from each other with it); null in open mode. */
  adminKey: string | null;
}

export function addRoutes(app: TemplatedApp, inputs: RouteInputs): void {
  const { config, log, parts } = inputs;
  const { store, shared, clients, threads, intake } = parts;
  const routes = intake.guard.routes(app);
  const credits = store.credits;
  if (credits === null) addOpenModeCreditRoutes(routes);
  else {
    addCreditRoutes(routes, {
      log,
      credits,
      chains: shared.chains,
      buffers: clients.buffers,
      revoked: (keyId) => revokeStreams(clients.connections, keyId, `the key this stream was opened with (${keyId}) was revoked`),
      admission: intake.admission,
    });
  }
  if (parts.fleet !== null) {
    addHandoffRoutes(routes, {
      log,
      buffers: clients.buffers,
      credits,
      service: handoffService({ fleet: parts.fleet, parts, adminKey: inputs.adminKey, commitWaitMs: config.ledger.commitWaitTimeoutMs, log }),
    });
  }
  if (parts.replicas !== null) {
    const replicas = parts.replicas;
    addReplicaRoute(app, {
      log,
      credits,
      guard: intake.guard,
      maxMessageBytes: replicas.maxMessageBytes,
      streams: { refusal: (owner) => replicas.streams.refusal(owner), open: (owner, socket) => replicas.streams.open(owner, socket) },
    });
  }
  addStreamRoute(app, {
    log,
    chains: shared.chains,
    admission: intake.admission,
    buffers: clients.buffers,
    connections: clients.connections,
    maxPayloadBytes: config.limits.maxFrameBytes,
    maxOutboundBytes: config.limits.maxOutboundBytes,
    maxFramesInFlight: config.limits.maxFramesInFlight,
    guard: intake.guard,
    credits: credits?.book ?? null,
    turns: intake.turns,
    turnMeter: clients.turnMeter,
    loopTurns: intake.loopTurns,
  });
  addReadinessRoute(routes, () => ({
    stopping: inputs.stopping(),
    storeOpen: store.isOpen(),
    sealerAlive: threads.sealer.alive,
    lanesDown: threads.pools.filter((pool) => !pool.up).map((pool) => pool.name),
    storeTrouble: store.seals.refusal,
  }));
  addLaneRoutes(routes, {
    log,
    chains: shared.chains,
    buffers: clients.buffers,
    credits,
    laneTable: () => threads.balancer.table,
    setLaneTable: async (table) => {
      await store.settings.put(LANE_TABLE_KEY, table);
      threads.balancer.tableChanged(table, 'PUT /v1/lanes/table');
      threads.scheduler.reloadTable();
    },
    pinOf: (chain) => threads.balancer.pinOf(chain.name),
    pin: async (chain, lane) => {
      await threads.balancer.pin(chain, lane, shared.chainTable.lane(chain.slot));
      threads.scheduler.pin(chain.slot, lane);
    },
    events: (since, limit) => threads.balancer.decisions.list(since, limit),
  });
  new StaticFiles().routes(routes);
  intake.dashboard.route(app, routes);
  const reads = threads.anchors === null ? store.readers : new AnchoredReads(store.readers, threads.anchors);
  store.heads.addRoutes(routes, reads, clients.buffers);
  addHttpRoutes(routes, {
    log,
    chains: shared.chains,
    admission: intake.admission,
    ledger: reads,
    maxBodyBytes: config.limits.maxFrameBytes,
    buffers: clients.buffers,
    commitWaitTimeoutMs: config.ledger.commitWaitTimeoutMs,
    sealTrouble: () => sealTrouble(parts),
    committedDirectory: () => store.seals.committedHeight,
    chainInfo: (chain) => chainView(chain, shared.chainTable),
    lanes: (listed) => lanesNow(parts, intake.frontDoorCores.cores, listed),
    publicListings: config.auth.publicListings,
    health: () => health(parts),
    metrics: inputs.metrics,
    credits: credits?.book ?? null,
    proofHead: (param) => store.heads.proofHead(param),
  });
  const anchors = threads.anchors;
  addAnchorRoutes(routes, anchors === null ? null : { windows: (from, limit) => anchors.query({ kind: 'windows', from, limit }) });
}

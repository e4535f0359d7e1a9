// Phase 4: what takes frames in — admission, the connection guard with each
// address's turns of the front door, the bounds on connections from the
// descriptor limit, the dashboard's feed (it reads the balancer's decisions
// from their ring), and the clocks: blocks cut every interval, and the sweep over what connections hold. Stopping refuses new
// frames, lets the lanes finish what they took, and cuts the last blocks.
import { FrontDoorCores } from '../balancer/index.js';
import { ConfigError, type GatewayConfig } from '../config/index.js';
import { DashboardFeed } from '../dashboard/index.js';
import {
  AddressTurns,
  ClientBuffers,
  ConnectionGuard,
  EventLoopTurns,
  loopTurnsOf,
  TurnMeter,
  connectionBounds,
  descriptorLimit,
  openDescriptors,
  type ConnectionBounds,
} from '../defence/index.js';
import { Admission, revokeStreams, type StreamConnection } from '../frontdoor/index.js';
import { METRICS_PATH, READYZ_PATH, chainView } from '../http/index.js';
import type { Logger } from '../log/index.js';
import { LATENCY_BOUNDS, type GatewayMetrics } from '../metrics/index.js';
import { system } from '../native/index.js';
import type { CoreLayout } from '../scheduler/index.js';
import type { SharedParts } from './shared.js';
import type { StopStack } from './stop-stack.js';
import type { StoreParts } from './store.js';
import type { ThreadParts } from './threads.js';
import type { FleetParts } from './fleet-parts.js';
import { gatedOwnership, maxCutBytes, type ReplicaParts } from './replica-parts.js';
import { lanesNow } from './lanes-view.js';
import { FleetViewSource } from './fleet-view.js';

/**
 * How often the total of unread replies is summed over every connection. Each
 * connection is bounded on its own at every send (maxOutboundBytes); the total
 * may overshoot by what the gateway writes in one period.
 */
const OUTBOUND_SWEEP_MS = 250;

/** The streams and what they make the front door hold. */
export interface ClientParts {
  connections: Set<StreamConnection>;
  /** Frames in progress and unread replies, in total. */
  buffers: ClientBuffers;
  /** The front door's turns: how long each kept it busy, and what clients made it do in them. */
  turnMeter: TurnMeter;
}

export interface IntakeParts {
  admission: Admission;
  guard: ConnectionGuard;
  /** Each client address's turns of the front door; null when limits.frontDoorTurnBudgetMs is null. */
  turns: AddressTurns | null;
  /** The front door's turns, counted once for the stream route, the guard and the share. */
  loopTurns: EventLoopTurns;
  bounds: ConnectionBounds;
  dashboard: DashboardFeed;
  /** The cores the front door thread runs on, as the heavy lane fills and empties. */
  frontDoorCores: FrontDoorCores;
}

export interface IntakeInputs {
  config: GatewayConfig;
  layout: CoreLayout;
  log: Logger;
  store: StoreParts;
  shared: SharedParts;
  threads: ThreadParts;
  clients: ClientParts;
  metrics: GatewayMetrics;
  /** The fleet this gateway is in; null: a gateway on its own. */
  fleet: FleetParts | null;
  /** Standby replicas: their gate answers `busy` beside ownership; null without. */
  replicas: ReplicaParts | null;
}

/** The streams: closed last of the front door's parts, once the sealer has sent the last `committed`. */
export function openClients(config: GatewayConfig, log: Logger, stops: StopStack): ClientParts {
  const connections = new Set<StreamConnection>();
  const turnMeter = new TurnMeter(log);
  stops.push('the turn meter', () => turnMeter.stop());
  stops.push('the streams', () => {
    for (const connection of connections) connection.end(1001, 'the gateway is shutting down');
  });
  return { connections, buffers: new ClientBuffers(config.limits), turnMeter };
}

export function openIntake(inputs: IntakeInputs, stops: StopStack): IntakeParts {
  const { config, log, store, shared, threads } = inputs;
  const admission = new Admission({
    limits: { ...config.limits, maxBlockEntries: config.ledger.maxBlockEntries, maxCutBytes: maxCutBytes(inputs.replicas) },
    chains: shared.chains,
    pools: threads.pools,
    sealer: threads.sealer,
    laneOf: (slot) => shared.chainTable.lane(slot),
    credits: store.credits?.book ?? null,
    seals: store.seals,
    fairShare: threads.balancer.fairShare,
    commitProbe: shared.commitSampler,
    ownership: gatedOwnership(inputs.fleet?.ownership ?? null, inputs.replicas),
    storedHashes: (chain, seq, count) => store.readers.hashes(chain, seq, count),
  });
  // Each chain's client frame ids as its seals stored them: a frame sent before a restart is still answered as a repeat.
  admission.frameIds.restoreChains(shared.chains.all(), (name, limit, maxBytes) => store.ledger.recentFrameIds(name, limit, maxBytes));
  const bounds = boundConnections(config, log);
  const loopTurns = loopTurnsOf(inputs.clients.turnMeter);
  const turns = turnsOfAddresses(config, log, inputs.clients.turnMeter, loopTurns);
  const guard = new ConnectionGuard(
    {
      maxConnections: bounds.maxConnections,
      maxConnectionsPerAddress: bounds.maxConnectionsPerAddress,
      listenHost: config.host,
      allowedHosts: config.allowedHosts,
      allowedOrigins: config.allowedOrigins,
      // Answered on the spot, so it holds no slot; an operator's probe must get through at the limit.
      uncappedPaths: ['/healthz', READYZ_PATH],
      unchargedPaths: ['/healthz', READYZ_PATH, METRICS_PATH],
    },
    log,
    turns,
    inputs.clients.turnMeter,
    loopTurns,
  );
  const frontDoorCores = new FrontDoorCores(inputs.layout, (cores) => system.pinThread(cores), log);
  const fleetView = inputs.fleet === null ? null : new FleetViewSource(inputs.fleet, log);
  fleetView?.start();
  const dashboard = openDashboard(inputs, admission, guard, () => lanesNow(inputs, frontDoorCores.cores), fleetView);
  threads.schedulerListeners.push((event) => frontDoorCores.onSchedulerEvent(event));
  const clocks = startClocks(inputs, admission);
  inputs.metrics.start();
  stops.push('intake', async () => {
    admission.close();
    guard.stop();
    dashboard.stop();
    fleetView?.stop();
    inputs.metrics.stop();
    // What the lanes took is hashed and answered; then the last blocks are cut for the sealer to seal as it stops.
    await Promise.all(threads.pools.map((pool) => pool.drain()));
    for (const clock of clocks) clearInterval(clock);
    admission.cutBlocks();
  });
  return { admission, guard, turns, loopTurns, bounds, dashboard, frontDoorCores };
}

/**
 * The connection limits from the config and the descriptor limit, with the
 * descriptors the store, threads and logs hold by now counted as in use.
 */
function boundConnections(config: GatewayConfig, log: Logger): ConnectionBounds {
  const limit = descriptorLimit();
  const bounds = connectionBounds(config.limits, limit, openDescriptors() ?? 0);
  if (Array.isArray(bounds)) throw new ConfigError(bounds);
  log.info(
    { event: 'connection-limits', ...bounds },
    `at most ${bounds.maxConnections} connections and requests in flight, ${bounds.maxConnectionsPerAddress} per client address ` +
      `(file-descriptor limit ${limit ?? 'unknown'}, ${bounds.descriptorsInUse} in use)`,
  );
  return bounds;
}

/** The front door's time shared by client address (defence/address-turns.ts). */
function turnsOfAddresses(config: GatewayConfig, log: Logger, meter: TurnMeter, loopTurns: EventLoopTurns): AddressTurns | null {
  const { frontDoorTurnBudgetMs, addressBarMs, maxAddressBarMs } = config.limits;
  if (frontDoorTurnBudgetMs === null) return null;
  return new AddressTurns(
    { turnBudgetMs: frontDoorTurnBudgetMs, firstBarMs: addressBarMs, maxBarMs: Math.max(addressBarMs, maxAddressBarMs) },
    log,
    meter,
    loopTurns,
  );
}

function openDashboard(inputs: IntakeInputs, admission: Admission, guard: ConnectionGuard, lanes: () => unknown, fleet: FleetViewSource | null): DashboardFeed {
  const { shared, store, threads, metrics } = inputs;
  const dashboard = new DashboardFeed({
    chains: shared.chains,
    chainInfo: (chain) => chainView(chain, shared.chainTable),
    lanes,
    anchors: () => threads.anchors?.health() ?? null,
    entriesAccepted: () => admission.stats.entriesAccepted,
    entriesCommitted: () => store.seals.entriesCommitted,
    acceptedLatency: metrics.hashLatency,
    latencyBoundsSec: LATENCY_BOUNDS,
    credits: store.credits?.book ?? null,
    guard,
    commits: shared.commitSampler,
    decisions: threads.balancer.decisions,
    ...(fleet === null ? {} : { fleet: () => fleet.current() }),
  });
  dashboard.start();
  return dashboard;
}

/**
 * The front door's clocks: every block interval the open blocks are cut (hop 4
 * of a frame's life) and the read burns written (a crash loses at most one
 * interval's: reads served free); every sweep, the bytes held for clients
 * that do not read are bounded, streams of keys that expired are closed, and
 * the front door's long turns are read (and logged once a window ends).
 */
function startClocks(inputs: IntakeInputs, admission: Admission): NodeJS.Timeout[] {
  const { config, log, store, clients } = inputs;
  const credits = store.credits;
  const blocks = setInterval(() => {
    admission.cutBlocks();
    credits
      ?.flushReadBurns()
      .catch((error: unknown) =>
        log.warn({ event: 'read-burns-failed', error: String(error) }, `could not write read burns, retrying with the next interval: ${String(error)}`),
      );
  }, config.ledger.blockIntervalMs);
  const sweep = setInterval(() => {
    clients.buffers.enforceOutbound(clients.connections, log);
    clients.turnMeter.drain();
    if (credits === null) return;
    for (const keyId of credits.book.expiredKeys(Date.now())) {
      revokeStreams(clients.connections, keyId, `the key this stream was opened with (${keyId}) expired`);
    }
  }, OUTBOUND_SWEEP_MS);
  return [blocks, sweep];
}

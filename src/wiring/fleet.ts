// Phase 2, for a gateway in a fleet only (config `fleet`; docs/fleet.md): it
// joins — its member key on a lease, the ownership table and the members
// watched — and, in authenticated mode, follows the fleet's accounts and keys
// into its credit book. Admission gets the gate (`ownership`: a clock read and
// a Map lookup per frame, no etcd call) and claims; once the rest runs,
// `connectFleet` reports capacity and load and closes the streams of chains
// that moved away. Stopping leaves the fleet at once (the lease is revoked);
// the chains stay this gateway's in etcd. Without a fleet nothing here runs.
import { createHash } from 'node:crypto';
import { Gauge, type Registry } from 'prom-client';
import { storeIdentity } from '../anchors/index.js';
import type { GatewayConfig } from '../config/index.js';
import { FleetDirectory, FleetNode, LOAD_REPORT_CHAINS, type Capacity, type ClaimOutcome, type GatewayFleetSettings, type LoadReport } from '../fleet/index.js';
import { movedStreams, type ChainOwnership, type ClaimResult } from '../frontdoor/index.js';
import { errorMessage, type Logger } from '../log/index.js';
import type { SchedulerEvent } from '../scheduler/index.js';
import type { StopStack } from './stop-stack.js';
import type { StoreParts } from './store.js';
import type { RunningParts } from './views.js';
import type { FleetParts } from './fleet-parts.js';

export type { FleetParts } from './fleet-parts.js';

/** How long to wait before listing the fleet's accounts again when etcd could not be reached at start. */
const DIRECTORY_RETRY_MS = 1_000;

export async function joinFleet(config: GatewayConfig, store: StoreParts, log: Logger, stops: StopStack): Promise<FleetParts | null> {
  const settings = config.fleet;
  if (settings === null) return null;
  const key = createHash('sha256')
    .update(await storeIdentity(store.ledger.environment))
    .digest('hex');
  let loadSource: (() => LoadReport | null) | null = null;
  const node = await FleetNode.start({ settings, store: key, capacity: { entriesPerSec: 0, bytesPerSec: 0 }, log, load: () => loadSource?.() ?? null });
  stops.push('the fleet membership', () => node.stop());
  const directory = store.credits === null ? null : followAccounts(node, settings, store, log, stops);
  const local = [...new Set([...store.resume.chains.map((h) => h.chainName), ...(store.credits?.book.chains.keys() ?? [])])];
  const onJoin = (): void => {
    if (directory !== null && store.credits !== null) seedAccounts(directory, store, log);
    claimLocalChains(node, local, log);
  };
  node.member.onJoin(onJoin);
  if (node.member.joinRevision > 0) onJoin();
  return {
    settings,
    node,
    directory,
    ownership: ownershipOf(node),
    self: { id: settings.gatewayId, key },
    reportLoad: (source) => {
      loadSource = source;
    },
  };
}

/** The fleet's gate and claims as admission sees them (src/frontdoor/ownership.ts). */
function ownershipOf(node: FleetNode): ChainOwnership {
  return {
    check: (name, now) => node.gate.check(name, now),
    servedElsewhere: (name) => node.gate.servedElsewhere(name),
    claim: async (name) => claimResult(node, name, await node.claims.claim(name)),
  };
}

function claimResult(node: FleetNode, name: string, outcome: ClaimOutcome): ClaimResult {
  if (outcome.won === true) return { won: true };
  if (outcome.won === null) return { won: null, message: outcome.cause };
  const url = node.members.get(outcome.owner)?.value.url ?? null;
  return {
    won: false,
    location: url,
    message:
      url === null
        ? `chain "${name}" is served by gateway "${outcome.owner}", which is not a live member of the fleet now; retry later`
        : `chain "${name}" is served by gateway "${outcome.owner}" at ${url}`,
  };
}

/** The fleet's accounts and keys into the credit book; this gateway's own writes go to etcd first (Credits.shareWith). */
function followAccounts(node: FleetNode, settings: GatewayFleetSettings, store: StoreParts, log: Logger, stops: StopStack): FleetDirectory {
  const credits = store.credits!;
  const directory = new FleetDirectory(node.client, node.keys, { maxEntries: 1_000_000, checkEveryMs: settings.etcd.watchCheckMs, canary: true });
  directory.follow(
    credits.sharedListener((error) =>
      log.warn(
        { event: 'fleet-account-store-failed', error: errorMessage(error) },
        `could not keep an account of the fleet in the store: ${errorMessage(error)}`,
      ),
    ),
  );
  credits.shareWith(directory);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const start = (): void => {
    directory.start().catch((error: unknown) => {
      log.warn(
        { event: 'fleet-directory-failed', error: errorMessage(error) },
        `cannot list the fleet's accounts and keys yet (${errorMessage(error)}); keys made on other gateways work here once it can`,
      );
      if (!stopped) timer = setTimeout(start, DIRECTORY_RETRY_MS).unref();
    });
  };
  start();
  stops.push("the fleet's accounts and keys", () => {
    stopped = true;
    clearTimeout(timer);
    directory.stop();
  });
  return directory;
}

/** What this gateway had on its own goes to the fleet's directory, each record only if absent there. */
function seedAccounts(directory: FleetDirectory, store: StoreParts, log: Logger): void {
  const { accounts, keys } = store.credits!.accountsAndKeys();
  directory.seed(accounts, keys).then(
    (created) => {
      if (created > 0) log.info({ event: 'fleet-accounts-seeded', created }, `${created} accounts and keys of this gateway are the fleet's now`);
    },
    (error: unknown) =>
      log.warn(
        { event: 'fleet-seed-failed', error: errorMessage(error) },
        `could not give this gateway's accounts and keys to the fleet (retried at the next join): ${errorMessage(error)}`,
      ),
  );
}

/**
 * The chains whose blocks this store holds are claimed for it (create if
 * absent: a chain the fleet gave another gateway stays that one's), so a
 * gateway that joins with chains keeps them.
 */
function claimLocalChains(node: FleetNode, chains: readonly string[], log: Logger): void {
  const unowned = chains.filter((name) => node.table.get(name) === undefined);
  for (const name of unowned) {
    void node.claims.claim(name).then((outcome) => {
      if (outcome.won === null)
        log.warn(
          { event: 'fleet-claim-failed', chain: name, cause: outcome.cause },
          `could not claim chain "${name}", whose blocks are here: ${outcome.cause}`,
        );
    });
  }
}

/**
 * Once everything runs: capacity (from the lanes' calibration) and load (the
 * chains this gateway owns, by the scheduler's rates) go to etcd for the
 * fleet's balancer, and the streams of a chain another gateway took get
 * their replies, then close 4001.
 */
export function connectFleet(fleet: FleetParts | null, parts: RunningParts, registry: Registry): void {
  if (fleet === null) return;
  registerFleetMetrics(fleet, registry);
  const { shared, clients, threads } = parts;
  threads.schedulerListeners.push((event: SchedulerEvent) => {
    if (event.type !== 'capacity') return;
    const capacity: Capacity = event.lanes.reduce(
      (sum, lane) => ({ entriesPerSec: sum.entriesPerSec + lane.entriesPerSec, bytesPerSec: sum.bytesPerSec + lane.bytesPerSec }),
      { entriesPerSec: 0, bytesPerSec: 0 },
    );
    fleet.node.publishCapacity(capacity).catch(() => undefined); // etcd trouble is the lease keeper's to report
  });
  fleet.reportLoad(() => {
    const mine = shared.chains.all().filter((chain) => fleet.node.table.get(chain.name)?.value.gateway === fleet.settings.gatewayId);
    const rated = mine.map((chain) => ({
      name: chain.name,
      entriesPerSec: shared.chainTable.entriesPerSec(chain.slot),
      bytesPerSec: shared.chainTable.bytesPerSec(chain.slot),
    }));
    const demand = rated.reduce((sum, c) => ({ entriesPerSec: sum.entriesPerSec + c.entriesPerSec, bytesPerSec: sum.bytesPerSec + c.bytesPerSec }), {
      entriesPerSec: 0,
      bytesPerSec: 0,
    });
    const top = rated.sort((a, b) => b.entriesPerSec - a.entriesPerSec).slice(0, LOAD_REPORT_CHAINS);
    return { at: Date.now(), demand, chains: mine.length, top };
  });
  fleet.node.onLost((chain) => movedStreams(clients.connections, chain));
}

/** The fleet's side in `GET /metrics` (docs/protocol.md §14): read at each scrape, nothing kept. */
function registerFleetMetrics(fleet: FleetParts, registry: Registry): void {
  const { node } = fleet;
  const gauge = (name: string, help: string, read: () => number): void => {
    const metric: Gauge = new Gauge({ name, help, registers: [registry], collect: () => metric.set(read()) });
  };
  gauge('chainlanes_fleet_member_live', "1 while this gateway's lease is live by its own clock (it may admit), 0 while cut off from etcd or joining.", () =>
    Number(node.member.isLive()),
  );
  gauge('chainlanes_fleet_table_synced', "1 while the ownership table's watch is current.", () => Number(node.table.isSynced));
  gauge('chainlanes_fleet_table_lag_revisions', "Revisions the ownership table is behind this gateway's (re)join (admission waits while above 0).", () =>
    Math.max(0, node.member.joinRevision - node.table.revision),
  );
  gauge('chainlanes_fleet_members', 'Live members of the fleet, as this gateway sees them.', () => node.members.entries.size);
  gauge('chainlanes_fleet_etcd_requests', 'Requests sent to etcd since the start (none per frame).', () => node.client.requests);
  gauge(
    'chainlanes_fleet_claim_transactions',
    'Claim transactions sent to etcd since the start (a burst of new chains rides in one).',
    () => node.claims.transactions,
  );
}

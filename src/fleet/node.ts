// A gateway's whole fleet side in one object, the one the gateway holds
// (docs/fleet.md "Integration"): its membership, the ownership table and the
// live members (both watched), the gate admission asks per frame, batched
// claims, handoffs, and the load report. Starting it never waits for etcd
// forever: a gateway started while etcd is away serves reads and joins when
// etcd is back (until then the gate answers `busy`, naming why).
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';
import { EtcdClient, type Revision } from './etcd.js';
import { FleetKeys, type Capacity, type LoadReport, type MemberRecord } from './keys.js';
import { FleetMember, membersMirror } from './membership.js';
import { ClaimBatcher, FleetGate, ownershipTable, type OwnershipTable } from './ownership.js';
import { Handoffs, type HandoffEnd } from './handoff.js';
import type { PrefixMirror } from './mirror.js';
import type { GatewayFleetSettings } from './settings.js';
import { StandbyNaming, standbyTable } from './standby.js';

export interface FleetNodeOptions {
  settings: GatewayFleetSettings;
  /** The gateway's store identity (a restart on the same store replaces its previous incarnation at once). */
  store: string;
  /** The lanes' capacity together, from calibration (published again with `publishCapacity`). */
  capacity: Capacity;
  log: Logger;
  /** The load report's source, asked every loadReportMs; null: nothing to report yet. */
  load?: () => LoadReport | null;
}

const RETRY_START_MS = 1_000;

export class FleetNode {
  readonly client: EtcdClient;
  readonly keys: FleetKeys;
  readonly member: FleetMember;
  readonly table: OwnershipTable;
  readonly members: PrefixMirror<MemberRecord>;
  readonly gate: FleetGate;
  readonly claims: ClaimBatcher;
  readonly handoffs: Handoffs;
  /** Who stands by for whom (docs/replicas.md part 2); null without `replicas: 1`. */
  readonly standbys: StandbyNaming | null;
  private readonly options: FleetNodeOptions;
  private readonly lostListeners: ((chain: string, owner: string | null) => void)[] = [];
  private readonly endedListeners: ((chain: string, end: HandoffEnd, detail: string) => void)[] = [];
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  private constructor(options: FleetNodeOptions) {
    const { settings, log } = options;
    this.options = options;
    this.client = new EtcdClient({
      endpoints: settings.etcd.endpoints,
      requestTimeoutMs: settings.etcd.requestTimeoutMs,
      maxResponseBytes: settings.etcd.maxResponseBytes,
    });
    this.keys = new FleetKeys(settings.etcd.prefix);
    const mirror = { checkEveryMs: settings.etcd.watchCheckMs, canary: true };
    this.table = ownershipTable(this.client, this.keys, { ...mirror, maxEntries: settings.maxChains });
    this.members = membersMirror(this.client, this.keys, { ...mirror, maxEntries: 10_000 });
    this.member = new FleetMember(
      this.client,
      this.keys,
      {
        id: settings.gatewayId,
        url: settings.advertiseUrl,
        store: options.store,
        machine: settings.machine,
        lease: { ttlSeconds: settings.leaseTtlSeconds, marginMs: settings.leaseMarginMs },
      },
      (state, cause) => {
        const level = state === 'live' ? 'info' : 'warn';
        log[level]({ event: 'fleet-member', state, cause, gateway: settings.gatewayId }, `fleet membership ${state}: ${cause}`);
      },
    );
    this.member.onJoin((revision: Revision) => {
      log.info(
        { event: 'fleet-joined', revision, gateway: settings.gatewayId },
        `joined the fleet as "${settings.gatewayId}" at revision ${revision}; ownership is listed again before admitting`,
      );
      this.table.resync();
    });
    this.standbys =
      settings.replicas === 0
        ? null
        : new StandbyNaming(this.client, this.keys, this.member, this.members, standbyTable(this.client, this.keys, { ...mirror, maxEntries: 10_000 }), {
            maxStandbyFor: settings.maxStandbyFor,
            machine: settings.machine,
          });
    this.gate = new FleetGate(this.member, this.table, this.members);
    this.claims = new ClaimBatcher(this.client, this.keys, this.member, this.table, { batch: settings.claimBatch, maxQueued: settings.maxQueuedClaims });
    this.handoffs = new Handoffs(
      this.client,
      this.keys,
      settings.gatewayId,
      this.table,
      this.gate,
      { deadlineMs: settings.handoffDeadlineMs, retryMs: 1_000 },
      (chain, end, detail) => {
        log.info({ event: 'fleet-handoff', chain, end, detail }, `handoff of chain "${chain}": ${end} (${detail})`);
        for (const listener of this.endedListeners) listener(chain, end, detail);
      },
    );
    this.table.listen({
      put: (chain, entry, previous) => {
        if (previous?.value.gateway === settings.gatewayId && entry.value.gateway !== settings.gatewayId) this.lost(chain, entry.value.gateway);
      },
      delete: (chain, previous) => {
        if (previous.value.gateway === settings.gatewayId) this.lost(chain, null);
      },
      skipped: (key, why) => log.warn({ event: 'fleet-record-skipped', key, why }, `ignoring ${key} in etcd: ${why}`),
      sync: (synced, cause) =>
        log[synced ? 'info' : 'warn']({ event: 'fleet-watch', synced, cause }, `ownership watch ${synced ? 'live' : 'interrupted'}: ${cause}`),
    });
  }

  /** Joins and lists (or keeps trying in the background when etcd cannot be reached now). */
  static async start(options: FleetNodeOptions): Promise<FleetNode> {
    const node = new FleetNode(options);
    await node.member.start(options.capacity);
    await node.startMirrors();
    const load = options.load;
    if (load !== undefined) {
      const timer = setInterval(() => {
        const report = load();
        if (report !== null) node.member.publishLoad(report).catch(() => undefined); // the lease keeper reports etcd trouble
      }, options.settings.loadReportMs);
      timer.unref();
      node.timers.push(timer);
    }
    return node;
  }

  private async startMirrors(): Promise<void> {
    try {
      await Promise.all([this.table.start(), this.members.start(), this.standbys?.table.start()]);
      this.standbys?.start();
    } catch (error) {
      this.options.log.warn(
        { event: 'fleet-list-failed', error: errorMessage(error) },
        `cannot list the fleet's ownership yet (${errorMessage(error)}); admitting nothing until it can`,
      );
      if (this.stopped) return;
      const timer = setTimeout(() => void this.startMirrors(), RETRY_START_MS);
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** A chain this gateway owned is someone else's now (or no one's): the front door closes its streams with 4001. */
  onLost(listener: (chain: string, owner: string | null) => void): void {
    this.lostListeners.push(listener);
  }

  /** A handoff of this gateway's ended (handed off, or resumed here). */
  onHandoffEnded(listener: (chain: string, end: HandoffEnd, detail: string) => void): void {
    this.endedListeners.push(listener);
  }

  private lost(chain: string, owner: string | null): void {
    for (const listener of this.lostListeners) listener(chain, owner);
  }

  publishCapacity(capacity: Capacity): Promise<void> {
    return this.member.publishCapacity(capacity);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.handoffs.stop();
    this.standbys?.stop();
    this.standbys?.table.stop();
    this.table.stop();
    this.members.stop();
    await this.member.stop();
    this.client.close();
  }
}

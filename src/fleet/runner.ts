// `chainlanes fleet run`: one or more instances, each beside an HAProxy.
// Every instance mirrors etcd's ownership into its own HAProxy (map and map
// file); the one that wins the `balancer/leader` election also balances: it
// reads the members' capacity and load reports, decides with FleetBalancer,
// moves chains by handoff, and writes every decision to the fleet's events.
import type { Logger } from '../log/index.js';
import { errorMessage } from '../log/index.js';
import { FleetBalancer, type FleetDecision, type GatewayLoad } from './balancer.js';
import { LeaderElection } from './election.js';
import { EtcdClient } from './etcd.js';
import { FleetEvents } from './events.js';
import { HaproxyRuntime, DEFAULT_RUNTIME_OPTIONS } from './haproxy.js';
import { DEFAULT_MIRROR_TIMING, HaproxyMirror } from './haproxy-mirror.js';
import { HttpGatewayApi, moveChain, type GatewayApi } from './handoff.js';
import { FleetKeys } from './keys.js';
import { loadsMirror, membersMirror } from './membership.js';
import { ownershipTable } from './ownership.js';
import type { EtcdSettings, FleetBalancerSettings } from './settings.js';

export interface FleetRunOptions {
  etcd: EtcdSettings;
  /** This instance's name in the election and the events. */
  id: string;
  haproxy: { socket: string; map: string } | null;
  /** false: mirror only, never lead. */
  balance: boolean;
  balancer: FleetBalancerSettings;
  /** The gateways' admin key (authenticated mode), for their handoff routes. */
  adminKey: string | null;
  log: Logger;
  /** The leader's lease: a leader cut off from etcd stops deciding within it. */
  leaseTtlSeconds: number;
  /** How the handoffs are asked for (HTTP to the gateways unless a test says otherwise). */
  api?: GatewayApi;
}

export class FleetRunner {
  readonly client: EtcdClient;
  readonly keys: FleetKeys;
  readonly table;
  readonly members;
  readonly loads;
  readonly election: LeaderElection | null;
  readonly haproxy: HaproxyMirror | null;
  readonly balancer: FleetBalancer;
  private readonly events: FleetEvents;
  private readonly api: GatewayApi;
  private readonly options: FleetRunOptions;
  private timer: NodeJS.Timeout | null = null;
  private deciding = false;
  /** Decisions made while leading, newest last (bounded), for status and tests. */
  readonly decisions: FleetDecision[] = [];

  constructor(options: FleetRunOptions) {
    this.options = options;
    const { etcd, log } = options;
    this.client = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: etcd.requestTimeoutMs, maxResponseBytes: etcd.maxResponseBytes });
    this.keys = new FleetKeys(etcd.prefix);
    const mirror = { checkEveryMs: etcd.watchCheckMs, canary: true };
    this.table = ownershipTable(this.client, this.keys, { ...mirror, maxEntries: 10_000_000 });
    this.members = membersMirror(this.client, this.keys, { ...mirror, maxEntries: 10_000 });
    this.loads = loadsMirror(this.client, this.keys, { ...mirror, maxEntries: 10_000 });
    this.events = new FleetEvents(this.client, this.keys, options.id, options.balancer.eventsKept);
    this.balancer = new FleetBalancer(options.balancer);
    this.api = options.api ?? new HttpGatewayApi(options.adminKey, 120_000);
    this.haproxy =
      options.haproxy === null
        ? null
        : new HaproxyMirror(
            new HaproxyRuntime({ socket: options.haproxy.socket, ...DEFAULT_RUNTIME_OPTIONS }),
            this.table,
            { map: options.haproxy.map, mapFile: options.haproxy.map, ...DEFAULT_MIRROR_TIMING },
            log,
          );
    this.election = options.balance
      ? new LeaderElection(
          this.client,
          this.keys,
          options.id,
          { ttlSeconds: options.leaseTtlSeconds, marginMs: Math.min(1_500, (options.leaseTtlSeconds * 1000) / 4) },
          log,
          (leading, cause) => {
            log.info({ event: 'fleet-leader', leading, cause }, leading ? `leading the fleet balancer (${cause})` : `not leading (${cause})`);
            if (leading) void this.events.add({ kind: 'leader', reason: `${options.id} leads the fleet balancer`, numbers: {} }).catch(() => undefined);
          },
        )
      : null;
    this.members.listen({
      put: (id, _entry, previous) => {
        if (previous === undefined) this.leaderEvent({ kind: 'member-joined', reason: `gateway "${id}" joined the fleet`, to: id, numbers: {} });
      },
      delete: (id) =>
        this.leaderEvent({
          kind: 'member-left',
          reason: `gateway "${id}" left the fleet (its lease ended: stopped, or cut off from etcd)`,
          from: id,
          numbers: {},
        }),
    });
  }

  /** Lists what it mirrors (retrying until etcd answers), then mirrors, campaigns and decides. */
  async start(): Promise<void> {
    for (;;) {
      try {
        await Promise.all([this.table.start(), this.members.start(), this.loads.start()]);
        break;
      } catch (error) {
        this.options.log.warn({ event: 'fleet-run', error: errorMessage(error) }, `cannot list the fleet in etcd yet: ${errorMessage(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
    this.haproxy?.start();
    if (this.election !== null) {
      await this.election.start();
      this.timer = setInterval(() => void this.tick(), this.options.balancer.everyMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.haproxy?.stop();
    this.table.stop();
    this.members.stop();
    this.loads.stop();
    await this.election?.stop();
    this.client.close();
  }

  private leaderEvent(event: Parameters<FleetEvents['add']>[0]): void {
    if (this.election?.isLeader() === true) void this.events.add(event).catch(() => undefined);
  }

  /** What the balancer sees: every live member with a load report. */
  gatewayLoads(): GatewayLoad[] {
    const out: GatewayLoad[] = [];
    for (const [id, member] of this.members.entries) {
      const report = this.loads.get(id)?.value;
      if (report === undefined) continue;
      out.push({ id, capacity: member.value.capacity, demand: report.demand, top: report.top, reportedAt: report.at });
    }
    return out;
  }

  /** One decision, made only while leading (by its own clock); a move is carried out before the next. */
  async tick(now = Date.now()): Promise<FleetDecision | null> {
    if (this.deciding || this.election?.isLeader() !== true) return null;
    this.deciding = true;
    try {
      const decision = this.balancer.decide(this.gatewayLoads(), now);
      if (decision.kind === 'none') return decision;
      this.decisions.push(decision);
      if (this.decisions.length > 1000) this.decisions.shift();
      if (decision.kind === 'overloaded') {
        await this.events.add({
          kind: 'overloaded',
          from: decision.gateway,
          reason: `gateway "${decision.gateway}" carries ${decision.load.toFixed(2)} of its capacity, over the headroom ${decision.headroom}, and no chain can move: ${decision.why}`,
          numbers: { load: round(decision.load), headroom: decision.headroom },
        });
        return decision;
      }
      const m = decision.move;
      const numbers = {
        relief: round(m.relief),
        fromLoad: round(m.fromLoad),
        fromLoadAfter: round(m.fromLoadAfter),
        toLoad: round(m.toLoad),
        toLoadAfter: round(m.toLoadAfter),
        headroom: m.headroom,
        entriesPerSec: Math.round(m.entriesPerSec),
        bytesPerSec: Math.round(m.bytesPerSec),
      };
      const outcome = await moveChain(this.client, this.keys, this.api, m.chain, m.to);
      if (outcome.moved) {
        this.balancer.moved(m, Date.now());
        await this.events.add({
          kind: 'move',
          chain: m.chain,
          from: m.from,
          to: m.to,
          numbers: { ...numbers, token: outcome.token, handoffMs: Math.round(outcome.ms.handoff), adoptMs: Math.round(outcome.ms.adopt) },
          reason:
            `chain "${m.chain}" ${m.from} → ${m.to}: ${m.from} was over its headroom (${m.fromLoad.toFixed(2)} of capacity > ${m.headroom}); ` +
            `this chain relieves it most (${m.relief.toFixed(2)}) and ${m.to} has room (${m.toLoadAfter.toFixed(2)} after)`,
        });
      } else {
        this.balancer.failed(m, Date.now());
        await this.events.add({
          kind: 'move-failed',
          chain: m.chain,
          from: m.from,
          to: m.to,
          numbers,
          reason: `moving chain "${m.chain}" ${m.from} → ${m.to} failed at ${outcome.step}: ${outcome.why}; ${m.from} keeps it`,
        });
      }
      return decision;
    } catch (error) {
      this.options.log.warn({ event: 'fleet-balance', error: errorMessage(error) }, `fleet balancer: ${errorMessage(error)}`);
      return null;
    } finally {
      this.deciding = false;
    }
  }
}

const round = (n: number): number => Number(n.toFixed(3));

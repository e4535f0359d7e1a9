// A gateway's membership in the fleet: `members/{id}` on a lease kept alive by
// LeaseKeeper, and its load report on the same lease. When the lease is lost
// (etcd expired it while we were cut off) everything on it is gone; the next
// lease puts it back, and its revision is the member's `joinRevision`: the
// gateway admits nothing until its ownership table has seen that revision, so
// any chain moved away while it was out is known before it admits again.
import { cmp, type EtcdClient, type LeaseId, type Revision } from './etcd.js';
import { LeaseKeeper, type LeaseSettings, type LeaseState } from './lease.js';
import { decodeLoad, decodeMember, encode, gatewayOfKey, isInvalid, type Capacity, type FleetKeys, type LoadReport, type MemberRecord } from './keys.js';
import { DEFAULT_MIRROR_OPTIONS, PrefixMirror, type MirrorOptions } from './mirror.js';

/** The live members (their keys vanish with their leases), watched. */
export function membersMirror(client: EtcdClient, keys: FleetKeys, options: MirrorOptions = DEFAULT_MIRROR_OPTIONS): PrefixMirror<MemberRecord> {
  return new PrefixMirror(client, keys.members, (key) => gatewayOfKey(keys.members, key), decodeMember, options);
}

/** The members' load reports, watched (the fleet balancer's input). */
export function loadsMirror(client: EtcdClient, keys: FleetKeys, options: MirrorOptions = DEFAULT_MIRROR_OPTIONS): PrefixMirror<LoadReport> {
  return new PrefixMirror(client, keys.loads, (key) => gatewayOfKey(keys.loads, key), decodeLoad, options);
}

export interface MemberSettings {
  id: string;
  /** The gateway's own URL (advertised to the fleet). */
  url: string;
  /** The store identity: a restart on the same store takes over its previous incarnation's key at once. */
  store: string;
  lease: LeaseSettings;
  /** The machine it runs on, published for the choice of standbys (docs/replicas.md part 2). */
  machine?: string;
}

export class MemberRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemberRefused';
  }
}

export class FleetMember {
  readonly id: string;
  private readonly client: EtcdClient;
  private readonly keys: FleetKeys;
  private readonly settings: MemberSettings;
  readonly keeper: LeaseKeeper;
  private capacity: Capacity = { entriesPerSec: 0, bytesPerSec: 0 };
  private readonly startedAt = Date.now();
  /** The revision at which the current lease's member key was written. */
  joinRevision: Revision = 0;
  private readonly onState: (state: LeaseState, cause: string) => void;
  private readonly joinListeners: ((revision: Revision) => void)[] = [];

  constructor(client: EtcdClient, keys: FleetKeys, settings: MemberSettings, onState: (state: LeaseState, cause: string) => void = () => undefined) {
    this.id = settings.id;
    this.client = client;
    this.keys = keys;
    this.settings = settings;
    this.onState = onState;
    this.keeper = new LeaseKeeper(client, settings.lease, {
      attach: (lease) => this.attach(lease),
      changed: (state, cause) => this.onState(state, cause),
    });
  }

  /** Called at every (re)join with its revision: the ownership table lists again to reach it (FleetNode wires this). */
  onJoin(listener: (revision: Revision) => void): void {
    this.joinListeners.push(listener);
  }

  private joined(revision: Revision): void {
    this.joinRevision = revision;
    for (const listener of this.joinListeners) listener(revision);
  }

  get url(): string {
    return this.settings.url;
  }

  get lease(): LeaseId | null {
    return this.keeper.lease;
  }

  isLive(now?: number): boolean {
    return this.keeper.isLive(now);
  }

  /** Joins (true) or keeps trying in the background (false: the cause went to onState). */
  start(capacity: Capacity): Promise<boolean> {
    this.capacity = capacity;
    return this.keeper.start();
  }

  /** Leaves the fleet: the lease is revoked, so the member key and load report go at once. */
  stop(): Promise<void> {
    return this.keeper.stop(true);
  }

  private record(): MemberRecord {
    const record: MemberRecord = { url: this.settings.url, capacity: this.capacity, startedAt: this.startedAt, store: this.settings.store };
    if (this.settings.machine !== undefined) record.machine = this.settings.machine;
    return record;
  }

  /**
   * Puts the member key on `lease` if no one holds it; if our own previous
   * incarnation (same store) still holds it, takes it over. Anyone else
   * holding the id is refused: two gateways must never share one.
   */
  private async attach(lease: LeaseId): Promise<void> {
    const key = this.keys.member(this.id);
    const value = encode(this.record());
    const created = await this.client.txn({
      compare: [cmp.version(key, '=', 0)],
      success: [{ put: { key, value, lease } }],
      failure: [{ range: { key } }],
    });
    if (created.succeeded) return this.joined(created.revision);
    const held = created.responses[0]?.kind === 'range' ? created.responses[0].range.kvs[0] : undefined;
    if (held === undefined) throw new MemberRefused(`gateway id "${this.id}": the member key changed while joining; trying again`);
    const previous = decodeMember(held.value);
    if (isInvalid(previous) || previous.store !== this.settings.store) {
      const who = isInvalid(previous) ? 'an unreadable record' : `the gateway at ${previous.url} (store ${previous.store})`;
      throw new MemberRefused(`gateway id "${this.id}" is held by ${who} until its lease expires; each gateway needs its own --gateway-id`);
    }
    const taken = await this.client.txn({
      compare: [cmp.mod(key, '=', held.modRevision)],
      success: [{ put: { key, value, lease } }],
      failure: [],
    });
    if (!taken.succeeded) throw new MemberRefused(`gateway id "${this.id}": the member key changed while taking it over; trying again`);
    this.joined(taken.revision);
    // The previous incarnation's lease holds nothing of ours any more, except perhaps its load report.
    if (held.lease !== '0' && held.lease !== lease) await this.client.revokeLease(held.lease).catch(() => undefined);
  }

  /** New capacity (a recalibration): the member record is written again, on the same lease. */
  async publishCapacity(capacity: Capacity): Promise<void> {
    this.capacity = capacity;
    const lease = this.keeper.lease;
    if (lease === null) return;
    await this.client.txn({
      compare: [cmp.lease(this.keys.member(this.id), '=', lease)],
      success: [{ put: { key: this.keys.member(this.id), value: encode(this.record()), lease } }],
      failure: [],
    });
  }

  /** The load report, on the member's lease (gone with it). Skipped while there is no lease. */
  async publishLoad(report: LoadReport): Promise<boolean> {
    const lease = this.keeper.lease;
    if (lease === null) return false;
    const result = await this.client.txn({
      compare: [cmp.lease(this.keys.member(this.id), '=', lease)],
      success: [{ put: { key: this.keys.load(this.id), value: encode(report), lease } }],
      failure: [],
    });
    return result.succeeded;
  }
}

// Naming standbys (docs/replicas.md part 2): `standby/{g}` = {standby, since,
// machine}, on the STANDBY's lease — it disappears with the standby, never
// with the owner, so a dead owner's standby keeps its claim to take over.
// Every gateway with replicas on mirrors `standby/`; one that stands by for
// fewer than `maxStandbyFor` owners claims owners that have none: live
// members in id order after its own id (a ring, so the choices spread), on
// another machine. The claim is the ownership code's create-if-absent
// sub-transaction under the outer condition "my member key is on my lease"
// (ClaimBatcher's), so a gateway whose lease is gone names itself nowhere. A
// member that joins later moves one pair at most: a full gateway whose
// ring-next owner has no standby claims it and gives up an owner that is not
// its ring-next (g2 and g3 standing by for each other when g1 joins would
// otherwise leave g1 without one for good). Only ever toward the ring, so it
// settles. The owner learns its standby from the same mirror.
import { cmp, type EtcdClient, type KeyValue, type LeaseId, type Revision } from './etcd.js';
import {
  GATEWAY_ID_RULE,
  MACHINE_RULE,
  encode,
  gatewayOfKey,
  isGatewayId,
  isInvalid,
  isMachineName,
  jsonObjectOf,
  type Decoded,
  type FleetKeys,
  type MemberRecord,
} from './keys.js';
import { DEFAULT_MIRROR_OPTIONS, PrefixMirror, type MirrorOptions } from './mirror.js';

/** `standby/{owner}`, on the standby's lease. */
export interface StandbyRecord {
  /** The gateway standing by. */
  standby: string;
  /** ms since the epoch when it claimed the owner. */
  since: number;
  /** The standby's machine (never the owner's). */
  machine: string;
}

export function decodeStandby(bytes: Buffer): Decoded<StandbyRecord> {
  const v = jsonObjectOf(bytes);
  if (typeof v === 'string') return { invalid: v };
  const { standby, since, machine } = v;
  if (typeof standby !== 'string' || !isGatewayId(standby)) return { invalid: `standby: ${GATEWAY_ID_RULE}` };
  if (typeof since !== 'number' || !Number.isFinite(since) || since < 0) return { invalid: 'since: ms since the epoch' };
  if (typeof machine !== 'string' || !isMachineName(machine)) return { invalid: `machine: ${MACHINE_RULE}` };
  return { standby, since, machine };
}

export type StandbyTable = PrefixMirror<StandbyRecord>;

export function standbyTable(client: EtcdClient, keys: FleetKeys, options: MirrorOptions = DEFAULT_MIRROR_OPTIONS): StandbyTable {
  return new PrefixMirror(client, keys.standbys, (key) => gatewayOfKey(keys.standbys, key), decodeStandby, options);
}

export interface StandbySettings {
  /** Owners this gateway stands by for, at most. */
  maxStandbyFor: number;
  /** This gateway's machine. */
  machine: string;
}

export type StandbyClaim =
  /** This gateway stands by for the owner now (or already did). */
  | { won: true }
  /** Someone else does, or the owner cannot be stood by for (gone, or on this machine): `why`. */
  | { won: false; why: string; standby: string | null }
  /** Nothing was claimed (no lease, etcd away). */
  | { won: null; cause: string };

/** How long to wait before trying again after a claim that could not be made (etcd away, lease lost). */
const RETRY_MS = 1_000;

/**
 * One gateway's side of naming standbys: it claims owners to stand by for
 * (at most `maxStandbyFor`) whenever the members or the standby table change,
 * and answers who stands by for whom from its mirror.
 */
export class StandbyNaming {
  private running = false;
  private again = false;
  private retry: NodeJS.Timeout | null = null;
  private stopped = true;
  private readonly changeListeners: (() => void)[] = [];

  constructor(
    private readonly client: EtcdClient,
    private readonly keys: FleetKeys,
    private readonly member: { readonly id: string; readonly lease: LeaseId | null },
    private readonly members: PrefixMirror<MemberRecord>,
    readonly table: StandbyTable,
    private readonly settings: StandbySettings,
  ) {
    const changed = (): void => {
      this.schedule();
      for (const listener of this.changeListeners) listener();
    };
    this.members.listen({ put: changed, delete: changed });
    this.table.listen({ put: changed, delete: changed });
  }

  /** Starts claiming (the mirrors are started by their owner). */
  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
  }

  /** Told whenever who stands by for whom may have changed (the owner's shipping stream follows it). */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  /** The standby named for `owner`, if any. */
  standbyOf(owner: string): StandbyRecord | null {
    return this.table.get(owner)?.value ?? null;
  }

  /** The owners this gateway stands by for, in id order. */
  standingBy(): string[] {
    return [...this.table.entries]
      .filter(([, e]) => e.value.standby === this.member.id)
      .map(([owner]) => owner)
      .sort();
  }

  /** Every owner → standby pair, in owner id order (the fleet view, `fleet status`). */
  pairs(): { owner: string; standby: string; since: number }[] {
    return [...this.table.entries]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([owner, { value }]) => ({ owner, standby: value.standby, since: value.since }));
  }

  /**
   * Owners this gateway could stand by for, in ring order after its own id:
   * live members on another machine (a member that does not say its machine
   * is never chosen) with no standby named.
   */
  candidates(): string[] {
    return this.ring().filter((id) => this.table.get(id) === undefined);
  }

  /** Live members on another machine (a member that does not say its machine is never chosen), in ring order after this gateway's id. */
  private ring(): string[] {
    const ids = [...this.members.entries.keys()].sort();
    const after = ids.filter((id) => id > this.member.id);
    const before = ids.filter((id) => id < this.member.id);
    return [...after, ...before].filter((id) => {
      const machine = this.members.get(id)?.value.machine;
      return machine !== undefined && machine !== this.settings.machine;
    });
  }

  /**
   * Claims `standby/{owner}` for this gateway: created only if absent, only
   * while `owner` is a live member, and only while this gateway's member key
   * is on its lease (the record goes on that lease).
   */
  async claim(owner: string): Promise<StandbyClaim> {
    const lease = this.member.lease;
    if (lease === null) return { won: null, cause: 'this gateway is not a live member of the fleet (no lease)' };
    const ownerMachine = this.members.get(owner)?.value.machine;
    if (owner === this.member.id || ownerMachine === this.settings.machine)
      return { won: false, why: `gateway "${owner}" is on this machine (${this.settings.machine})`, standby: null };
    const key = this.keys.standby(owner);
    const record: StandbyRecord = { standby: this.member.id, since: Date.now(), machine: this.settings.machine };
    const result = await this.client.txn({
      compare: [cmp.lease(this.keys.member(this.member.id), '=', lease)],
      success: [
        {
          txn: {
            compare: [cmp.version(key, '=', 0), cmp.version(this.keys.member(owner), '>', 0)],
            success: [{ put: { key, value: encode(record), lease } }],
            failure: [{ range: { key } }],
          },
        },
      ],
      failure: [],
    });
    if (!result.succeeded) return { won: null, cause: "this gateway's lease is no longer the one on its member key" };
    const sub = result.responses[0];
    if (sub?.kind !== 'txn') return { won: null, cause: 'etcd answered the standby claim in a shape it should not have' };
    if (sub.txn.succeeded) {
      this.table.applyLocal(owner, record, result.revision, result.revision, lease);
      return { won: true };
    }
    const held: KeyValue | undefined = sub.txn.responses[0]?.kind === 'range' ? sub.txn.responses[0].range.kvs[0] : undefined;
    if (held === undefined) return { won: false, why: `gateway "${owner}" is not a live member`, standby: null };
    const value = decodeStandby(held.value);
    if (isInvalid(value)) return { won: false, why: `standby/${owner} holds an unreadable record (${value.invalid})`, standby: null };
    this.table.applyLocal(owner, value, held.modRevision, held.createRevision, held.lease);
    return value.standby === this.member.id ? { won: true } : { won: false, why: `gateway "${value.standby}" stands by for it`, standby: value.standby };
  }

  /**
   * Full, while the ring-next owner has no standby: claim it, then give up an
   * owner that is not the ring-next (the one given up gets a standby with room
   * by the same rules). False when etcd could not be asked (retried).
   */
  private async moveToRingNext(): Promise<boolean> {
    const next = this.ring()[0];
    if (next === undefined || this.table.get(next) !== undefined) return true;
    // A dead owner is never given up: its standby is about to take its chains over.
    const others = this.standingBy().filter((owner) => owner !== next && this.members.get(owner) !== undefined);
    if (others.length < this.settings.maxStandbyFor) return true;
    const outcome = await this.claim(next);
    if (outcome.won !== true) return outcome.won === false;
    await this.release(others.at(-1)!);
    return true;
  }

  /** Gives up `standby/{owner}` if it is still this gateway's claim. */
  private async release(owner: string): Promise<void> {
    const held = this.table.get(owner);
    if (held === undefined || held.value.standby !== this.member.id) return;
    await releaseStandby(this.client, this.keys, owner, held.createRevision);
  }

  /** One fill at a time; a change meanwhile runs another after it. */
  private schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    setImmediate(() => void this.fill());
  }

  /** Claims candidates, in ring order, until this gateway stands by for maxStandbyFor owners or none is left. */
  private async fill(): Promise<void> {
    let failed = false;
    try {
      for (const owner of this.candidates()) {
        if (this.stopped || this.standingBy().length >= this.settings.maxStandbyFor) break;
        const outcome = await this.claim(owner).catch((error: unknown) => ({ won: null, cause: String(error) }) as StandbyClaim);
        if (outcome.won === null) {
          failed = true;
          break;
        }
      }
      if (!failed && !this.stopped) failed = !(await this.moveToRingNext().catch(() => false));
    } finally {
      this.running = false;
    }
    if (this.again) {
      this.again = false;
      this.schedule();
    } else if (failed && !this.stopped && this.retry === null) {
      this.retry = setTimeout(() => {
        this.retry = null;
        this.schedule();
      }, RETRY_MS);
      this.retry.unref();
    }
  }
}

/**
 * Deletes `standby/{owner}` if it is still the claim created at `standbyRevision`:
 * after a takeover (this gateway has room again), or when a standby moves to its ring-next owner.
 */
export async function releaseStandby(client: EtcdClient, keys: FleetKeys, owner: string, standbyRevision: Revision): Promise<void> {
  const key = keys.standby(owner);
  await client.txn({ compare: [cmp.create(key, '=', standbyRevision)], success: [{ delete: { key } }], failure: [] });
}

/**
 * An owner going on without its standby (`fleet.whenStandbyLost: "alone"`)
 * writes `replica/{g}` = {alone: true, since, from} before it sends any
 * `committed` its standby has not got: a standby must not take over from it
 * by itself (it would lose those entries silently). Conditioned on the
 * owner's lease: a fenced owner cannot go alone. Rejects when not written.
 */
export async function recordAlone(
  client: EtcdClient,
  keys: FleetKeys,
  member: { readonly id: string; readonly lease: LeaseId | null },
  from: number,
): Promise<void> {
  const lease = member.lease;
  if (lease === null) throw new Error('this gateway is not a live member of the fleet (no lease)');
  const result = await client.txn({
    compare: [cmp.lease(keys.member(member.id), '=', lease)],
    success: [{ put: { key: keys.replica(member.id), value: encode({ alone: true, since: Date.now(), from }) } }],
    failure: [],
  });
  if (!result.succeeded) throw new Error("this gateway's lease is no longer the one on its member key");
}

/** The standby holds everything again: `replica/{g}` goes. */
export async function clearAlone(client: EtcdClient, keys: FleetKeys, id: string): Promise<void> {
  await client.delete(keys.replica(id));
}

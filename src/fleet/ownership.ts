// Who owns each chain: `chains/{name}` → {gateway, since}, its mod revision
// the fencing token. The table is a PrefixMirror (a watch keeps it current);
// the gate answers the front door's per-frame question from it and from the
// member's clock, with no etcd call. New chains are claimed in batches (one
// transaction of many create-if-absent sub-transactions); a chain changes
// owner only by a transaction conditioned on its token.
import { performance } from 'node:perf_hooks';
import { cmp, type EtcdClient, type KeyValue, type Revision, type Txn } from './etcd.js';
import { chainOfKey, decodeOwner, encode, isInvalid, type FleetKeys, type MemberRecord, type OwnerRecord } from './keys.js';
import { DEFAULT_MIRROR_OPTIONS, PrefixMirror, type MirrorOptions } from './mirror.js';

export type OwnershipTable = PrefixMirror<OwnerRecord>;

export function ownershipTable(client: EtcdClient, keys: FleetKeys, options: MirrorOptions = DEFAULT_MIRROR_OPTIONS): OwnershipTable {
  return new PrefixMirror(client, keys.chains, (key) => chainOfKey(keys, key), decodeOwner, options);
}

/** What the gate needs of the member: its id, its clock, and the revision it (re)joined at. */
export interface GateMember {
  readonly id: string;
  readonly joinRevision: Revision;
  isLive(now?: number): boolean;
}

/** Owners' URLs, for `moved`. */
export interface MemberDirectory {
  get(id: string): { value: MemberRecord } | undefined;
}

export type Verdict =
  /** Owned here, live, and seen at or after the join: admit. */
  | { kind: 'admit'; token: Revision }
  /** No one owns it yet: the first frame claims it (ClaimBatcher) before it is admitted. */
  | { kind: 'unclaimed' }
  /** Another gateway owns it; `location` is its URL, or null when it is not a live member (then the answer is `busy`). */
  | { kind: 'moved'; owner: string; location: string | null; message: string }
  /** This gateway cannot admit now (its lease, or its table behind its join): `busy`. */
  | { kind: 'busy'; message: string };

/**
 * The admission rule (DESIGN.md "Fleet", Rules): a chain is admitted only
 * while `chains/{name}` names this gateway at a revision the table has seen,
 * and the member's lease is live by its own clock, and the table has caught
 * up with the member's (re)join. Everything is local: no etcd call.
 */
export class FleetGate {
  /** The admit verdict of each table entry that names this gateway (entries are replaced on change, so a stale one is never found). */
  private readonly admitted = new WeakMap<object, Verdict>();
  /** Chains whose admission is stopped for a handoff, with the gateway they go to (Handoffs keeps this). */
  private readonly stopped = new Map<string, string>();

  constructor(
    private readonly member: GateMember,
    private readonly table: OwnershipTable,
    private readonly members: MemberDirectory,
  ) {}

  /** The per-frame question: a clock read, one Map lookup, and on the admit path no allocation. */
  check(name: string, now = performance.now()): Verdict {
    if (!this.member.isLive(now))
      return {
        kind: 'busy',
        message: `this gateway is cut off from etcd (its lease is not live by its own clock): it admits nothing until it is back; reads go on`,
      };
    if (this.table.revision < this.member.joinRevision) {
      return {
        kind: 'busy',
        message: `this gateway rejoined the fleet and is catching up with ownership (revision ${this.table.revision} of ${this.member.joinRevision}); retry in a moment`,
      };
    }
    const entry = this.table.entries.get(name);
    if (entry === undefined) return { kind: 'unclaimed' };
    if (this.stopped.size > 0 && this.stopped.has(name)) return this.movedTo(name, this.stopped.get(name)!);
    if (entry.value.gateway !== this.member.id) return this.movedTo(name, entry.value.gateway);
    let verdict = this.admitted.get(entry);
    if (verdict === undefined) {
      verdict = { kind: 'admit', token: entry.modRevision };
      this.admitted.set(entry, verdict);
    }
    return verdict;
  }

  /**
   * For reads: another gateway serves `name` by the table (a chain being
   * handed off from here is still read here, and a gateway cut off from etcd
   * keeps serving what it holds). Null: serve it here.
   */
  servedElsewhere(name: string): Extract<Verdict, { kind: 'moved' }> | null {
    const entry = this.table.entries.get(name);
    if (entry === undefined || entry.value.gateway === this.member.id) return null;
    return this.movedTo(name, entry.value.gateway);
  }

  private movedTo(name: string, owner: string): Extract<Verdict, { kind: 'moved' }> {
    const record = this.members.get(owner)?.value;
    if (record === undefined) {
      return {
        kind: 'moved',
        owner,
        location: null,
        message: `chain "${name}" is served by gateway "${owner}", which is not a live member of the fleet now (down, or cut off from etcd); retry later`,
      };
    }
    return { kind: 'moved', owner, location: record.url, message: `chain "${name}" is served by gateway "${owner}" at ${record.url}` };
  }

  /** Stops admitting `name`: it is being handed off to `to` (frames get `moved` naming it). */
  stop(name: string, to: string): void {
    this.stopped.set(name, to);
  }

  resume(name: string): void {
    this.stopped.delete(name);
  }
}

export type ClaimOutcome =
  /** This gateway owns it now (or already did), from `token`. */
  | { won: true; token: Revision }
  /** Someone else had it (or took it first). */
  | { won: false; owner: string; token: Revision }
  /** The claim could not be made (not a live member, etcd away): nothing was claimed; the cause says why. */
  | { won: null; cause: string };

export interface ClaimSettings {
  /** Names per transaction (etcd refuses more than --max-txn-ops, 128 by default, sub-operations). */
  batch: number;
  /** Names waiting for a transaction, at most; past it a claim is refused at once (the caller answers `busy`). */
  maxQueued: number;
}

export const DEFAULT_CLAIM_SETTINGS: ClaimSettings = { batch: 100, maxQueued: 10_000 };

interface Waiting {
  resolve(outcome: ClaimOutcome): void;
}

/**
 * Claims for new chains, batched: every name asked for while a transaction is
 * in flight rides in the next one, so a burst of new chains costs one round
 * trip (per `batch` names). Each name is its own create-if-absent
 * sub-transaction, all under one condition: the member key is still on this
 * gateway's lease, so a gateway whose lease is gone claims nothing.
 */
export class ClaimBatcher {
  private readonly queue = new Map<string, Waiting[]>();
  private inFlight = 0;
  private scheduled = false;
  /** Transactions sent, for the bench ("a burst costs one round trip"). */
  transactions = 0;

  constructor(
    private readonly client: EtcdClient,
    private readonly keys: FleetKeys,
    private readonly member: { readonly id: string; readonly lease: string | null },
    private readonly table: OwnershipTable,
    private readonly settings: ClaimSettings = DEFAULT_CLAIM_SETTINGS,
  ) {}

  claim(name: string): Promise<ClaimOutcome> {
    const waiting = this.queue.get(name);
    if (waiting === undefined && this.queue.size >= this.settings.maxQueued) {
      return Promise.resolve({ won: null, cause: `${this.settings.maxQueued} chains are waiting to be claimed already` });
    }
    return new Promise((resolve) => {
      if (waiting !== undefined) waiting.push({ resolve });
      else this.queue.set(name, [{ resolve }]);
      this.schedule();
    });
  }

  /** One transaction at a time: what arrives meanwhile waits for the next. */
  private schedule(): void {
    if (this.scheduled || this.inFlight > 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.queue.size === 0) return;
    const names = [...this.queue.keys()].slice(0, this.settings.batch);
    const waiters = names.map((n) => this.queue.get(n)!);
    for (const n of names) this.queue.delete(n);
    this.inFlight++;
    let outcomes: ClaimOutcome[];
    try {
      outcomes = await this.send(names);
    } catch (error) {
      const cause = `etcd did not confirm the claim: ${error instanceof Error ? error.message : String(error)}`;
      outcomes = names.map(() => ({ won: null, cause }));
    }
    this.inFlight--;
    names.forEach((_, i) => {
      for (const w of waiters[i]!) w.resolve(outcomes[i]!);
    });
    this.schedule();
  }

  private async send(names: string[]): Promise<ClaimOutcome[]> {
    const lease = this.member.lease;
    if (lease === null) return names.map(() => ({ won: null, cause: 'this gateway is not a live member of the fleet (no lease)' }));
    const since = Date.now();
    const value = encode({ gateway: this.member.id, since } satisfies OwnerRecord);
    const txn: Txn = {
      compare: [cmp.lease(this.keys.member(this.member.id), '=', lease)],
      success: names.map((name) => {
        const key = this.keys.chain(name);
        return { txn: { compare: [cmp.version(key, '=', 0)], success: [{ put: { key, value } }], failure: [{ range: { key } }] } };
      }),
      failure: [],
    };
    this.transactions++;
    const result = await this.client.txn(txn);
    if (!result.succeeded) return names.map(() => ({ won: null, cause: "this gateway's lease is no longer the one on its member key" }));
    return names.map((name, i) => {
      const sub = result.responses[i];
      if (sub?.kind !== 'txn') return { won: null, cause: 'etcd answered the claim in a shape it should not have' };
      if (sub.txn.succeeded) {
        this.table.applyLocal(name, { gateway: this.member.id, since }, result.revision, result.revision);
        return { won: true, token: result.revision };
      }
      return this.held(name, sub.txn.responses[0]?.kind === 'range' ? sub.txn.responses[0].range.kvs[0] : undefined);
    });
  }

  /** The claim found the chain owned: by us (a retried claim) or by someone else. */
  private held(name: string, kv: KeyValue | undefined): ClaimOutcome {
    if (kv === undefined) return { won: null, cause: `chain "${name}" changed while being claimed; retry` };
    const owner = decodeOwner(kv.value);
    if (isInvalid(owner)) return { won: null, cause: `chain "${name}" has an unreadable owner record in etcd (${owner.invalid})` };
    this.table.applyLocal(name, owner, kv.modRevision, kv.createRevision);
    return owner.gateway === this.member.id ? { won: true, token: kv.modRevision } : { won: false, owner: owner.gateway, token: kv.modRevision };
  }
}

export type TransferOutcome = { moved: true; token: Revision } | { moved: false; why: string; owner: string | null; token: Revision };

/**
 * The handoff's commit point: `chains/{name}` goes from `from` to `to` only if
 * its token is still `token` and `to` is a member. With `force` (the owner is
 * gone), also only if `from` has no member key: then its lease has expired in
 * etcd, and it fenced itself before that by its own clock.
 */
export async function transferChain(
  client: EtcdClient,
  keys: FleetKeys,
  name: string,
  change: { from: string; to: string; token: Revision; force?: boolean },
): Promise<TransferOutcome> {
  const key = keys.chain(name);
  const compare = [cmp.mod(key, '=', change.token), cmp.version(keys.member(change.to), '>', 0)];
  if (change.force === true) compare.push(cmp.version(keys.member(change.from), '=', 0));
  const result = await client.txn({
    compare,
    success: [{ put: { key, value: encode({ gateway: change.to, since: Date.now() } satisfies OwnerRecord) } }],
    failure: [{ range: { key } }, { range: { key: keys.member(change.to) } }, { range: { key: keys.member(change.from) } }],
  });
  if (result.succeeded) return { moved: true, token: result.revision };
  const [chain, target, source] = result.responses.map((r) => (r.kind === 'range' ? r.range.kvs[0] : undefined));
  const held = chain === undefined ? null : decodeOwner(chain.value);
  const owner = held === null || isInvalid(held) ? null : held.gateway;
  let why: string;
  if (chain === undefined) why = `chain "${name}" has no owner in etcd`;
  else if (chain.modRevision !== change.token)
    why = `chain "${name}" changed since token ${change.token} (now ${chain.modRevision}, owner ${owner ?? 'unreadable'})`;
  else if (target === undefined) why = `gateway "${change.to}" is not a live member`;
  else if (change.force === true && source !== undefined) why = `gateway "${change.from}" is still a live member: move it by handoff, not by force`;
  else why = 'the condition failed';
  return { moved: false, why, owner, token: chain?.modRevision ?? 0 };
}

/**
 * An owner ending a handoff that did not commit: it writes its own record
 * again, conditioned on the token it handed over. If that succeeds the token
 * has changed, so the coordinator's transfer (conditioned on the old token)
 * can no longer succeed: the owner may admit again. If it fails, the transfer
 * won (or something else changed): the owner must not admit. (`token` pins
 * one version of the key, the one that named `me`: no value check is needed.)
 */
export async function reclaimChain(client: EtcdClient, keys: FleetKeys, name: string, me: string, token: Revision): Promise<TransferOutcome> {
  const key = keys.chain(name);
  const result = await client.txn({
    compare: [cmp.mod(key, '=', token)],
    success: [{ put: { key, value: encode({ gateway: me, since: Date.now() } satisfies OwnerRecord) } }],
    failure: [{ range: { key } }],
  });
  if (result.succeeded) return { moved: true, token: result.revision };
  const chain = result.responses[0]?.kind === 'range' ? result.responses[0].range.kvs[0] : undefined;
  const held = chain === undefined ? null : decodeOwner(chain.value);
  const owner = held === null || isInvalid(held) ? null : held.gateway;
  return { moved: false, why: `chain "${name}" changed since token ${token} (owner now ${owner ?? 'none'})`, owner, token: chain?.modRevision ?? 0 };
}

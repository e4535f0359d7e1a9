// Handoff (DESIGN.md "Fleet": a chain moves between gateways), both sides.
//
// The owner's side (`Handoffs`): `begin` stops admission of the chain (the
// gate answers `moved` naming the target) and remembers the token it handed
// over; the transaction on that token is the commit point. When the table
// shows the chain owned by someone else, the handoff is over. When it does
// not commit in time (or the coordinator asks), the owner reclaims: a
// conditional write on the same token, so either the transfer or the reclaim
// wins in etcd, never both. Until etcd has said which, the chain stays
// stopped: an owner cut off from etcd in mid-handoff admits nothing.
//
// The coordinator's side (`moveChain`, used by `chainlanes fleet move` and the
// fleet balancer): handoff on the owner, adopt on the target, the transfer,
// and on any failure an abort on the owner. A failed step leaves the old
// owner as the only owner.
import { type EtcdClient, type Revision } from './etcd.js';
import { decodeMember, decodeOwner, isInvalid, type FleetKeys } from './keys.js';
import { reclaimChain, transferChain, type FleetGate, type OwnershipTable } from './ownership.js';
import { errorMessage } from '../log/index.js';
import type { ChainBookRecords } from '../credits/index.js';

/** What the owner answers to `POST /v1/chains/{name}/handoff`: everything the new owner needs to go on. */
export interface HandoffHead {
  chain: string;
  from: string;
  to: string;
  /** The fencing token handed over: the transfer is conditioned on it. */
  token: Revision;
  nextSeq: number;
  nextHeight: number;
  /** Hex of the last entry block's hash (64 zeros before the first block). */
  lastBlockHash: string;
  /** The chain's credit book: its owner, policies, balances and the accounts they name (authenticated mode; null in open mode). */
  credits: ChainBookRecords | null;
}

export interface HandoffSettings {
  /** A handoff not committed by then is aborted by the owner itself. */
  deadlineMs: number;
  /** Between reclaim attempts while etcd cannot be reached. */
  retryMs: number;
}

export const DEFAULT_HANDOFF_SETTINGS: HandoffSettings = { deadlineMs: 60_000, retryMs: 1_000 };

export type HandoffEnd = 'handed-off' | 'resumed';

interface Active {
  to: string;
  token: Revision;
  timer: NodeJS.Timeout;
  aborting: boolean;
}

export class Handoffs {
  private readonly active = new Map<string, Active>();

  constructor(
    private readonly client: EtcdClient,
    private readonly keys: FleetKeys,
    private readonly me: string,
    private readonly table: OwnershipTable,
    private readonly gate: FleetGate,
    private readonly settings: HandoffSettings = DEFAULT_HANDOFF_SETTINGS,
    /** Told when a handoff ends: the chain went to its new owner, or came back to this one. */
    private readonly ended: (chain: string, end: HandoffEnd, detail: string) => void = () => undefined,
  ) {
    table.listen({
      put: (name, entry) => {
        const active = this.active.get(name);
        if (active !== undefined && entry.modRevision > active.token && entry.value.gateway !== this.me)
          this.finish(name, 'handed-off', `now owned by ${entry.value.gateway} at token ${entry.modRevision}`);
      },
      delete: (name) => {
        if (this.active.has(name)) this.finish(name, 'handed-off', 'its owner record was deleted');
      },
    });
  }

  isHandingOff(name: string): boolean {
    return this.active.has(name);
  }

  /**
   * Stops admission of `name` for a handoff to `to` and returns the token handed
   * over. Refused (with why) unless the gate admits the chain right now, or the
   * chain is this gateway's and only its lease (cut off from etcd) keeps it from admitting.
   */
  begin(name: string, to: string): Revision | string {
    if (to === this.me) return `chain "${name}" cannot be handed off to the gateway that owns it`;
    if (this.active.has(name)) return `chain "${name}" is being handed off to ${this.active.get(name)!.to} already`;
    const verdict = this.gate.check(name);
    // An owner cut off from etcd admits nothing, yet hands its chain off (a forced move: the transfer then
    // also needs its member key gone). The token is the table's: a stale one only makes the transfer fail.
    const entry = this.table.get(name);
    const fenced = verdict.kind === 'busy' && entry?.value.gateway === this.me;
    if (verdict.kind !== 'admit' && !fenced)
      return `chain "${name}" is not admitted here now (${verdict.kind === 'unclaimed' ? 'no owner yet' : verdict.message})`;
    const token = verdict.kind === 'admit' ? verdict.token : entry!.modRevision;
    const timer = setTimeout(() => void this.abort(name, `not committed within ${this.settings.deadlineMs} ms`), this.settings.deadlineMs);
    timer.unref();
    this.active.set(name, { to, token, timer, aborting: false });
    this.gate.stop(name, to);
    return token;
  }

  /**
   * Ends a handoff that did not commit: reclaims the chain on its token.
   * Resolves with how it ended; while etcd cannot say, it keeps trying and the
   * chain stays stopped.
   */
  async abort(name: string, why: string): Promise<HandoffEnd | 'not-handing-off'> {
    const active = this.active.get(name);
    if (active === undefined) return 'not-handing-off';
    if (active.aborting) return new Promise((resolve) => this.whenEnded(name, resolve));
    active.aborting = true;
    clearTimeout(active.timer);
    for (;;) {
      if (!this.active.has(name)) return 'handed-off';
      try {
        const outcome = await reclaimChain(this.client, this.keys, name, this.me, active.token);
        if (outcome.moved) {
          this.table.applyLocal(name, { gateway: this.me, since: Date.now() }, outcome.token, this.table.get(name)?.createRevision ?? outcome.token);
          this.finish(name, 'resumed', `handoff aborted (${why}); reclaimed at token ${outcome.token}`);
          return 'resumed';
        }
        // The transfer won (or someone else changed the chain): never admit it again here. The chain
        // stays stopped until the table holds the new record: resuming the gate on the old one would admit.
        const ended = new Promise<HandoffEnd>((resolve) => this.whenEnded(name, resolve));
        if (outcome.owner !== null && outcome.owner !== this.me) {
          this.table.applyLocal(name, { gateway: outcome.owner, since: Date.now() }, outcome.token, this.table.get(name)?.createRevision ?? outcome.token);
        }
        return ended;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, this.settings.retryMs).unref());
      }
    }
  }

  private readonly waiters = new Map<string, ((end: HandoffEnd) => void)[]>();

  private whenEnded(name: string, resolve: (end: HandoffEnd) => void): void {
    const list = this.waiters.get(name) ?? [];
    list.push(resolve);
    this.waiters.set(name, list);
  }

  private finish(name: string, end: HandoffEnd, detail: string): void {
    const active = this.active.get(name);
    if (active === undefined) return;
    clearTimeout(active.timer);
    this.active.delete(name);
    this.gate.resume(name);
    this.ended(name, end, detail);
    for (const resolve of this.waiters.get(name) ?? []) resolve(end);
    this.waiters.delete(name);
  }

  stop(): void {
    for (const active of this.active.values()) clearTimeout(active.timer);
  }
}

/** The gateways' handoff routes, as the coordinator calls them. */
export interface GatewayApi {
  /**
   * The pre-copy: the target pulls what the owner has sealed while the owner
   * still admits, so the handoff's pause copies only the tail. Optional.
   */
  prepare?(url: string, chain: string, from: string, fromUrl: string): Promise<void>;
  handoff(url: string, chain: string, to: string): Promise<HandoffHead>;
  adopt(url: string, chain: string, from: string, head: HandoffHead, fromUrl: string): Promise<void>;
  abort(url: string, chain: string): Promise<void>;
}

/** The routes over HTTP with the admin key (docs/fleet.md "Integration": the routes the front door gains). */
export class HttpGatewayApi implements GatewayApi {
  constructor(
    private readonly adminKey: string | null,
    private readonly timeoutMs: number,
  ) {}

  private async post(url: string, path: string, body: unknown): Promise<unknown> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.adminKey !== null) headers.authorization = `Bearer ${this.adminKey}`;
    const response = await fetch(new URL(path, url), { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text) as unknown;
    } catch {
      // Named below with the status.
    }
    if (!response.ok) {
      const message = (parsed as { error?: { message?: string } } | null)?.error?.message ?? text.slice(0, 200);
      throw new Error(`${new URL(path, url).href}: HTTP ${response.status}: ${message}`);
    }
    return parsed;
  }

  async handoff(url: string, chain: string, to: string): Promise<HandoffHead> {
    return (await this.post(url, `/v1/chains/${chain}/handoff`, { to })) as HandoffHead;
  }

  async prepare(url: string, chain: string, from: string, fromUrl: string): Promise<void> {
    await this.post(url, `/v1/chains/${chain}/adopt`, { from, fromUrl, prepare: true });
  }

  async adopt(url: string, chain: string, from: string, head: HandoffHead, fromUrl: string): Promise<void> {
    await this.post(url, `/v1/chains/${chain}/adopt`, { from, fromUrl, head });
  }

  async abort(url: string, chain: string): Promise<void> {
    await this.post(url, `/v1/chains/${chain}/handoff/abort`, {});
  }
}

export type MoveOutcome =
  | { moved: true; chain: string; from: string; to: string; token: Revision; ms: { prepare: number; handoff: number; adopt: number; commit: number } }
  | { moved: false; chain: string; from: string | null; to: string; step: 'lookup' | 'prepare' | 'handoff' | 'adopt' | 'commit'; why: string };

export interface MoveOptions {
  /**
   * The owner is no longer a member (its lease expired: cut off from etcd),
   * so the transfer is also conditioned on its member key being absent. Its
   * handoff route still serves the head, since a fenced gateway keeps serving
   * reads; its URL (gone from etcd with its member key) is `fromUrl`.
   */
  force?: boolean;
  fromUrl?: string;
}

/** Moves `chain` to gateway `to` by handoff. */
export async function moveChain(
  client: EtcdClient,
  keys: FleetKeys,
  api: GatewayApi,
  chain: string,
  to: string,
  options: MoveOptions = {},
): Promise<MoveOutcome> {
  const force = options.force === true;
  const fail = (step: Extract<MoveOutcome, { moved: false }>['step'], from: string | null, why: string): MoveOutcome => ({
    moved: false,
    chain,
    from,
    to,
    step,
    why,
  });
  const [owned, target] = await Promise.all([client.range(keys.chain(chain)), client.range(keys.member(to))]);
  const ownerKv = owned.kvs[0];
  if (ownerKv === undefined) return fail('lookup', null, `chain "${chain}" has no owner in etcd`);
  const owner = decodeOwner(ownerKv.value);
  if (isInvalid(owner)) return fail('lookup', null, `chain "${chain}" has an unreadable owner record (${owner.invalid})`);
  const from = owner.gateway;
  if (from === to) return fail('lookup', from, `chain "${chain}" is owned by ${to} already`);
  const targetRecord = target.kvs[0] === undefined ? null : decodeMember(target.kvs[0].value);
  if (targetRecord === null || isInvalid(targetRecord)) return fail('lookup', from, `gateway "${to}" is not a live member`);
  const fromKv = (await client.range(keys.member(from))).kvs[0];
  const fromRecord = fromKv === undefined ? null : decodeMember(fromKv.value);
  if (fromRecord === null || isInvalid(fromRecord)) {
    if (!force)
      return fail(
        'lookup',
        from,
        `the owner "${from}" is not a live member: its chains wait for it (no replicas yet); --force moves a chain whose owner is cut off from etcd but still serves reads`,
      );
  } else if (force) {
    // Asked before the handoff, not only by the transfer: a forced handoff that cannot commit would leave the owner stopped until it reaches etcd again.
    return fail('lookup', from, `gateway "${from}" is still a live member: move it by handoff, not by force (a cut-off owner's lease expires within its TTL)`);
  }
  const fromUrl = options.fromUrl ?? (fromRecord !== null && !isInvalid(fromRecord) ? fromRecord.url : null);
  if (fromUrl === null) return fail('lookup', from, `the owner "${from}" is not in etcd any more: give its URL to fetch the chain's head from (--from-url)`);
  let started = performance.now();
  if (api.prepare !== undefined) {
    try {
      await api.prepare(targetRecord.url, chain, from, fromUrl);
    } catch (error) {
      return fail('prepare', from, errorMessage(error));
    }
  }
  const prepareMs = performance.now() - started;
  started = performance.now();
  let head: HandoffHead;
  try {
    head = await api.handoff(fromUrl, chain, to);
  } catch (error) {
    return fail('handoff', from, errorMessage(error));
  }
  const handoffMs = performance.now() - started;
  const abort = async (step: 'adopt' | 'commit', why: string): Promise<MoveOutcome> => {
    await api.abort(fromUrl, chain).catch(() => undefined); // the owner's deadline aborts by itself if this does not arrive
    return fail(step, from, why);
  };
  if (head.token !== ownerKv.modRevision) return abort('adopt', `the owner handed over token ${head.token}, but etcd holds ${ownerKv.modRevision}`);
  started = performance.now();
  try {
    await api.adopt(targetRecord.url, chain, from, head, fromUrl);
  } catch (error) {
    return abort('adopt', errorMessage(error));
  }
  const adoptMs = performance.now() - started;
  started = performance.now();
  let outcome;
  try {
    outcome = await transferChain(client, keys, chain, { from, to, token: head.token, force });
  } catch (error) {
    // The outcome is unknown (a timeout): the owner's abort reclaims only if the transfer did not happen.
    return abort('commit', `etcd did not confirm the transfer: ${errorMessage(error)}`);
  }
  if (!outcome.moved) return abort('commit', outcome.why);
  return {
    moved: true,
    chain,
    from,
    to,
    token: outcome.token,
    ms: { prepare: prepareMs, handoff: handoffMs, adopt: adoptMs, commit: performance.now() - started },
  };
}

// The fleet's etcd keys and their values (DESIGN.md "Fleet", docs/fleet.md
// "Keys"): one place that names every key and checks every value read back.
// What etcd holds was written by fleet members, but a damaged or foreign value
// must be skipped and reported, never crash a gateway or be trusted in part.
import { isChainName } from '../protocol/index.js';

export const DEFAULT_PREFIX = '/chainlanes/';
export const PREFIX_RULE = 'an etcd key prefix: starts and ends with "/", at most 64 characters of A-Z a-z 0-9 . _ - /';
const PREFIX = /^\/[A-Za-z0-9._/-]{0,62}\/$|^\/$/;

export function isPrefix(text: string): boolean {
  return PREFIX.test(text);
}

/** Gateway ids name HAProxy backends (`be_{id}`) and etcd keys, so they are kept to what both accept. */
export const GATEWAY_ID_RULE = '1 to 63 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit (a gateway id)';
const GATEWAY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isGatewayId(text: string): boolean {
  return GATEWAY_ID.test(text);
}

/** Machine names (the host name by default) say which gateways share a machine: a standby never does with its owner. */
export const MACHINE_RULE = '1 to 253 characters of A-Z a-z 0-9 . _ - (a machine name, e.g. the host name)';
const MACHINE = /^[A-Za-z0-9._-]{1,253}$/;

export function isMachineName(text: string): boolean {
  return MACHINE.test(text);
}

/** Where each kind of record lives under the prefix. */
export class FleetKeys {
  constructor(readonly prefix: string = DEFAULT_PREFIX) {
    if (!isPrefix(prefix)) throw new Error(`fleet prefix ${JSON.stringify(prefix)}: ${PREFIX_RULE}`);
  }

  get members(): string {
    return `${this.prefix}members/`;
  }
  get loads(): string {
    return `${this.prefix}load/`;
  }
  get chains(): string {
    return `${this.prefix}chains/`;
  }
  get accounts(): string {
    return `${this.prefix}accounts/`;
  }
  get keys(): string {
    return `${this.prefix}keys/`;
  }
  get events(): string {
    return `${this.prefix}events/`;
  }
  get standbys(): string {
    return `${this.prefix}standby/`;
  }
  get leader(): string {
    return `${this.prefix}balancer/leader`;
  }

  member(id: string): string {
    return this.members + id;
  }
  load(id: string): string {
    return this.loads + id;
  }
  chain(name: string): string {
    return this.chains + name;
  }
  account(id: string): string {
    return this.accounts + id;
  }
  key(keyId: string): string {
    return this.keys + keyId;
  }
  standby(id: string): string {
    return this.standbys + id;
  }
  /** `replica/{g}`: g went on without its standby (docs/replicas.md part 4): a standby must not take over from it on its own. */
  replica(id: string): string {
    return `${this.prefix}replica/${id}`;
  }
  /** `takeover/{g}`: g's standby took g's chains over after g's lease expired (docs/replicas.md part 5): who, from which seal, when. */
  takeover(id: string): string {
    return `${this.prefix}takeover/${id}`;
  }
  /** Event keys sort by time, then by who wrote them and their count there. */
  event(at: number, source: string, n: number): string {
    return `${this.events}${String(at).padStart(15, '0')}-${source}-${String(n).padStart(9, '0')}`;
  }
}

export interface Capacity {
  entriesPerSec: number;
  bytesPerSec: number;
}

/** `members/{gatewayId}`, on the member's lease. */
export interface MemberRecord {
  /** Where clients and other gateways reach it (its own address, not the proxy's). */
  url: string;
  /** What the gateway's lanes carry together, from its lane calibration. */
  capacity: Capacity;
  startedAt: number;
  /** The gateway's store identity: a restart on the same store replaces its previous incarnation at once. */
  store: string;
  /** The machine it runs on (`fleet.machine`); absent from records of gateways before issue #22 (never chosen as a standby). */
  machine?: string;
}

/** A chain as the load report lists it. */
export interface ChainDemand {
  name: string;
  entriesPerSec: number;
  bytesPerSec: number;
}

/** `load/{gatewayId}`, on the member's lease: its placed demand and its busiest chains, refreshed every few seconds. */
export interface LoadReport {
  at: number;
  demand: Capacity;
  /** Chains the gateway owns. */
  chains: number;
  /** The busiest ones, heaviest first (at most LOAD_REPORT_CHAINS): the only ones the fleet balancer can move. */
  top: ChainDemand[];
}

/** How many chains a load report lists: a move relieves an overloaded gateway only with one of its heaviest. */
export const LOAD_REPORT_CHAINS = 32;

/** `chains/{name}`; its mod revision is the fencing token. */
export interface OwnerRecord {
  gateway: string;
  /** ms since the epoch when this gateway became the owner. */
  since: number;
}

/** `balancer/leader`, on the leader's lease. */
export interface LeaderRecord {
  id: string;
  since: number;
}

/** `events/{at}-{source}-{n}`: a fleet decision, kept in a bounded log for `fleet events`. */
export interface FleetEvent {
  at: number;
  /** Who decided: the `fleet run` instance or `fleet move`. */
  source: string;
  kind: 'move' | 'move-failed' | 'overloaded' | 'leader' | 'member-joined' | 'member-left' | 'manual-move';
  reason: string;
  chain?: string;
  from?: string;
  to?: string;
  numbers: Record<string, number | string>;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const object = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The JSON object `bytes` hold, or why they hold none ("not JSON", "not a JSON object"). */
export function jsonObjectOf(bytes: Buffer): Record<string, unknown> | string {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  return object(v) ? v : 'not a JSON object';
}

function isCapacity(v: unknown): v is Capacity {
  return object(v) && finite(v.entriesPerSec) && finite(v.bytesPerSec);
}

function isHttpUrl(text: unknown): text is string {
  if (typeof text !== 'string' || text.length > 2048) return false;
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}

export const URL_RULE = 'an http:// or https:// URL with no path, query or fragment (e.g. "http://10.0.0.5:9001")';
export const isAdvertiseUrl = isHttpUrl;

/** Each decoder returns the record, or a sentence saying why the bytes are not one. */
export type Decoded<T> = T | { invalid: string };

export function isInvalid<T>(value: Decoded<T>): value is { invalid: string } {
  return object(value) && typeof (value as { invalid?: unknown }).invalid === 'string';
}

export function decodeMember(bytes: Buffer): Decoded<MemberRecord> {
  const v = jsonObjectOf(bytes);
  if (typeof v === 'string') return { invalid: v };
  if (!isHttpUrl(v.url)) return { invalid: `url: ${URL_RULE}` };
  if (!isCapacity(v.capacity)) return { invalid: 'capacity: {entriesPerSec, bytesPerSec} as non-negative numbers' };
  if (!finite(v.startedAt)) return { invalid: 'startedAt: ms since the epoch' };
  if (typeof v.store !== 'string' || v.store.length > 128) return { invalid: 'store: the store identity (string)' };
  if (v.machine !== undefined && (typeof v.machine !== 'string' || !isMachineName(v.machine))) return { invalid: `machine: ${MACHINE_RULE}` };
  const record: MemberRecord = {
    url: v.url,
    capacity: { entriesPerSec: v.capacity.entriesPerSec, bytesPerSec: v.capacity.bytesPerSec },
    startedAt: v.startedAt,
    store: v.store,
  };
  if (typeof v.machine === 'string') record.machine = v.machine;
  return record;
}

export function decodeOwner(bytes: Buffer): Decoded<OwnerRecord> {
  const v = jsonObjectOf(bytes);
  if (typeof v === 'string') return { invalid: v };
  if (typeof v.gateway !== 'string' || !isGatewayId(v.gateway)) return { invalid: `gateway: ${GATEWAY_ID_RULE}` };
  if (!finite(v.since)) return { invalid: 'since: ms since the epoch' };
  return { gateway: v.gateway, since: v.since };
}

export function decodeLoad(bytes: Buffer): Decoded<LoadReport> {
  const v = jsonObjectOf(bytes);
  if (typeof v === 'string') return { invalid: v };
  if (!finite(v.at) || !isCapacity(v.demand) || !finite(v.chains)) return { invalid: 'at, demand {entriesPerSec, bytesPerSec} and chains' };
  if (!Array.isArray(v.top) || v.top.length > LOAD_REPORT_CHAINS) return { invalid: `top: at most ${LOAD_REPORT_CHAINS} chains` };
  const top: ChainDemand[] = [];
  for (const c of v.top as unknown[]) {
    if (!object(c) || typeof c.name !== 'string' || !isChainName(c.name) || !finite(c.entriesPerSec) || !finite(c.bytesPerSec))
      return { invalid: 'top: {name, entriesPerSec, bytesPerSec} each' };
    top.push({ name: c.name, entriesPerSec: c.entriesPerSec, bytesPerSec: c.bytesPerSec });
  }
  return { at: v.at, demand: { entriesPerSec: v.demand.entriesPerSec, bytesPerSec: v.demand.bytesPerSec }, chains: v.chains, top };
}

export function decodeLeader(bytes: Buffer): Decoded<LeaderRecord> {
  const v = jsonObjectOf(bytes);
  if (typeof v === 'string' || typeof v.id !== 'string' || v.id.length > 128 || !finite(v.since)) return { invalid: '{id, since}' };
  return { id: v.id, since: v.since };
}

export function decodeEvent(bytes: Buffer): Decoded<FleetEvent> {
  const v = jsonObjectOf(bytes);
  if (
    typeof v === 'string' ||
    !finite(v.at) ||
    typeof v.source !== 'string' ||
    typeof v.kind !== 'string' ||
    typeof v.reason !== 'string' ||
    !object(v.numbers)
  )
    return { invalid: '{at, source, kind, reason, numbers}' };
  return v as unknown as FleetEvent;
}

export function encode(record: object): string {
  return JSON.stringify(record);
}

/** The chain name of a `chains/{name}` key, or null for a key that is not one. */
export function chainOfKey(keys: FleetKeys, key: string): string | null {
  if (!key.startsWith(keys.chains)) return null;
  const name = key.slice(keys.chains.length);
  return isChainName(name) ? name : null;
}

/** The gateway id of a `members/{id}` or `load/{id}` key. */
export function gatewayOfKey(prefix: string, key: string): string | null {
  if (!key.startsWith(prefix)) return null;
  const id = key.slice(prefix.length);
  return isGatewayId(id) ? id : null;
}

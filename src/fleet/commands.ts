// What `chainlanes fleet run | status | events | move | haproxy-config` do
// (DESIGN.md "Fleet", command line), given their flags parsed and checked by
// src/commands/fleet.ts (which holds their specs and help). Refused settings
// are ConfigErrors (exit 2), failures are thrown (exit 1).
import { hostname } from 'node:os';
import { readAdminKey } from '../credits/index.js';
import type { Logger } from '../log/index.js';
import { ConfigError, parseWith } from '../validation/index.js';
import { FleetBalancer } from './balancer.js';
import { EtcdClient, type KeyValue } from './etcd.js';
import { FleetEvents, readEvents } from './events.js';
import { DEFAULT_HAPROXY_CONFIG, haproxyConfig } from './haproxy.js';
import { HttpGatewayApi, moveChain } from './handoff.js';
import {
  FleetKeys,
  decodeLoad,
  decodeMember,
  decodeOwner,
  decodeLeader,
  gatewayOfKey,
  isInvalid,
  type FleetEvent,
  type LoadReport,
  type MemberRecord,
} from './keys.js';
import { FleetRunner } from './runner.js';
import { decodeStandby } from './standby.js';
import { EtcdSettingsSchema, FleetBalancerSchema, type EtcdSettings } from './settings.js';

export interface FleetIo {
  print(text: string): void;
  log: () => Logger;
}

/** etcd's settings from `--etcd URLS` and `--prefix P`. */
export function etcdSettingsOf(etcd: string | undefined, prefix: string | undefined): EtcdSettings {
  if (etcd === undefined) throw new ConfigError(['--etcd URLS is required (etcd client URLs, comma-separated)']);
  return parseWith(
    EtcdSettingsSchema,
    {
      endpoints: etcd
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u !== ''),
      ...(prefix === undefined ? {} : { prefix }),
    },
    'flag --etcd/--prefix',
  );
}

function connect(settings: EtcdSettings): { client: EtcdClient; keys: FleetKeys } {
  return {
    client: new EtcdClient({ endpoints: settings.endpoints, requestTimeoutMs: settings.requestTimeoutMs, maxResponseBytes: settings.maxResponseBytes }),
    keys: new FleetKeys(settings.prefix),
  };
}

/** Every live member's record. */
async function readMembers(client: EtcdClient, keys: FleetKeys): Promise<Map<string, MemberRecord>> {
  const out = new Map<string, MemberRecord>();
  for (const kv of (await client.rangeAll(keys.members)).kvs) {
    const record = decodeMember(kv.value);
    if (!isInvalid(record)) out.set(kv.key.slice(keys.members.length), record);
  }
  return out;
}

/** A number flag's text, or undefined when absent; refused naming the flag when it is not a number. */
export function numberFlag(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new ConfigError([`flag --${flag}: ${JSON.stringify(text)} is not a number`]);
  return n;
}

export interface FleetRunFlags {
  etcd: EtcdSettings;
  haproxySocket?: string;
  haproxyMap?: string;
  id?: string;
  adminKeyFile?: string;
  balance: boolean;
  headroom?: number;
  overloadedForMs?: number;
  maxMovesPerHour?: number;
  everyMs?: number;
  leaseTtl?: number;
}

/** `chainlanes fleet run`: mirrors (and, leading, balances) until SIGINT or SIGTERM. */
export async function runFleet(flags: FleetRunFlags, io: FleetIo): Promise<void> {
  const { etcd } = flags;
  if ((flags.haproxySocket === undefined) !== (flags.haproxyMap === undefined))
    throw new ConfigError(['chainlanes fleet run: --haproxy-socket and --haproxy-map go together']);
  const balancer = parseWith(
    FleetBalancerSchema,
    dropUndefined({
      headroom: flags.headroom,
      overloadedForMs: flags.overloadedForMs,
      maxMovesPerHour: flags.maxMovesPerHour,
      everyMs: flags.everyMs,
    }),
    'flags',
  );
  const leaseTtlSeconds = flags.leaseTtl ?? 10;
  if (!Number.isInteger(leaseTtlSeconds) || leaseTtlSeconds < 2) throw new ConfigError(['flag --lease-ttl: an integer ≥ 2 (seconds)']);
  const adminKey = readAdminKey({ adminKeyFile: flags.adminKeyFile ?? null, insecureOpen: false }, process.env);
  const log = io.log();
  const runner = new FleetRunner({
    etcd,
    id: flags.id ?? `${hostname()}-${process.pid}`,
    balance: flags.balance,
    balancer,
    adminKey,
    log,
    leaseTtlSeconds,
    haproxy: flags.haproxySocket === undefined ? null : { socket: flags.haproxySocket, map: flags.haproxyMap! },
  });
  const stop = (signal: string): void => {
    log.info({ event: 'shutdown', signal }, `${signal}: giving up the lead and stopping`);
    runner.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  await runner.start();
  log.info(
    { event: 'fleet-run', etcd: etcd.endpoints, haproxy: flags.haproxySocket ?? null, balance: flags.balance },
    `fleet run: mirroring ${runner.table.entries.size} chains of ${runner.members.entries.size} members${flags.haproxySocket === undefined ? '' : ' into HAProxy'}`,
  );
}

function dropUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

/** How long `fleet move` waits for each gateway's answer (a large chain's adopt copies every block). */
const MOVE_TIMEOUT_MS = 600_000;

export interface FleetStatus {
  leader: string | null;
  chains: number;
  members: {
    id: string;
    url: string;
    capacity: MemberRecord['capacity'];
    startedAt: number;
    load: number | null;
    chains: number;
    reportAgeMs: number | null;
  }[];
  /** Gateways that own chains but are not live members (down, or cut off from etcd): their chains wait for them. */
  absentOwners: { id: string; chains: number }[];
  /** Owner → standby pairs (`standby/{owner}`, docs/replicas.md part 2), in owner id order; empty without replicas. */
  standbys: { owner: string; standby: string; machine: string; since: number }[];
}

export async function readStatus(client: EtcdClient, keys: FleetKeys, now = Date.now()): Promise<FleetStatus> {
  const [members, chains, loads, leader, standbys] = await Promise.all([
    readMembers(client, keys),
    client.rangeAll(keys.chains),
    client.rangeAll(keys.loads),
    client.range(keys.leader),
    client.rangeAll(keys.standbys),
  ]);
  const owned = new Map<string, number>();
  let chainCount = 0;
  for (const kv of chains.kvs) {
    const owner = kv.key === keys.chains ? null : decodeOwner(kv.value); // the prefix's own key is the mirrors' canary
    if (owner === null || isInvalid(owner)) continue;
    owned.set(owner.gateway, (owned.get(owner.gateway) ?? 0) + 1);
    chainCount++;
  }
  const reports = new Map<string, LoadReport>();
  for (const kv of loads.kvs) {
    const report = decodeLoad(kv.value);
    if (!isInvalid(report)) reports.set(kv.key.slice(keys.loads.length), report);
  }
  const leaderRecord = leader.kvs[0] === undefined ? null : decodeLeader(leader.kvs[0].value);
  return {
    leader: leaderRecord === null || isInvalid(leaderRecord) ? null : leaderRecord.id,
    chains: chainCount,
    members: [...members]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, m]) => {
        const report = reports.get(id);
        return {
          id,
          url: m.url,
          capacity: m.capacity,
          startedAt: m.startedAt,
          chains: owned.get(id) ?? 0,
          load: report === undefined ? null : FleetBalancer.loadOf({ capacity: m.capacity, demand: report.demand }),
          reportAgeMs: report === undefined ? null : Math.max(0, now - report.at),
        };
      }),
    absentOwners: [...owned].filter(([id]) => !members.has(id)).map(([id, n]) => ({ id, chains: n })),
    standbys: standbyPairs(keys, standbys.kvs),
  };
}

function standbyPairs(keys: FleetKeys, kvs: readonly KeyValue[]): FleetStatus['standbys'] {
  const pairs: FleetStatus['standbys'] = [];
  for (const kv of kvs) {
    const owner = gatewayOfKey(keys.standbys, kv.key); // null for the canary, the prefix's own key
    const record = owner === null ? null : decodeStandby(kv.value);
    if (owner !== null && record !== null && !isInvalid(record)) pairs.push({ owner, ...record });
  }
  return pairs.sort((a, b) => (a.owner < b.owner ? -1 : 1));
}

/** `chainlanes fleet status`. */
export async function printStatus(etcd: EtcdSettings, json: boolean, io: Pick<FleetIo, 'print'>): Promise<void> {
  const { client, keys } = connect(etcd);
  try {
    const s = await readStatus(client, keys);
    if (json) return io.print(JSON.stringify(s, null, 2));
    io.print(`fleet: ${s.members.length} members, ${s.chains} chains; balancer leader: ${s.leader ?? 'none'}`);
    for (const m of s.members) {
      const load = m.load === null ? 'no load report' : `load ${(m.load * 100).toFixed(1)} % (report ${Math.round((m.reportAgeMs ?? 0) / 1000)} s old)`;
      io.print(
        `  ${m.id.padEnd(16)} ${m.url.padEnd(28)} ${String(m.chains).padStart(7)} chains  capacity ${Math.round(m.capacity.entriesPerSec)} entries/s  ${load}`,
      );
    }
    for (const a of s.absentOwners) io.print(`  ${a.id.padEnd(16)} NOT A LIVE MEMBER: its ${a.chains} chains wait for it (answered busy, naming it)`);
    for (const p of s.standbys) io.print(`  standby: ${p.owner} → ${p.standby} (machine ${p.machine}, since ${new Date(p.since).toISOString()})`);
  } finally {
    client.close();
  }
}

function describeEvent(e: FleetEvent & { revision: number }): string {
  const numbers = Object.entries(e.numbers)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${new Date(e.at).toISOString()} #${e.revision} ${e.kind.padEnd(12)} ${e.reason}${numbers === '' ? '' : `  [${numbers}]`}`;
}

/** `chainlanes fleet events`. */
export async function printEvents(etcd: EtcdSettings, since: number, json: boolean, io: Pick<FleetIo, 'print'>): Promise<void> {
  const { client, keys } = connect(etcd);
  try {
    const list = await readEvents(client, keys, since);
    if (json) return io.print(JSON.stringify(list, null, 2));
    if (list.length === 0) io.print('fleet events: none kept');
    for (const e of list) io.print(describeEvent(e));
  } finally {
    client.close();
  }
}

export interface MoveFlags {
  adminKeyFile?: string;
  force: boolean;
  fromUrl?: string;
}

/** `chainlanes fleet move CHAIN GATEWAY`. */
export async function moveByHand(etcd: EtcdSettings, chain: string, to: string, flags: MoveFlags, io: Pick<FleetIo, 'print'>): Promise<void> {
  const { client, keys } = connect(etcd);
  const adminKey = readAdminKey({ adminKeyFile: flags.adminKeyFile ?? null, insecureOpen: false }, process.env);
  try {
    const outcome = await moveChain(client, keys, new HttpGatewayApi(adminKey, MOVE_TIMEOUT_MS), chain, to, { force: flags.force, fromUrl: flags.fromUrl });
    if (!outcome.moved)
      throw new Error(
        `moving chain "${chain}" to "${to}" failed at ${outcome.step}: ${outcome.why}${outcome.from === null ? '' : `; ${outcome.from} keeps it`}`,
      );
    await new FleetEvents(client, keys, `fleet-move@${hostname()}`, 1_000)
      .add({
        kind: 'manual-move',
        chain,
        from: outcome.from,
        to,
        reason: `chain "${chain}" ${outcome.from} → ${to}: moved by hand (chainlanes fleet move)`,
        numbers: {
          token: outcome.token,
          prepareMs: Math.round(outcome.ms.prepare),
          handoffMs: Math.round(outcome.ms.handoff),
          adoptMs: Math.round(outcome.ms.adopt),
          commitMs: Math.round(outcome.ms.commit),
        },
      })
      .catch(() => undefined);
    io.print(`chainlanes fleet move: chain "${chain}" is served by ${to} now (was ${outcome.from}; fencing token ${outcome.token})`);
  } finally {
    client.close();
  }
}

export interface HaproxyConfigFlags {
  bind?: string;
  haproxySocket?: string;
  haproxyMap?: string;
  log?: string;
}

/** `chainlanes fleet haproxy-config`. */
export async function printHaproxyConfig(etcd: EtcdSettings, flags: HaproxyConfigFlags, io: Pick<FleetIo, 'print'>): Promise<void> {
  const given = { bind: flags.bind, 'haproxy-socket': flags.haproxySocket, 'haproxy-map': flags.haproxyMap };
  const missing = Object.entries(given)
    .filter(([, v]) => v === undefined)
    .map(([f]) => `--${f}`);
  if (missing.length > 0) throw new ConfigError([`chainlanes fleet haproxy-config: ${missing.join(', ')} required`]);
  if (flags.log !== undefined && /[\r\n]/.test(flags.log)) throw new ConfigError(['flag --log: one line (a HAProxy log target and its options)']);
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/.test(flags.bind!))
    throw new ConfigError([`flag --bind: ${JSON.stringify(flags.bind)} is not ADDR:PORT`]);
  for (const [flag, path] of [
    ['haproxy-socket', flags.haproxySocket!],
    ['haproxy-map', flags.haproxyMap!],
  ] as const) {
    if (!path.startsWith('/') || /\s/.test(path)) throw new ConfigError([`flag --${flag}: an absolute path without spaces`]);
  }
  const { client, keys } = connect(etcd);
  try {
    io.print(
      haproxyConfig({
        ...DEFAULT_HAPROXY_CONFIG,
        ...(flags.log === undefined ? {} : { log: flags.log }),
        bind: flags.bind!,
        socket: flags.haproxySocket!,
        map: flags.haproxyMap!,
        members: await readMembers(client, keys),
      }).trimEnd(),
    );
  } finally {
    client.close();
  }
}

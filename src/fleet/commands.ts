// `chainlanes fleet run | status | events | move | haproxy-config` (DESIGN.md
// "Fleet", command line). src/cli.ts dispatches here; usage errors are
// ConfigErrors (exit 2), failures are thrown (exit 1).
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { readAdminKey } from '../credits/index.js';
import type { Logger } from '../log/index.js';
import { ConfigError, parseWith } from '../validation/index.js';
import { FleetBalancer } from './balancer.js';
import { EtcdClient } from './etcd.js';
import { FleetEvents, readEvents } from './events.js';
import { DEFAULT_HAPROXY_CONFIG, haproxyConfig } from './haproxy.js';
import { HttpGatewayApi, moveChain } from './handoff.js';
import { FleetKeys, decodeLoad, decodeMember, decodeOwner, decodeLeader, isInvalid, type FleetEvent, type LoadReport, type MemberRecord } from './keys.js';
import { FleetRunner } from './runner.js';
import { EtcdSettingsSchema, FleetBalancerSchema, type EtcdSettings } from './settings.js';

export const FLEET_USAGE = `usage:
  chainlanes fleet run --etcd URLS [--prefix P] [--haproxy-socket PATH --haproxy-map PATH] [--id NAME]
                       [--admin-key-file FILE] [--no-balance] [--headroom F] [--overloaded-for-ms MS]
                       [--max-moves-per-hour N] [--every-ms MS] [--lease-ttl S]
      mirrors etcd's chain ownership into HAProxy (runtime API and map file); the instance that
      wins the election also balances the gateways and moves chains by handoff
  chainlanes fleet status --etcd URLS [--prefix P] [--json]
      members, their capacity and load, who owns how many chains, who leads the balancer
  chainlanes fleet events --etcd URLS [--prefix P] [--since REVISION] [--json]
      every move with its reason and numbers, overloads, members joining and leaving
  chainlanes fleet move CHAIN GATEWAY --etcd URLS [--prefix P] [--admin-key-file FILE] [--force --from-url URL]
      hands CHAIN off to GATEWAY (--force: its owner is cut off from etcd but still serves reads)
  chainlanes fleet haproxy-config --etcd URLS --bind ADDR:PORT --haproxy-socket PATH --haproxy-map PATH [--log TARGET]
      prints a working HAProxy configuration for the current members
URLS: etcd client URLs separated by commas. The gateways' admin key: --admin-key-file or CHAINLANES_ADMIN_KEY.`;

export interface FleetIo {
  print(text: string): void;
  log: () => Logger;
}

const ETCD_OPTIONS = {
  etcd: { type: 'string' },
  prefix: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

function etcdSettings(values: { etcd?: string; prefix?: string }): EtcdSettings {
  if (values.etcd === undefined) throw new ConfigError(['chainlanes fleet: --etcd URLS is required (etcd client URLs, comma-separated)']);
  return parseWith(EtcdSettingsSchema, { endpoints: values.etcd.split(',').map((u) => u.trim()).filter((u) => u !== ''), ...(values.prefix === undefined ? {} : { prefix: values.prefix }) }, 'flag --etcd/--prefix');
}

function connect(settings: EtcdSettings): { client: EtcdClient; keys: FleetKeys } {
  return { client: new EtcdClient({ endpoints: settings.endpoints, requestTimeoutMs: settings.requestTimeoutMs, maxResponseBytes: settings.maxResponseBytes }), keys: new FleetKeys(settings.prefix) };
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

export async function fleetCommand(argv: string[], io: FleetIo): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'run') return run(rest, io);
  if (sub === 'status') return status(rest, io);
  if (sub === 'events') return events(rest, io);
  if (sub === 'move') return move(rest, io);
  if (sub === 'haproxy-config') return printHaproxyConfig(rest, io);
  if (sub === undefined || sub === '--help' || sub === '-h') return io.print(FLEET_USAGE);
  throw new ConfigError([`chainlanes fleet: unknown command "${sub}"\n\n${FLEET_USAGE}`]);
}

function number(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new ConfigError([`flag --${flag}: ${JSON.stringify(text)} is not a number`]);
  return n;
}

async function run(argv: string[], io: FleetIo): Promise<void> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      ...ETCD_OPTIONS, 'haproxy-socket': { type: 'string' }, 'haproxy-map': { type: 'string' }, id: { type: 'string' }, 'admin-key-file': { type: 'string' },
      'no-balance': { type: 'boolean', default: false }, headroom: { type: 'string' }, 'overloaded-for-ms': { type: 'string' }, 'max-moves-per-hour': { type: 'string' },
      'every-ms': { type: 'string' }, 'lease-ttl': { type: 'string' },
    },
  });
  const etcd = etcdSettings(values);
  if ((values['haproxy-socket'] === undefined) !== (values['haproxy-map'] === undefined)) throw new ConfigError(['chainlanes fleet run: --haproxy-socket and --haproxy-map go together']);
  const balancer = parseWith(FleetBalancerSchema, dropUndefined({
    headroom: number(values.headroom, 'headroom'), overloadedForMs: number(values['overloaded-for-ms'], 'overloaded-for-ms'),
    maxMovesPerHour: number(values['max-moves-per-hour'], 'max-moves-per-hour'), everyMs: number(values['every-ms'], 'every-ms'),
  }), 'flags');
  const leaseTtlSeconds = number(values['lease-ttl'], 'lease-ttl') ?? 10;
  if (!Number.isInteger(leaseTtlSeconds) || leaseTtlSeconds < 2) throw new ConfigError(['flag --lease-ttl: an integer ≥ 2 (seconds)']);
  const adminKey = readAdminKey({ adminKeyFile: values['admin-key-file'] ?? null, insecureOpen: false }, process.env);
  const log = io.log();
  const runner = new FleetRunner({
    etcd, id: values.id ?? `${hostname()}-${process.pid}`, balance: !values['no-balance'], balancer, adminKey, log, leaseTtlSeconds,
    haproxy: values['haproxy-socket'] === undefined ? null : { socket: values['haproxy-socket'], map: values['haproxy-map']! },
  });
  const stop = (signal: string): void => {
    log.info({ event: 'shutdown', signal }, `${signal}: giving up the lead and stopping`);
    runner.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  await runner.start();
  log.info({ event: 'fleet-run', etcd: etcd.endpoints, haproxy: values['haproxy-socket'] ?? null, balance: !values['no-balance'] },
    `fleet run: mirroring ${runner.table.entries.size} chains of ${runner.members.entries.size} members${values['haproxy-socket'] === undefined ? '' : ' into HAProxy'}`);
}

function dropUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

export interface FleetStatus {
  leader: string | null;
  chains: number;
  members: { id: string; url: string; capacity: MemberRecord['capacity']; startedAt: number; load: number | null; chains: number; reportAgeMs: number | null }[];
  /** Gateways that own chains but are not live members (down, or cut off from etcd): their chains wait for them. */
  absentOwners: { id: string; chains: number }[];
}

export async function readStatus(client: EtcdClient, keys: FleetKeys, now = Date.now()): Promise<FleetStatus> {
  const [members, chains, loads, leader] = await Promise.all([readMembers(client, keys), client.rangeAll(keys.chains), client.rangeAll(keys.loads), client.range(keys.leader)]);
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
    members: [...members].sort(([a], [b]) => a.localeCompare(b)).map(([id, m]) => {
      const report = reports.get(id);
      return {
        id, url: m.url, capacity: m.capacity, startedAt: m.startedAt, chains: owned.get(id) ?? 0,
        load: report === undefined ? null : FleetBalancer.loadOf({ capacity: m.capacity, demand: report.demand }),
        reportAgeMs: report === undefined ? null : Math.max(0, now - report.at),
      };
    }),
    absentOwners: [...owned].filter(([id]) => !members.has(id)).map(([id, n]) => ({ id, chains: n })),
  };
}

async function status(argv: string[], io: FleetIo): Promise<void> {
  const { values } = parseArgs({ args: argv, strict: true, options: ETCD_OPTIONS });
  const { client, keys } = connect(etcdSettings(values));
  try {
    const s = await readStatus(client, keys);
    if (values.json) return io.print(JSON.stringify(s, null, 2));
    io.print(`fleet: ${s.members.length} members, ${s.chains} chains; balancer leader: ${s.leader ?? 'none'}`);
    for (const m of s.members) {
      const load = m.load === null ? 'no load report' : `load ${(m.load * 100).toFixed(1)} % (report ${Math.round((m.reportAgeMs ?? 0) / 1000)} s old)`;
      io.print(`  ${m.id.padEnd(16)} ${m.url.padEnd(28)} ${String(m.chains).padStart(7)} chains  capacity ${Math.round(m.capacity.entriesPerSec)} entries/s  ${load}`);
    }
    for (const a of s.absentOwners) io.print(`  ${a.id.padEnd(16)} NOT A LIVE MEMBER: its ${a.chains} chains wait for it (answered busy, naming it)`);
  } finally {
    client.close();
  }
}

function describeEvent(e: FleetEvent & { revision: number }): string {
  const numbers = Object.entries(e.numbers).map(([k, v]) => `${k}=${v}`).join(' ');
  return `${new Date(e.at).toISOString()} #${e.revision} ${e.kind.padEnd(12)} ${e.reason}${numbers === '' ? '' : `  [${numbers}]`}`;
}

async function events(argv: string[], io: FleetIo): Promise<void> {
  const { values } = parseArgs({ args: argv, strict: true, options: { ...ETCD_OPTIONS, since: { type: 'string' } } });
  const { client, keys } = connect(etcdSettings(values));
  try {
    const list = await readEvents(client, keys, number(values.since, 'since') ?? 0);
    if (values.json) return io.print(JSON.stringify(list, null, 2));
    if (list.length === 0) io.print('fleet events: none kept');
    for (const e of list) io.print(describeEvent(e));
  } finally {
    client.close();
  }
}

async function move(argv: string[], io: FleetIo): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: { ...ETCD_OPTIONS, 'admin-key-file': { type: 'string' }, force: { type: 'boolean', default: false }, 'from-url': { type: 'string' } },
  });
  const [chain, to] = positionals;
  if (chain === undefined || to === undefined || positionals.length !== 2) throw new ConfigError(['chainlanes fleet move: give CHAIN and GATEWAY']);
  const { client, keys } = connect(etcdSettings(values));
  const adminKey = readAdminKey({ adminKeyFile: values['admin-key-file'] ?? null, insecureOpen: false }, process.env);
  try {
    const outcome = await moveChain(client, keys, new HttpGatewayApi(adminKey, 120_000), chain, to, { force: values.force, fromUrl: values['from-url'] });
    if (!outcome.moved) throw new Error(`moving chain "${chain}" to "${to}" failed at ${outcome.step}: ${outcome.why}${outcome.from === null ? '' : `; ${outcome.from} keeps it`}`);
    await new FleetEvents(client, keys, `fleet-move@${hostname()}`, 1_000).add({
      kind: 'manual-move', chain, from: outcome.from, to, reason: `chain "${chain}" ${outcome.from} → ${to}: moved by hand (chainlanes fleet move)`,
      numbers: { token: outcome.token, handoffMs: Math.round(outcome.ms.handoff), adoptMs: Math.round(outcome.ms.adopt), commitMs: Math.round(outcome.ms.commit) },
    }).catch(() => undefined);
    io.print(`chainlanes fleet move: chain "${chain}" is served by ${to} now (was ${outcome.from}; fencing token ${outcome.token})`);
  } finally {
    client.close();
  }
}

async function printHaproxyConfig(argv: string[], io: FleetIo): Promise<void> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: { ...ETCD_OPTIONS, bind: { type: 'string' }, 'haproxy-socket': { type: 'string' }, 'haproxy-map': { type: 'string' }, log: { type: 'string' } },
  });
  const missing = ['bind', 'haproxy-socket', 'haproxy-map'].filter((f) => values[f as 'bind'] === undefined);
  if (missing.length > 0) throw new ConfigError([`chainlanes fleet haproxy-config: ${missing.map((f) => `--${f}`).join(', ')} required`]);
  if (values.log !== undefined && /[\r\n]/.test(values.log)) throw new ConfigError(['flag --log: one line (a HAProxy log target and its options)']);
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/.test(values.bind!)) throw new ConfigError([`flag --bind: ${JSON.stringify(values.bind)} is not ADDR:PORT`]);
  for (const flag of ['haproxy-socket', 'haproxy-map'] as const) {
    if (!values[flag]!.startsWith('/') || /\s/.test(values[flag]!)) throw new ConfigError([`flag --${flag}: an absolute path without spaces`]);
  }
  const { client, keys } = connect(etcdSettings(values));
  try {
    io.print(haproxyConfig({
      ...DEFAULT_HAPROXY_CONFIG, ...(values.log === undefined ? {} : { log: values.log }),
      bind: values.bind!, socket: values['haproxy-socket']!, map: values['haproxy-map']!, members: await readMembers(client, keys),
    }).trimEnd());
  } finally {
    client.close();
  }
}

// Standby replicas (issue #22 "Numbers"), everything real: etcd, gateways
// (the CLI, in a fleet), their stores, the shipping stream.
//
// 1. What a standby costs: the bench's Zipf load (bench/load.ts) against a
//    gateway with `fleet.replicas: 0` and one with `replicas: 1` (its standby
//    a second gateway), alternating, in the same run: entries/s accepted,
//    committed/s, and send → committed p50/p99 of the heavy chains. On one
//    machine the standby shares the owner's cores, so this is the CPU cost of
//    shipping and storing twice; across machines a network round trip is
//    added to each committed. With --pin (root, cgroup v1 cpuset) the two
//    gateways measured run on core 0 alone, as on a machine of their own,
//    and the standby with this bench's clients on core 1, the other machine:
//    what shipping costs the owner, its standby's work not taken from it.
// 2. Failover over --kills kills in a row: a client writes a frame every
//    --frame-ms to the owner of one chain; the owner is killed with -9; the
//    time from the kill to the first `committed` from the new owner, split
//    into the lease (kill → `members/{owner}` gone from etcd) and the
//    takeover (→ that first `committed`). The killed gateway then comes back
//    on its store (the follower: it truncates what was never acknowledged)
//    and becomes the new owner's standby before the next kill.
// 3. Catch-up: the standby stopped (SIGSTOP) while the owner goes on alone
//    and writes --catch-up entries; then SIGCONT: entries/s from then until
//    the owner's /healthz says its standby holds every seal again.
//
// Run: npm run build && node dist/bench/replicas.js [--duration 5] [--pairs 2] [--pin] [--kills 20] [--lease-ttl 3] [--catch-up 200000] [--json]
// (--kills 0 or --catch-up 0 skips that part.)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { EtcdClient } from '../src/fleet/index.js';
import { CpuGroup, cpuGroupsUnavailable } from './cgroup.js';
import { freePort, startEtcd } from './fleet-etcd.js';
import { runLoad } from './load.js';
import { zipfPlan } from './plan.js';
import { machineInfo, processCpuSeconds } from './proc.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli.js');
const log = (line: string): void => void process.stderr.write(line + '\n');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const packr = new Packr({ useRecords: false });
/** The load of part 1: the --compare shape, halved, so the standby has room on the same cores. */
const LOAD_SHAPE = { chains: 8, connections: 12, batch: 64, inflight: 16, zipf: 1, lightRate: 200, workers: 2 };

interface GatewaySpec {
  id: string;
  machine: string;
  prefix: string;
  replicas: 0 | 1;
  whenStandbyLost: 'wait' | 'alone';
  leaseTtlSeconds: number;
}

interface Gateway {
  spec: GatewaySpec;
  url: string;
  child: ChildProcess;
  health(): Promise<Health>;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

interface Health {
  fleet?: { member?: string; replica?: { standby: string | null; state: string; stream: string; behind: number } };
}

/** Starts (or starts again, on the same store and port) a gateway of the fleet; resolves once it is a live member. */
async function startGateway(root: string, etcd: string, spec: GatewaySpec, port?: number): Promise<Gateway> {
  const listenPort = port ?? (await freePort());
  const url = `http://127.0.0.1:${listenPort}`;
  const configFile = join(root, `${spec.id}.json`);
  writeFileSync(
    configFile,
    JSON.stringify({
      host: '127.0.0.1',
      port: listenPort,
      dataDir: join(root, spec.id),
      logLevel: 'warn',
      fleet: {
        etcd: { endpoints: [etcd], prefix: spec.prefix },
        gatewayId: spec.id,
        advertiseUrl: url,
        machine: spec.machine,
        replicas: spec.replicas,
        whenStandbyLost: spec.whenStandbyLost,
        standbyLostAfterMs: 2_000,
        leaseTtlSeconds: spec.leaseTtlSeconds,
        leaseMarginMs: 1_000,
      },
    }),
  );
  const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8192);
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const health = async (): Promise<Health> => (await fetch(`${url}/healthz`)).json() as Promise<Health>;
  await until(`${spec.id} a live member`, async () => {
    if (child.exitCode !== null) throw new Error(`gateway ${spec.id} exited: ${stderr}`);
    return (await health()).fleet?.member === 'live';
  });
  return {
    spec,
    url,
    child,
    health,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await closed;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
      }
      await closed;
    },
  };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let ok = false;
    try {
      ok = await check();
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('gateway ')) throw error;
    }
    if (ok) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The owner ships to `standby` and it holds every seal. */
async function inStep(owner: Gateway, standby: string): Promise<boolean> {
  const replica = (await owner.health()).fleet?.replica;
  return replica?.standby === standby && replica.stream === 'shipping' && replica.state === 'in-step';
}

// ---- 1. throughput and committed latency, with and without a standby

interface CostRow {
  pair: number;
  replicas: 0 | 1;
  entriesPerSec: number;
  committedPerSec: number | null;
  /** Send → committed of the heavy chains (a closed loop at full window: it follows the throughput). */
  committedP50Us: number | null;
  committedP99Us: number | null;
  /** Send → committed of the light chains (single-entry frames at a fixed rate, one in flight): the latency a standby adds. */
  lightCommittedP50Us: number | null;
  lightCommittedP99Us: number | null;
  /** The measured gateway's CPU seconds per million entries, and by thread group (front door, lanes, sealer, readers, other…). */
  cpuPerMillion: number | null;
  byThread: Record<string, number>;
  /** The standby's whole process, CPU seconds per million of the owner's entries (null without one). */
  standbyCpuPerMillion: number | null;
}

async function standbyCost(without: Gateway, withStandby: Gateway, standby: Gateway, pairs: number, durationS: number): Promise<CostRow[]> {
  const rows: CostRow[] = [];
  for (const g of [without, withStandby])
    await runLoad({ name: 'warm-up', url: g.url.replace('http', 'ws'), pid: g.child.pid }, zipfPlan(LOAD_SHAPE, `r${g.spec.replicas}`), {
      durationS: 2,
      warmupS: 0,
      entrySize: 200,
    });
  for (let pair = 1; pair <= pairs; pair++) {
    for (const g of pair % 2 === 1 ? [without, withStandby] : [withStandby, without]) {
      const standbyBefore = g === withStandby ? processCpuSeconds(standby.child.pid!) : undefined;
      const result = await runLoad(
        { name: `replicas ${g.spec.replicas}`, url: g.url.replace('http', 'ws'), pid: g.child.pid },
        zipfPlan(LOAD_SHAPE, `r${g.spec.replicas}`),
        {
          durationS,
          warmupS: 1,
          entrySize: 200,
        },
      );
      const { heavy, light } = result.classes;
      const standbyAfter = standbyBefore === undefined ? undefined : processCpuSeconds(standby.child.pid!);
      // The standby's CPU over the whole load (warm-up included) against the entries of the measured window: an upper bound.
      const standbyCpu = standbyBefore === undefined || standbyAfter === undefined ? null : standbyAfter - standbyBefore;
      const entries = result.entriesPerSec * result.durationS;
      const row: CostRow = {
        pair,
        replicas: g.spec.replicas,
        entriesPerSec: Math.round(result.entriesPerSec),
        committedPerSec: result.committedPerSec === null ? null : Math.round(result.committedPerSec),
        committedP50Us: heavy.committed?.p50 ?? null,
        committedP99Us: heavy.committed?.p99 ?? null,
        lightCommittedP50Us: light.committed?.p50 ?? null,
        lightCommittedP99Us: light.committed?.p99 ?? null,
        cpuPerMillion: result.gateway?.cpuSecondsPerMillion ?? null,
        byThread: { ...(result.gateway?.cpuSecondsPerMillionByThread ?? {}) },
        standbyCpuPerMillion: standbyCpu === null || entries === 0 ? null : (standbyCpu * 1e6) / entries,
      };
      rows.push(row);
      log(
        `pair ${pair} replicas ${row.replicas}: ${row.entriesPerSec} entries/s, committed p50/p99 heavy ${row.committedP50Us}/${row.committedP99Us} µs, ` +
          `light ${row.lightCommittedP50Us}/${row.lightCommittedP99Us} µs`,
      );
    }
  }
  return rows;
}

// ---- a one-chain writer that follows the chain to whichever gateway owns it

interface Reply {
  type: string;
  frame?: number;
  seq?: number;
  count?: number;
  code?: string;
}

class ChainWriter {
  private ws: WebSocket | null = null;
  private frames = 0;
  /** ms (performance.now) of each `committed`, and the entries it covered. */
  readonly commits: { at: number; entries: number }[] = [];
  /** ms (performance.now) of each `accepted`. */
  readonly accepts: number[] = [];

  constructor(private readonly chain: string) {}

  /** Writes to `url` (reconnecting there when the connection is gone) one frame; true once it is accepted. */
  async write(url: string): Promise<boolean> {
    const ws = await this.connection(url);
    if (ws === null) return false;
    const frame = this.frames++;
    ws.send(packr.pack([`entry ${frame}`]));
    return true;
  }

  close(): void {
    this.ws?.terminate();
    this.ws = null;
  }

  private async connection(url: string): Promise<WebSocket | null> {
    if (this.ws !== null && this.ws.readyState === WebSocket.OPEN && this.ws.url.startsWith(url.replace('http', 'ws'))) return this.ws;
    this.close();
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/chains/${this.chain}/stream`, ['chainlanes.v1']);
    const opened = await new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('error', () => resolve(false));
    });
    if (!opened) return null;
    this.frames = 0;
    ws.on('message', (data: Buffer) => {
      const reply = packr.unpack(data) as Reply;
      if (reply.type === 'committed') this.commits.push({ at: performance.now(), entries: reply.count ?? 0 });
      if (reply.type === 'accepted') this.accepts.push(performance.now());
    });
    ws.on('close', () => {
      if (this.ws === ws) this.ws = null;
    });
    this.ws = ws;
    return ws;
  }
}

// ---- 2. failover over kills in a row

interface FailoverRow {
  kill: number;
  from: string;
  to: string;
  totalMs: number;
  leaseMs: number;
  /** Lease gone → the first frame accepted by the new owner. */
  takeoverMs: number;
  /** → its first `committed`: the new owner's own standby was the gateway killed, so it waits fleet.standbyLostAfterMs and goes on alone. */
  aloneMs: number;
  /** From the killed gateway's start on its store until the new owner ships to it, in step. */
  backMs: number;
}

async function failovers(root: string, etcd: string, kills: number, leaseTtl: number, frameMs: number): Promise<FailoverRow[]> {
  const prefix = '/bench-replicas-failover/';
  const specs = ['f1', 'f2'].map((id, i): GatewaySpec => ({
    id,
    machine: `m${i + 1}`,
    prefix,
    replicas: 1,
    whenStandbyLost: 'alone',
    leaseTtlSeconds: leaseTtl,
  }));
  const gateways = new Map<string, Gateway>();
  const ports = new Map<string, number>();
  for (const spec of specs) {
    const g = await startGateway(root, etcd, spec);
    gateways.set(spec.id, g);
    ports.set(spec.id, Number(new URL(g.url).port));
  }
  const etcdClient = new EtcdClient({ endpoints: [etcd], requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
  const writer = new ChainWriter('failover');
  const rows: FailoverRow[] = [];
  try {
    let [owner, standby] = [gateways.get('f1')!, gateways.get('f2')!];
    // The chain is claimed by its first frame, on f1.
    await until('the chain written on f1', async () => (await writer.write(owner.url)) && writer.commits.length > 0);
    for (let kill = 1; kill <= kills; kill++) {
      await until(`${owner.spec.id} in step with ${standby.spec.id}`, () => inStep(owner, standby.spec.id));
      await owner.kill();
      const killedAt = performance.now();
      writer.close(); // nothing more arrives from the dead owner's connection: what comes next is the new owner's
      const [commitsBefore, acceptsBefore] = [writer.commits.length, writer.accepts.length];
      await until(`members/${owner.spec.id} gone`, async () => (await etcdClient.range(`${prefix}members/${owner.spec.id}`)).kvs.length === 0);
      const leaseAt = performance.now();
      await until(`a committed from ${standby.spec.id}`, async () => {
        await writer.write(standby.url);
        await sleep(frameMs);
        return writer.commits.length > commitsBefore;
      });
      const firstCommit = writer.commits[commitsBefore]!.at;
      const firstAccept = writer.accepts[acceptsBefore] ?? firstCommit;
      const killed = owner.spec;
      const backStarted = performance.now();
      const back = await startGateway(root, etcd, killed, ports.get(killed.id));
      gateways.set(killed.id, back);
      [owner, standby] = [standby, back];
      await until(`${owner.spec.id} ships to ${standby.spec.id} in step`, async () => {
        await writer.write(owner.url);
        return inStep(owner, standby.spec.id);
      });
      const row: FailoverRow = {
        kill,
        from: killed.id,
        to: owner.spec.id,
        totalMs: Math.round(firstCommit - killedAt),
        leaseMs: Math.round(leaseAt - killedAt),
        takeoverMs: Math.round(firstAccept - leaseAt),
        aloneMs: Math.round(firstCommit - firstAccept),
        backMs: Math.round(performance.now() - backStarted),
      };
      rows.push(row);
      log(
        `kill ${kill}: ${row.from} → ${row.to} in ${row.totalMs} ms (lease ${row.leaseMs}, takeover ${row.takeoverMs}, alone ${row.aloneMs}); back and in step in ${row.backMs} ms`,
      );
    }
  } finally {
    writer.close();
    etcdClient.close();
    for (const g of gateways.values()) await g.stop();
  }
  return rows;
}

// ---- 3. a standby catching up

async function catchUp(owner: Gateway, standby: Gateway, entries: number): Promise<{ entries: number; ms: number; entriesPerSec: number }> {
  await until('in step before', () => inStep(owner, standby.spec.id));
  standby.child.kill('SIGSTOP');
  await until(`${owner.spec.id} alone`, async () => (await owner.health()).fleet?.replica?.state === 'alone');
  // Written while the standby sleeps: one chain, frames of 1,000 entries, eight in flight.
  const ws = new WebSocket(`${owner.url.replace('http', 'ws')}/v1/chains/catch-up/stream`, ['chainlanes.v1']);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let committed = 0;
  let sent = 0;
  const frame = packr.pack(Array.from({ length: 1000 }, (_, i) => `catch-up entry ${i}`.padEnd(200, '.')));
  await new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => {
      const reply = packr.unpack(data) as Reply;
      if (reply.type === 'committed') committed += reply.count ?? 0;
      if (reply.type === 'accepted' && sent < entries) {
        ws.send(frame);
        sent += 1000;
      }
      if (committed >= entries) resolve();
    });
    for (let i = 0; i < 8; i++) {
      ws.send(frame);
      sent += 1000;
    }
  });
  ws.close();
  const started = performance.now();
  standby.child.kill('SIGCONT');
  await until('caught up', () => inStep(owner, standby.spec.id), 600_000);
  const ms = Math.round(performance.now() - started);
  return { entries: committed, ms, entriesPerSec: Math.round((committed * 1000) / ms) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      pairs: { type: 'string', default: '2' },
      kills: { type: 'string', default: '20' },
      'lease-ttl': { type: 'string', default: '3' },
      'frame-ms': { type: 'string', default: '10' },
      'catch-up': { type: 'string', default: '200000' },
      pin: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const leaseTtl = Number(values['lease-ttl']);
  const root = mkdtempSync(join(tmpdir(), 'chainlanes-bench-replicas-'));
  const etcd = await startEtcd();
  const started: Gateway[] = [];
  try {
    log('part 1: a gateway without a standby, and one with (its standby a third gateway)…');
    const spec = (id: string, machine: string, prefix: string, replicas: 0 | 1): GatewaySpec => ({
      id,
      machine,
      prefix,
      replicas,
      whenStandbyLost: 'alone',
      leaseTtlSeconds: 10,
    });
    const without = await startGateway(root, etcd.url, spec('r0', 'm0', '/bench-replicas-0/', 0));
    started.push(without);
    const owner = await startGateway(root, etcd.url, spec('r1', 'm1', '/bench-replicas-1/', 1));
    started.push(owner);
    const standby = await startGateway(root, etcd.url, spec('r2', 'm2', '/bench-replicas-1/', 1));
    started.push(standby);
    await until('r1 in step with r2', () => inStep(owner, 'r2'));
    const unpin = values.pin ? pinMachines([without, owner], [standby.child.pid!, process.pid]) : null;
    let cost: CostRow[];
    try {
      cost = await standbyCost(without, owner, standby, Number(values.pairs), Number(values.duration));
    } finally {
      unpin?.();
    }
    await without.stop();
    log('part 3: catch-up…');
    const caught = Number(values['catch-up']) > 0 ? await catchUp(owner, standby, Number(values['catch-up'])) : null;
    log(`catch-up: ${JSON.stringify(caught)}`);
    await owner.stop();
    await standby.stop();
    log(`part 2: ${values.kills} kills in a row (lease ${leaseTtl} s)…`);
    const kills = Number(values.kills) > 0 ? await failovers(root, etcd.url, Number(values.kills), leaseTtl, Number(values['frame-ms'])) : [];
    const report = {
      machine: machineInfo(),
      at: new Date().toISOString(),
      durationS: Number(values.duration),
      pinned: values.pin,
      leaseTtl,
      cost,
      kills,
      catchUp: caught,
    };
    if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else printTables(report);
  } finally {
    for (const g of started) await g.stop();
    await etcd.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * --pin: the gateways measured on core 0, as if alone on their machine; the
 * standby and `others` (this bench, whose worker threads are the clients) on
 * core 1. Returns what puts everything back (this bench out of its group
 * first: removing a group kills what is left in it).
 */
function pinMachines(measured: Gateway[], others: number[]): () => void {
  const unavailable = cpuGroupsUnavailable();
  if (unavailable !== null) throw new Error(`--pin: ${unavailable}`);
  const ownerMachine = new CpuGroup('replicas-owner', 1, [0]);
  const otherMachine = new CpuGroup('replicas-other', 1, [1]);
  for (const g of measured) ownerMachine.add(g.child.pid!);
  for (const pid of others) otherMachine.add(pid);
  log('pinned: the gateways measured on core 0; the standby and the clients on core 1');
  return () => {
    for (const g of measured) ownerMachine.release(g.child.pid!);
    for (const pid of others) otherMachine.release(pid);
    ownerMachine.removeNow();
    otherMachine.removeNow();
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** "1.10 (front door 0.33, lanes 0.25, …) + standby 1.70": the measured gateway's CPU per million entries, and the standby's. */
function cpuCell(row: CostRow): string {
  if (row.cpuPerMillion === null) return '–';
  const threads = Object.entries(row.byThread)
    .filter(([, seconds]) => seconds >= 0.01)
    .map(([group, seconds]) => `${group} ${seconds.toFixed(2)}`)
    .join(', ');
  const standby = row.standbyCpuPerMillion === null ? '' : ` + standby ${row.standbyCpuPerMillion.toFixed(2)}`;
  return `${row.cpuPerMillion.toFixed(2)} (${threads})${standby}`;
}

function printTables(r: {
  pinned: boolean;
  leaseTtl: number;
  cost: CostRow[];
  kills: FailoverRow[];
  catchUp: { entries: number; ms: number; entriesPerSec: number } | null;
}): void {
  const out = (line: string): void => void process.stdout.write(line + '\n');
  const n = (v: number | null): string => (v === null ? '–' : v.toLocaleString('en-US'));
  out(r.pinned ? 'pinned: the owner alone on core 0; the standby and the clients on core 1' : 'not pinned: owner, standby and clients share every core');
  out('| pair | replicas | entries/s | committed/s | committed p50 / p99 µs, heavy | committed p50 / p99 µs, light | CPU s/M: owner (by thread) + standby |');
  out('|---|---:|---:|---:|---:|---:|---|');
  for (const row of r.cost)
    out(
      `| ${row.pair} | ${row.replicas} | ${n(row.entriesPerSec)} | ${n(row.committedPerSec)} | ${n(row.committedP50Us)} / ${n(row.committedP99Us)} | ` +
        `${n(row.lightCommittedP50Us)} / ${n(row.lightCommittedP99Us)} | ${cpuCell(row)} |`,
    );
  const mean = (replicas: 0 | 1, key: 'entriesPerSec' | 'committedP99Us' | 'lightCommittedP99Us'): number => {
    const values = r.cost.filter((c) => c.replicas === replicas).map((c) => c[key] ?? 0);
    return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  };
  const ratio = (key: 'entriesPerSec' | 'committedP99Us' | 'lightCommittedP99Us'): string => (mean(1, key) / mean(0, key)).toFixed(2);
  out(`with ÷ without: ${ratio('entriesPerSec')}× entries/s, ${ratio('committedP99Us')}× committed p99 heavy, ${ratio('lightCommittedP99Us')}× light`);
  out('');
  if (r.kills.length > 0) printKills(r.leaseTtl, r.kills);
  if (r.catchUp !== null)
    out(
      `catch-up: ${n(r.catchUp.entries)} entries written while the standby was stopped, held again in ${r.catchUp.ms} ms = ${n(r.catchUp.entriesPerSec)} entries/s`,
    );
}

function printKills(leaseTtl: number, kills: FailoverRow[]): void {
  const out = (line: string): void => void process.stdout.write(line + '\n');
  const totals = kills.map((k) => k.totalMs);
  out(`failover over ${kills.length} kills (lease ${leaseTtl} s): kill → first committed on the new owner`);
  out('| | median ms | worst ms |');
  out('|---|---:|---:|');
  out(`| total | ${median(totals)} | ${Math.max(...totals)} |`);
  out(`| lease expiry | ${median(kills.map((k) => k.leaseMs))} | ${Math.max(...kills.map((k) => k.leaseMs))} |`);
  out(`| takeover (→ first accepted) | ${median(kills.map((k) => k.takeoverMs))} | ${Math.max(...kills.map((k) => k.takeoverMs))} |`);
  out(`| standby lost, going alone (→ first committed) | ${median(kills.map((k) => k.aloneMs))} | ${Math.max(...kills.map((k) => k.aloneMs))} |`);
  out(`| killed one back on its store, in step as the new standby | ${median(kills.map((k) => k.backMs))} | ${Math.max(...kills.map((k) => k.backMs))} |`);
  out('');
}

await main();

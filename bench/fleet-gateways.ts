// The fleet with real gateways (issue #21 "Numbers"), everything real: etcd,
// gateways (the CLI, in a fleet), HAProxy from `chainlanes fleet
// haproxy-config`, `chainlanes fleet run` mirroring the map.
//
// 1. HAProxy's cost: the bench's Zipf load (bench/load.ts) against one
//    gateway directly and through HAProxy, alternating, in the same run:
//    entries/s and p50/p99 send → accepted. And etcd on the per-frame path:
//    the gateway's etcd requests (GET /healthz fleet.etcdRequests) during
//    each loaded run against an idle stretch of the same length.
// 2. Handoff of a chain holding 1 M entries while a client streams to it
//    through HAProxy (the client package, one-entry frames, four in flight):
//    the move's total time and phases, and the longest pause the client sees
//    (the largest gap between two consecutive `accepted`). g1 → g2 with the
//    pre-copy (what the coordinator does), then g2 → g3 without, same run
//    (each target holding none of the chain).
// 3. New chains claimed per second through a gateway: a new chain's first
//    POSTed entry claims it in etcd (batched), 32 requests in flight.
//
// Run: npm run build && node dist/bench/fleet-gateways.js [--duration 5] [--pairs 2] [--entries 1000000] [--json]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { connect } from '../src/client/index.js';
import { EtcdClient, FleetKeys, HttpGatewayApi, moveChain, type GatewayApi, type MoveOutcome } from '../src/fleet/index.js';
import { freePort, startEtcd } from './fleet-etcd.js';
import { runLoad, type LoadResult } from './load.js';
import { zipfPlan } from './plan.js';
import { machineInfo } from './proc.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli.js');
const PREFIX = '/bench-fleet/';
const log = (line: string): void => void process.stderr.write(line + '\n');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const packr = new Packr({ useRecords: false });

interface Proc {
  child: ChildProcess;
  stop(): Promise<void>;
}

function spawned(command: string, args: string[]): Proc {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8192);
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('exit', (code) => {
    if (code !== 0 && code !== null) log(`${command} exited ${code}: ${stderr}`);
  });
  return {
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await closed;
    },
  };
}

interface Gateway extends Proc {
  id: string;
  url: string;
  health(): Promise<{ fleet: { member: string; members: number; etcdRequests: number } }>;
}

async function startGateway(id: string, etcd: string, root: string, allowedHosts: string[]): Promise<Gateway> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dir = join(root, id);
  const configFile = join(root, `${id}.json`);
  writeFileSync(
    configFile,
    JSON.stringify({
      host: '127.0.0.1',
      port,
      dataDir: dir,
      allowedHosts,
      logLevel: 'warn',
      fleet: { etcd: { endpoints: [etcd], prefix: PREFIX }, gatewayId: id, advertiseUrl: url },
    }),
  );
  const proc = spawned(process.execPath, [CLI, 'serve', '--config', configFile]);
  const health = async (): Promise<{ fleet: { member: string; members: number; etcdRequests: number } }> => (await fetch(`${url}/healthz`)).json() as never;
  for (let i = 0; ; i++) {
    const member = await health().then(
      (h) => h.fleet.member,
      () => null,
    );
    if (member === 'live') break;
    if (i > 300 || proc.child.exitCode !== null) throw new Error(`gateway ${id} did not join the fleet`);
    await sleep(100);
  }
  return { ...proc, id, url, health };
}

async function startHaproxy(etcd: string, root: string, port: number): Promise<Proc & { socket: string; map: string }> {
  const socket = join(root, 'haproxy.sock');
  const map = join(root, 'chains.map');
  if (!existsSync(map)) writeFileSync(map, '');
  const printed = spawnSync(
    process.execPath,
    [
      CLI,
      'fleet',
      'haproxy-config',
      '--etcd',
      etcd,
      '--prefix',
      PREFIX,
      '--bind',
      `127.0.0.1:${port}`,
      '--haproxy-socket',
      socket,
      '--haproxy-map',
      map,
      '--log',
      '/dev/null local0',
    ],
    { encoding: 'utf8' },
  );
  if (printed.status !== 0) throw new Error(`haproxy-config: ${printed.stderr}`);
  const config = join(root, 'haproxy.cfg');
  writeFileSync(config, printed.stdout);
  rmSync(socket, { force: true });
  const proc = spawned('/usr/sbin/haproxy', ['-db', '-f', config]);
  for (let i = 0; !existsSync(socket); i++) {
    if (i > 200) throw new Error('haproxy did not start');
    await sleep(50);
  }
  return { ...proc, socket, map };
}

/** The map entry of `chain` in HAProxy (what `fleet run` mirrored), via the runtime socket. */
async function mapped(socket: string, map: string, chain: string): Promise<string | null> {
  const { HaproxyRuntime } = await import('../src/fleet/index.js');
  const entries = await new HaproxyRuntime({ socket, timeoutMs: 2_000, maxAnswerBytes: 1 << 22 }).showMap(map);
  return entries.get(chain) ?? null;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface CostRow {
  pair: number;
  path: 'direct' | 'HAProxy';
  entriesPerSec: number;
  p50Us: number | null;
  p99Us: number | null;
  etcdRequests: number;
  framesAccepted: number;
}

async function haproxyCost(
  g: Gateway,
  proxyPort: number,
  pairs: number,
  durationS: number,
): Promise<{ rows: CostRow[]; idleRequests: number; idleMs: number }> {
  const shape = { chains: 16, connections: 24, batch: 64, inflight: 16, zipf: 1, lightRate: 200, workers: 2 };
  const rows: CostRow[] = [];
  const wallMs: number[] = [];
  // Unmeasured: the chains are claimed (etcd) and the JIT warm.
  await runLoad({ name: 'warm-up', url: g.url.replace('http', 'ws'), pid: g.child.pid }, zipfPlan(shape, 'cost'), { durationS: 2, warmupS: 0, entrySize: 200 });
  for (let pair = 1; pair <= pairs; pair++) {
    for (const path of pair % 2 === 1 ? (['direct', 'HAProxy'] as const) : (['HAProxy', 'direct'] as const)) {
      const url = path === 'direct' ? g.url.replace('http', 'ws') : `ws://127.0.0.1:${proxyPort}`;
      const before = (await g.health()).fleet.etcdRequests;
      const started = performance.now();
      // The same chains every run: claimed by the first, so later runs count only what the per-frame path asks of etcd.
      const result: LoadResult = await runLoad({ name: path, url, pid: g.child.pid }, zipfPlan(shape, 'cost'), { durationS, warmupS: 1, entrySize: 200 });
      const requests = (await g.health()).fleet.etcdRequests - before;
      wallMs.push(performance.now() - started);
      rows.push({
        pair,
        path,
        entriesPerSec: Math.round(result.entriesPerSec),
        p50Us: result.accepted?.p50 ?? null,
        p99Us: result.accepted?.p99 ?? null,
        etcdRequests: requests,
        framesAccepted: Math.round(result.framesPerSec * durationS),
      });
      log(
        `pair ${pair} ${path}: ${Math.round(result.entriesPerSec)} entries/s, p50 ${result.accepted?.p50} µs, p99 ${result.accepted?.p99} µs, ${requests} etcd requests`,
      );
    }
  }
  // The same gateway idle for as long as a loaded run took (warm-up and drain included): its background requests.
  const idleMs = Math.round(wallMs.reduce((a, b) => a + b, 0) / wallMs.length);
  const before = (await g.health()).fleet.etcdRequests;
  await sleep(idleMs);
  return { rows, idleRequests: (await g.health()).fleet.etcdRequests - before, idleMs };
}

/** Fills `chain` on `g` with `entries` entries of 64 bytes, 1000 per frame, 16 frames in flight; resolves once all are committed. */
async function fill(g: Gateway, chain: string, entries: number): Promise<void> {
  const ws = new WebSocket(`${g.url.replace('http', 'ws')}/v1/chains/${chain}/stream`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const frames = Math.ceil(entries / 1000);
  let sent = 0;
  let answered = 0;
  await new Promise<void>((resolve, reject) => {
    const send = (): void => {
      while (sent < frames && sent - answered < 16) {
        ws.send(packr.pack(Array.from({ length: 1000 }, (_, i) => `entry ${sent * 1000 + i} `.padEnd(64, '.'))));
        sent++;
      }
    };
    ws.on('message', (data: Buffer) => {
      const reply = packr.unpack(data) as { type: string; message?: string };
      if (reply.type === 'committed') return;
      if (reply.type === 'error') return reject(new Error(`fill: ${reply.message}`));
      answered++;
      if (answered === frames) resolve();
      else send();
    });
    send();
  });
  ws.close();
  await until(
    `${entries} entries committed`,
    async () => ((await (await fetch(`${g.url}/v1/chains/${chain}`)).json()) as { committedSeq: number }).committedSeq >= frames * 1000,
    300_000,
  );
}

interface MoveRow {
  precopy: boolean;
  chainEntries: number;
  totalMs: number;
  prepareMs: number;
  handoffMs: number;
  adoptMs: number;
  commitMs: number;
  longestPauseMs: number;
  framesDuringMove: number;
}

/** Moves `chain` to `to` while a client of the package streams to it through the proxy; the longest gap between its `accepted`s. */
async function moveWhileStreaming(etcdUrl: string, proxyPort: number, chain: string, to: string, precopy: boolean): Promise<MoveRow> {
  const client = await connect(`http://127.0.0.1:${proxyPort}`, chain, { reconnect: { minDelayMs: 20, maxDelayMs: 500 } });
  const accepted: number[] = [];
  let streaming = true;
  const stream = (async () => {
    const inFlight = new Set<Promise<void>>();
    while (streaming) {
      // A refusal comes back at once: without a real wait the loop would starve the event loop of I/O.
      const p = client
        .submit(['streamed during the move'])
        .then(
          () => {
            accepted.push(performance.now());
          },
          () => sleep(10),
        )
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 4) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })();
  await sleep(1000);
  const chainEntries = ((await (await fetch(`http://127.0.0.1:${proxyPort}/v1/chains/${chain}`)).json()) as { nextSeq: number }).nextSeq;
  const etcd = new EtcdClient({ endpoints: [etcdUrl], requestTimeoutMs: 5_000, maxResponseBytes: 1 << 24 });
  const http = new HttpGatewayApi(null, 600_000);
  const api: GatewayApi = precopy ? http : { handoff: (...a) => http.handoff(...a), adopt: (...a) => http.adopt(...a), abort: (...a) => http.abort(...a) };
  const started = performance.now();
  log(`moving "${chain}" to ${to} (${precopy ? 'with' : 'without'} pre-copy)…`);
  const outcome: MoveOutcome = await moveChain(etcd, new FleetKeys(PREFIX), api, chain, to);
  const ended = performance.now();
  log(`moved in ${Math.round(ended - started)} ms; ${accepted.length} frames answered so far`);
  if (!outcome.moved) throw new Error(`the move failed at ${outcome.step}: ${outcome.why}`);
  await sleep(2000);
  streaming = false;
  await stream;
  await client.close();
  etcd.close();
  const during = accepted.filter((t) => t >= started - 500 && t <= ended + 2000);
  let longest = 0;
  for (let i = 1; i < during.length; i++) longest = Math.max(longest, during[i]! - during[i - 1]!);
  return {
    precopy,
    chainEntries,
    totalMs: Math.round(ended - started),
    prepareMs: Math.round(outcome.ms.prepare),
    handoffMs: Math.round(outcome.ms.handoff),
    adoptMs: Math.round(outcome.ms.adopt),
    commitMs: Math.round(outcome.ms.commit),
    longestPauseMs: Math.round(longest),
    framesDuringMove: during.length,
  };
}

/** New chains per second through a gateway: each chain's first POSTed entry claims it in etcd; `inFlight` requests at a time. */
async function claimsPerSecond(g: Gateway, chains: number, inFlight: number): Promise<{ chains: number; seconds: number; perSec: number }> {
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < chains) {
      const name = `claim-${next++}`;
      const answer = await fetch(`${g.url}/v1/chains/${name}/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '["first"]' });
      if (answer.status !== 200) throw new Error(`${name}: ${answer.status} ${await answer.text()}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { chains, seconds: Math.round(seconds * 100) / 100, perSec: Math.round(chains / seconds) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      pairs: { type: 'string', default: '2' },
      entries: { type: 'string', default: '1000000' },
      claims: { type: 'string', default: '2000' },
      json: { type: 'boolean', default: false },
    },
  });
  const root = mkdtempSync(join(tmpdir(), 'chainlanes-bench-fleet-'));
  const etcd = await startEtcd();
  const procs: Proc[] = [];
  try {
    const proxyPort = await freePort();
    const allowed = [`127.0.0.1:${proxyPort}`];
    log('starting g1, HAProxy (one gateway) and fleet run…');
    const g1 = await startGateway('g1', etcd.url, root, allowed);
    procs.push(g1);
    let proxy = await startHaproxy(etcd.url, root, proxyPort);
    procs.push(proxy);
    procs.push(
      spawned(process.execPath, [
        CLI,
        'fleet',
        'run',
        '--etcd',
        etcd.url,
        '--prefix',
        PREFIX,
        '--haproxy-socket',
        proxy.socket,
        '--haproxy-map',
        proxy.map,
        '--no-balance',
      ]),
    );
    const cost = await haproxyCost(g1, proxyPort, Number(values.pairs), Number(values.duration));

    log('starting g2 and g3, HAProxy again for all three, filling a chain…');
    const g2 = await startGateway('g2', etcd.url, root, allowed);
    procs.push(g2);
    const g3 = await startGateway('g3', etcd.url, root, allowed);
    procs.push(g3);
    await proxy.stop();
    proxy = await startHaproxy(etcd.url, root, proxyPort);
    procs.push(proxy);
    const entries = Number(values.entries);
    const fillStarted = performance.now();
    await fill(g1, 'big', entries);
    log(`filled "big" with ${entries} entries in ${Math.round(performance.now() - fillStarted)} ms`);
    await until('the map naming g1 for "big"', async () => (await mapped(proxy.socket, proxy.map, 'big')) === 'g1');
    const moves: MoveRow[] = [];
    moves.push(await moveWhileStreaming(etcd.url, proxyPort, 'big', 'g2', true));
    await until('the map naming g2 for "big"', async () => (await mapped(proxy.socket, proxy.map, 'big')) === 'g2');
    // To a gateway that holds none of the chain: the whole of it is copied during the pause.
    moves.push(await moveWhileStreaming(etcd.url, proxyPort, 'big', 'g3', false));
    for (const m of moves) log(`move ${m.precopy ? 'with' : 'without'} pre-copy: ${JSON.stringify(m)}`);

    const claims = await claimsPerSecond(g1, Number(values.claims), 32);
    log(`claims: ${JSON.stringify(claims)}`);
    const report = {
      machine: machineInfo(),
      at: new Date().toISOString(),
      durationS: Number(values.duration),
      haproxy: cost.rows,
      idleEtcdRequests: cost.idleRequests,
      idleMs: cost.idleMs,
      moves,
      claims,
    };
    if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else printTables(report);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await etcd.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

function printTables(r: {
  haproxy: CostRow[];
  idleEtcdRequests: number;
  idleMs: number;
  moves: MoveRow[];
  claims: { chains: number; seconds: number; perSec: number };
}): void {
  const out = (line: string): void => void process.stdout.write(line + '\n');
  out('| pair | path | entries/s | p50 µs | p99 µs | etcd requests (frames) |');
  out('|---|---|---:|---:|---:|---:|');
  for (const row of r.haproxy)
    out(
      `| ${row.pair} | ${row.path} | ${row.entriesPerSec.toLocaleString('en-US')} | ${row.p50Us ?? '–'} | ${row.p99Us ?? '–'} | ${row.etcdRequests} (${row.framesAccepted.toLocaleString('en-US')}) |`,
    );
  out(`idle for as long (${r.idleMs} ms, a loaded run's wall time): ${r.idleEtcdRequests} etcd requests`);
  out('');
  out('| pre-copy | entries | total ms | prepare | handoff | adopt | commit | longest pause ms | frames answered meanwhile |');
  out('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const m of r.moves)
    out(
      `| ${m.precopy ? 'yes' : 'no'} | ${m.chainEntries.toLocaleString('en-US')} | ${m.totalMs} | ${m.prepareMs} | ${m.handoffMs} | ${m.adoptMs} | ${m.commitMs} | ${m.longestPauseMs} | ${m.framesDuringMove} |`,
    );
  out('');
  out(`new chains claimed: ${r.claims.chains} in ${r.claims.seconds} s = ${r.claims.perSec}/s (first entry POSTed, 32 in flight)`);
}

await main();

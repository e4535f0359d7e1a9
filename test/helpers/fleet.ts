// Fleet members in processes of their own (test/fleet/fixtures/member.ts,
// built into dist/), optionally inside a lab host's network namespace, with
// their JSON reports collected as they come.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FleetNode, GatewayFleetSchema, HaproxyRuntime } from '../../src/fleet/index.js';
import { silentLogger } from '../../src/log/index.js';
import type { EtcdCluster } from './etcd.js';
import { registerCleanup } from './cleanup.js';
import { startCreditGateway, type CreditGateway } from './credits.js';
import { CLI, ROOT, freePort, parseLogLines, runCli, type LogLine } from './gateway.js';
import { haproxyPaths, startHaproxy, type Haproxy, type HaproxyPaths } from './haproxy.js';
import type { Lab } from './netns.js';

export const MEMBER_FIXTURE = join(ROOT, 'dist', 'test', 'fleet', 'fixtures', 'member.js');

export interface MemberReport {
  event: string;
  id: string;
  at: number;
  [field: string]: unknown;
}

export interface MemberProcess {
  process: ChildProcess;
  reports: MemberReport[];
  /** Resolves with the first report (from now or already received) that matches. */
  waitFor(match: (r: MemberReport) => boolean, timeoutMs?: number): Promise<MemberReport>;
  stderr(): string;
  /** A command line on the member's stdin (fixtures/member.ts lists them). */
  send(line: string): void;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface MemberProcessArgs {
  endpoints: string[];
  prefix: string;
  id: string;
  url: string;
  store?: string;
  ttlSeconds: number;
  marginMs: number;
  chain: string;
  claim: boolean;
}

/** A child's stdout JSON lines (those starting with `{`), collected as they come, and the tail of its stderr. */
export function collectReports<T>(child: ChildProcess): { reports: T[]; stderr(): string } {
  const reports: T[] = [];
  let stderr = '';
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    partial += chunk;
    let newline: number;
    while ((newline = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, newline);
      partial = partial.slice(newline + 1);
      if (line.startsWith('{')) reports.push(JSON.parse(line) as T);
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-32 * 1024);
  });
  return { reports, stderr: () => stderr };
}

export function startMemberProcess(args: MemberProcessArgs, where?: { lab: Lab; host: string }): MemberProcess {
  const argv = [process.execPath, MEMBER_FIXTURE, JSON.stringify({ store: `store-${args.id}`, ...args })];
  const command = where === undefined ? argv : where.lab.command(where.host, argv);
  const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const { reports, stderr } = collectReports<MemberReport>(child);
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await closed;
  };
  registerCleanup(`fleet member ${args.id} pid ${child.pid ?? '?'}`, () => kill());
  return {
    process: child,
    reports,
    stderr,
    send: (line) => {
      child.stdin!.write(line + '\n');
    },
    kill,
    waitFor: async (match, timeoutMs = 20_000) => {
      let found: MemberReport | undefined;
      await expect
        .poll(
          () => {
            found = reports.find(match);
            if (found !== undefined) return true;
            return child.exitCode !== null ? `member ${args.id} exited: ${stderr}` : false;
          },
          { timeout: timeoutMs, interval: 20 },
        )
        .toBe(true);
      return found!;
    },
  };
}

/**
 * `chainlanes ARGS` without blocking this process (runCli's spawnSync would
 * stall servers the test runs itself, such as stand-in gateways the command calls).
 */
export function runCliAsync(
  args: string[],
  timeoutMs = 30_000,
  env: Record<string, string> = {},
): Promise<{ status: number | null; output: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('close', (status) => resolve({ status, output: stdout + stderr, stderr }));
  });
}

// ---- real gateways in a fleet, `fleet run`, and HAProxy in front

export interface FleetGatewayOptions {
  etcd: string[];
  prefix: string;
  id: string;
  adminKey: string;
  /** Run the gateway in this lab host's namespace, listening at its address on `network`. */
  lab?: { lab: Lab; host: string; network: string };
  /** Names clients (HAProxy) reach the gateway by, e.g. the proxy's `host:port`. */
  allowedHosts?: string[];
  dataDir?: string;
  /** A fixed port (a restart keeps the URL HAProxy and etcd know); by default a free one. */
  port?: number;
  leaseTtlSeconds?: number;
  leaseMarginMs?: number;
  /** Config beyond the fleet (merged over short blocks and a short watch check). */
  config?: Record<string, unknown>;
  /** Fleet settings beyond the test's defaults (e.g. handoffDeadlineMs). */
  fleet?: Record<string, unknown>;
}

export interface FleetGateway extends CreditGateway {
  id: string;
  /** Its advertise URL: where other gateways, HAProxy and the test reach it. */
  url: string;
  options: FleetGatewayOptions;
}

/** A port for a gateway in a lab host's namespace: the namespace is the gateway's own, so one port serves all. */
const LAB_PORT = 9001;

/** A real gateway (the CLI, authenticated) in a fleet; `restart` starts it again on the same store. */
export async function startFleetGateway(options: FleetGatewayOptions): Promise<FleetGateway> {
  const host = options.lab === undefined ? '127.0.0.1' : options.lab.lab.address(options.lab.host, options.lab.network);
  const port = options.port ?? (options.lab === undefined ? await freePort() : LAB_PORT);
  const url = `http://${host}:${port}`;
  const config = {
    host,
    allowedHosts: options.allowedHosts ?? [],
    ledger: { blockIntervalMs: 100 },
    ...options.config,
    fleet: {
      etcd: { endpoints: options.etcd, prefix: options.prefix, requestTimeoutMs: 1_000, watchCheckMs: 500 },
      gatewayId: options.id,
      advertiseUrl: url,
      leaseTtlSeconds: options.leaseTtlSeconds ?? 4,
      leaseMarginMs: options.leaseMarginMs ?? 500,
      loadReportMs: 500,
      ...options.fleet,
    },
  };
  const gw = await startCreditGateway({
    adminKey: options.adminKey,
    port,
    clientHost: host,
    config,
    dataDir: options.dataDir,
    launcher: options.lab === undefined ? undefined : options.lab.lab.command(options.lab.host, []),
  });
  return { ...gw, id: options.id, url, options: { ...options, dataDir: gw.dataDir, port } };
}

export interface FleetRunProcess {
  lines(): LogLine[];
  kill(signal?: NodeJS.Signals): Promise<void>;
  pid: number;
}

/** `chainlanes fleet run ARGS` as a process of its own, its log kept. */
export function fleetRun(args: string[], env: Record<string, string> = {}): FleetRunProcess {
  const child = spawn(process.execPath, [CLI, 'fleet', 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await closed;
  };
  registerCleanup(`fleet run pid ${child.pid ?? '?'}`, () => kill());
  return { lines: () => parseLogLines(out), kill, pid: child.pid! };
}

export interface FleetProxy {
  paths: HaproxyPaths;
  port: number;
  haproxy: Haproxy;
  runtime: HaproxyRuntime;
  /** http://127.0.0.1:port (or the lab address) */
  url: string;
}

/** `fleet run`'s arguments that point it at the fleet in `etcd` under `prefix` and at the proxy's runtime socket and map file. */
export function mirrorArgs(etcd: string[], prefix: string, proxy: FleetProxy): string[] {
  return ['--etcd', etcd.join(','), '--prefix', prefix, '--haproxy-socket', proxy.paths.socket, '--haproxy-map', proxy.paths.map];
}

/**
 * HAProxy on `chainlanes fleet haproxy-config`'s configuration for the members
 * etcd holds now, at `bind` (127.0.0.1 and a free port by default).
 */
export async function proxyFor(etcd: string[], prefix: string, bind?: { host: string; port: number }): Promise<FleetProxy> {
  const paths = haproxyPaths();
  const host = bind?.host ?? '127.0.0.1';
  const port = bind?.port ?? (await freePort());
  const printed = runCli([
    'fleet',
    'haproxy-config',
    '--etcd',
    etcd.join(','),
    '--prefix',
    prefix,
    '--bind',
    `${host}:${port}`,
    '--haproxy-socket',
    paths.socket,
    '--haproxy-map',
    paths.map,
  ]);
  expect(printed.status, printed.output).toBe(0);
  const haproxy = await startHaproxy(paths, printed.output);
  return {
    paths,
    port,
    haproxy,
    url: `http://${host}:${port}`,
    runtime: new HaproxyRuntime({ socket: paths.socket, timeoutMs: 2_000, maxAnswerBytes: 1 << 22 }),
  };
}

/** A FleetNode in this process on a real etcd (a 4 s lease, quick watch checks), stopped after the test; `extra` overrides its settings. */
export async function startFleetNode(etcd: EtcdCluster, prefix: string, id: string, extra: Record<string, unknown> = {}): Promise<FleetNode> {
  const settings = GatewayFleetSchema.parse({
    etcd: { endpoints: etcd.endpoints, prefix, requestTimeoutMs: 2_000, watchCheckMs: 500 },
    gatewayId: id,
    advertiseUrl: `http://${id}.test:9001`,
    leaseTtlSeconds: 4,
    leaseMarginMs: 500,
    ...extra,
  });
  const started = await FleetNode.start({ settings, store: `store-${id}`, capacity: { entriesPerSec: 1e5, bytesPerSec: 1e8 }, log: silentLogger() });
  registerCleanup(`fleet node ${id}`, () => started.stop());
  return started;
}

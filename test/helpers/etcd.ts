// Real etcd for the fleet tests: Debian's etcd-server (3.4), one member or a
// three-member cluster on 127.0.0.1 ephemeral ports, or inside network
// namespaces of a Lab (netns.ts) at the hosts' own addresses. Data dirs are
// on tmpfs (/dev/shm: each pre-allocates a 62 MB WAL) and removed by the
// cleanup registry, with the processes, whatever the test's outcome.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { registerCleanup } from './cleanup.js';
import { freePort } from './gateway.js';
import type { Lab } from './netns.js';

export const ETCD_BINARY = '/usr/bin/etcd';
/** tmpfs: a WAL per data dir costs memory, not the disk of the machine shared with others. */
const DATA_ROOT = '/dev/shm';

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  process: ChildProcess | null;
  /** What the member wrote to stdout and stderr (zap JSON lines). */
  output: string;
}

export interface EtcdCluster {
  /** Every member's client URL, for the fleet's --etcd. */
  endpoints: string[];
  members: EtcdMember[];
  /** SIGKILL of one member (its data dir stays, so it can start again). */
  kill(index: number): Promise<void>;
  /** Starts a killed member again on its data dir; resolves when it answers. */
  restart(index: number): Promise<void>;
  /** The member that leads now (by /v3/maintenance/status), or -1. */
  leader(): Promise<number>;
}

export interface EtcdOptions {
  members?: 1 | 3;
  /** Run member i in lab host hosts[i] (its address, fixed ports 2379/2380) instead of on 127.0.0.1. */
  lab?: { lab: Lab; hosts: string[]; network: string };
}

/** A unique name per cluster: neighbours' tests run etcd too. */
let clusters = 0;

export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdCluster> {
  const count = options.members ?? 1;
  const token = `fleet-${process.pid}-${++clusters}`;
  for (let attempt = 0; ; attempt++) {
    const members = await plan(count, token, options);
    try {
      for (const m of members) launch(m, members, token, options);
      await Promise.all(members.map((m) => waitHealthy(m)));
      return cluster(members, token, options);
    } catch (error) {
      // An ephemeral port taken by a neighbour between freePort() and etcd's bind: new ports, once more.
      for (const m of members) await stopMember(m);
      if (options.lab !== undefined || attempt >= 2 || !members.some((m) => /address already in use/.test(m.output))) throw error;
    }
  }
}

async function plan(count: number, token: string, options: EtcdOptions): Promise<EtcdMember[]> {
  const members: EtcdMember[] = [];
  for (let i = 0; i < count; i++) {
    const dataDir = mkdtempSync(join(DATA_ROOT, 'chainlanes-fleet-etcd-'));
    registerCleanup(`etcd data dir ${dataDir}`, () => rmSync(dataDir, { recursive: true, force: true }));
    let host = '127.0.0.1';
    let client: number;
    let peer: number;
    if (options.lab !== undefined) {
      host = options.lab.lab.address(options.lab.hosts[i]!, options.lab.network);
      [client, peer] = [2379, 2380];
    } else {
      [client, peer] = [await freePort(), await freePort()];
    }
    members.push({ name: `${token}-m${i}`, clientUrl: `http://${host}:${client}`, peerUrl: `http://${host}:${peer}`, dataDir, process: null, output: '' });
  }
  return members;
}

function launch(member: EtcdMember, all: EtcdMember[], token: string, options: EtcdOptions, existing = false): void {
  const args = [
    '--name',
    member.name,
    '--data-dir',
    member.dataDir,
    '--logger=zap',
    '--log-level=warn',
    '--listen-client-urls',
    member.clientUrl,
    '--advertise-client-urls',
    member.clientUrl,
    '--listen-peer-urls',
    member.peerUrl,
    '--initial-advertise-peer-urls',
    member.peerUrl,
    '--initial-cluster',
    all.map((m) => `${m.name}=${m.peerUrl}`).join(','),
    '--initial-cluster-token',
    token,
    '--initial-cluster-state',
    existing ? 'existing' : 'new',
    // Tests compact nothing by themselves, and a small WAL segment would not save memory (it is pre-allocated at 64 MB).
    '--heartbeat-interval',
    '100',
    '--election-timeout',
    '1000',
  ];
  const index = all.indexOf(member);
  const command = options.lab === undefined ? [ETCD_BINARY, ...args] : options.lab.lab.command(options.lab.hosts[index]!, [ETCD_BINARY, ...args]);
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  member.process = child;
  child.stdout!.on('data', (d: Buffer) => {
    member.output = (member.output + d.toString()).slice(-64 * 1024);
  });
  child.stderr!.on('data', (d: Buffer) => {
    member.output = (member.output + d.toString()).slice(-64 * 1024);
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  registerCleanup(`etcd ${member.name} pid ${child.pid ?? '?'}`, async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await closed;
  });
}

async function waitHealthy(member: EtcdMember): Promise<void> {
  const healthy = (): Promise<true | string | false> => {
    const child = member.process;
    if (child !== null && (child.exitCode !== null || child.signalCode !== null))
      return Promise.resolve(`etcd ${member.name} exited: ${member.output.slice(-2000)}`);
    return fetch(`${member.clientUrl}/health`, { signal: AbortSignal.timeout(1000) })
      .then(async (r) => ((await r.json()) as { health?: string }).health === 'true')
      .catch(() => false);
  };
  await expect.poll(healthy, { timeout: 20_000, interval: 50 }).toBe(true);
}

async function stopMember(member: EtcdMember): Promise<void> {
  const child = member.process;
  if (child === null) return;
  if (child.exitCode === null && child.signalCode === null) {
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.kill('SIGKILL');
    await closed;
  }
  member.process = null;
}

function cluster(members: EtcdMember[], token: string, options: EtcdOptions): EtcdCluster {
  return {
    endpoints: members.map((m) => m.clientUrl),
    members,
    kill: (index) => stopMember(members[index]!),
    restart: async (index) => {
      launch(members[index]!, members, token, options, true);
      await waitHealthy(members[index]!);
    },
    leader: async () => {
      for (let i = 0; i < members.length; i++) {
        if (members[i]!.process === null) continue;
        try {
          const r = await fetch(`${members[i]!.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
          const body = (await r.json()) as { header?: { member_id?: string }; leader?: string };
          if (body.leader !== undefined && body.leader === body.header?.member_id) return i;
        } catch {
          // Down or partitioned: not the leader we can see.
        }
      }
      return -1;
    },
  };
}

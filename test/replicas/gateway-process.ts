// Gateways with standby replicas as processes of their own (the fixture
// replica-gateway.ts), and a raw stream client: what the replica tests share.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import WebSocket from 'ws';
import type { EntryProof } from '../../src/client/index.js';
import { ROOT, freePort, registerCleanup, startEtcd, tempDir, type EtcdCluster } from '../helpers/index.js';
import { collectReports } from '../helpers/fleet.js';

const FIXTURE = join(ROOT, 'dist', 'test', 'replicas', 'fixtures', 'replica-gateway.js');
const LOST_AFTER_MS = 1_000;
let prefixes = 0;

/** An etcd prefix no other fleet of this test process uses. */
export function newPrefix(): string {
  return `/replicas-${process.pid}-${++prefixes}/`;
}

export interface Report {
  event: string;
  [field: string]: unknown;
}

export interface GatewayProcess {
  id: string;
  port: number;
  dataDir: string;
  /** With `relayed`: the path the fleet reaches it by (its advertised URL). */
  relay: Relay | null;
  child: ChildProcess;
  reports: Report[];
  stderr(): string;
  healthz(): Promise<{ fleet?: { replica?: Record<string, unknown> } }>;
  position(owner: string): Promise<number>;
  /** The highest directory sealed in this gateway's own store (its /healthz can say only what was committed). */
  sealedHeight(): Promise<number>;
  /** The entry's proof as this gateway's store gives it (null: not there). */
  proof(chain: string, seq: number): Promise<EntryProof | null>;
}

/**
 * Beyond the defaults: a short lease (failover tests), names a proxy reaches it by, and a longer lost clock —
 * an owner that calls its standby lost under the machine's load and goes alone is (rightly) not taken over.
 */
export interface GatewayMore {
  leaseTtlSeconds?: number;
  allowedHosts?: string[];
  lostAfterMs?: number;
  /** A data directory to start on (a gateway coming back); a new one by default. */
  dataDir?: string;
  /** The port to listen on (a gateway coming back where HAProxy's configuration has it); a free one by default. */
  port?: number;
  /** fleet.maxUnreplicatedBytes; the default otherwise. */
  maxUnreplicatedBytes?: number;
  /** The fleet reaches it through a relay the test can cut (GatewayProcess.relay): a partition of the path to it. */
  relayed?: boolean;
}

/** Failover tests: a 4 s lease, and a lost clock long enough that no owner goes alone by the machine's load before it is killed. */
export const FAILOVER: GatewayMore = { leaseTtlSeconds: 4, lostAfterMs: 8_000 };

export async function startReplicaGateway(
  etcd: EtcdCluster,
  prefix: string,
  id: string,
  machine: string,
  whenStandbyLost: 'wait' | 'alone',
  more: GatewayMore = {},
): Promise<GatewayProcess> {
  const port = more.port ?? (await freePort());
  const relay = more.relayed === true ? await relayTo(port) : null;
  const args = {
    id,
    machine,
    port,
    advertisePort: relay?.port ?? port,
    dataDir: more.dataDir ?? tempDir(`chainlanes-replicas-${id}-`),
    endpoints: etcd.endpoints,
    prefix,
    whenStandbyLost,
    lostAfterMs: more.lostAfterMs ?? LOST_AFTER_MS,
    leaseTtlSeconds: more.leaseTtlSeconds ?? 10,
    allowedHosts: [...(more.allowedHosts ?? []), ...(relay === null ? [] : [`127.0.0.1:${relay.port}`])],
    maxUnreplicatedBytes: more.maxUnreplicatedBytes,
  };
  const child = spawn(process.execPath, [FIXTURE, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const { reports, stderr } = collectReports<Report>(child);
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  registerCleanup(`replica gateway ${id} pid ${child.pid ?? '?'}`, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await closed;
  });
  await until(`${id} listening`, () => reports.some((r) => r.event === 'listening') || child.exitCode !== null, 60_000);
  if (child.exitCode !== null) throw new Error(`replica gateway ${id} exited: ${stderr()}`);
  return {
    id,
    port,
    dataDir: args.dataDir,
    relay,
    child,
    reports,
    stderr,
    healthz: async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).json() as Promise<{ fleet?: { replica?: Record<string, unknown> } }>,
    position: async (owner) => (await ask(`position ${owner}`, 'position')).height as number,
    sealedHeight: async () => (await ask('sealed', 'sealed')).height as number,
    proof: async (chain, seq) => (await ask(`proof ${chain} ${seq}`, 'proof')).proof as EntryProof | null,
  };
  async function ask(command: string, event: string): Promise<Report> {
    const before = reports.length;
    child.stdin!.write(`${command}\n`);
    await until(`the ${event} report`, () => reports.slice(before).some((r) => r.event === event));
    return reports.slice(before).find((r) => r.event === event)!;
  }
}

/**
 * A TCP relay to a gateway on 127.0.0.1: `cut()` is a partition of this path
 * — the connections open stay open and carry nothing further (what was sent
 * into them is dropped), new ones are accepted and carry nothing — and
 * `heal()` ends the cut connections (as TCP would once it gave up) and lets
 * new ones through again.
 */
export interface Relay {
  port: number;
  cut(): void;
  heal(): void;
}

export async function relayTo(target: number): Promise<Relay> {
  let cut = false;
  const pairs = new Set<{ client: Socket; server: Socket | null }>();
  const blackHoled = new Set<Socket>();
  const swallow = (socket: Socket): void => {
    socket.unpipe();
    socket.removeAllListeners('data');
    socket.removeAllListeners('close'); // the other side's end does not cross a partition either
    socket.on('data', () => undefined); // read and dropped: nothing reaches the other side
    blackHoled.add(socket);
  };
  const relay = createServer((client) => {
    client.on('error', () => undefined);
    if (cut) return swallow(client);
    const server = connect(target, '127.0.0.1');
    server.on('error', () => client.destroy());
    const pair = { client, server };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('close', end);
    server.on('close', end);
    client.pipe(server);
    server.pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  registerCleanup('relay', () => {
    for (const socket of blackHoled) socket.destroy();
    for (const { client, server } of pairs) {
      client.destroy();
      server?.destroy();
    }
    return new Promise<void>((resolve) => relay.close(() => resolve()));
  });
  return {
    port: (relay.address() as AddressInfo).port,
    cut: () => {
      cut = true;
      for (const { client, server } of pairs) {
        swallow(client);
        if (server !== null) swallow(server);
      }
      pairs.clear();
    },
    heal: () => {
      cut = false;
      for (const socket of blackHoled) socket.destroy();
      blackHoled.clear();
    },
  };
}

/** `waiting`, or its failure with the gateway's warnings (its stderr) appended: why it did not get there. */
/** `waiting`, its failure told with what `more()` says then. */
export async function telling(more: () => string | Promise<string>, waiting: Promise<void>): Promise<void> {
  try {
    await waiting;
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}; ${await more()}`);
  }
}

/** `waiting`, its failure told with the tail of what `g` wrote on stderr. */
export function saying(g: GatewayProcess, waiting: Promise<void>): Promise<void> {
  return telling(() => `${g.id} said:\n${g.stderr().slice(-3000)}`, waiting);
}

export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export type ErrorBody = { error: { code: string; message: string } };

export type Reply = {
  type: string;
  frame?: number;
  seq?: number;
  count?: number;
  hashes?: Uint8Array;
  code?: string;
  message?: string;
  directory?: number;
  alone?: boolean;
};

/** A raw stream client: frames are msgpack arrays of strings, replies decoded as they come. */
export async function stream(port: number, chain: string): Promise<{ send(entries: string[]): number; replies: Reply[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/chains/${chain}/stream`, ['chainlanes.v1']);
  registerCleanup('stream client', () => ws.terminate());
  const replies: Reply[] = [];
  ws.on('message', (data: Buffer) => replies.push(unpack(data) as Reply));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let frames = 0;
  return {
    send: (entries) => {
      ws.send(pack(entries));
      return frames++;
    },
    replies,
  };
}

export const answerTo = (replies: Reply[], frame: number) => replies.find((r) => (r.type === 'accepted' || r.type === 'error') && r.frame === frame);
export const committedUpTo = (replies: Reply[]) => Math.max(-1, ...replies.filter((r) => r.type === 'committed').map((r) => r.seq! + r.count! - 1));

/** Sends a frame, retrying while the chain is being claimed, until it is accepted; its seq. */
export async function acceptedFrame(client: Awaited<ReturnType<typeof stream>>, entries: string[]): Promise<Reply> {
  for (;;) {
    const frame = client.send(entries);
    await until(`an answer to frame ${frame}`, () => answerTo(client.replies, frame) !== undefined);
    const answer = answerTo(client.replies, frame)!;
    if (answer.type === 'accepted') return answer;
    if (answer.code !== 'busy') throw new Error(`frame refused: ${answer.code} ${answer.message}`);
  }
}

export async function pair(
  whenStandbyLost: 'wait' | 'alone',
  survivor: 'wait' | 'alone' = 'wait',
  more: GatewayMore = {},
): Promise<{ etcd: EtcdCluster; prefix: string; g1: GatewayProcess; g2: GatewayProcess }> {
  const etcd = await startEtcd();
  const prefix = newPrefix();
  const [g1, g2] = await Promise.all([
    startReplicaGateway(etcd, prefix, 'g1', 'm1', whenStandbyLost, more),
    startReplicaGateway(etcd, prefix, 'g2', 'm2', survivor, more),
  ]);
  await shipping(g1, 'g2');
  return { etcd, prefix, g1, g2 };
}

export type Client = Awaited<ReturnType<typeof stream>>;

/** Each seq's entry hash (hex) from `accepted` replies, added to `into`. */
export function acceptedHashes(replies: readonly Reply[], into = new Map<number, string>()): Map<number, string> {
  for (const r of replies)
    if (r.type === 'accepted') for (let i = 0; i < r.count!; i++) into.set(r.seq! + i, Buffer.from(r.hashes!.subarray(i * 32, (i + 1) * 32)).toString('hex'));
  return into;
}

export async function exited(g: GatewayProcess): Promise<void> {
  if (g.child.exitCode !== null || g.child.signalCode !== null) return;
  await new Promise<void>((resolve) => g.child.once('exit', () => resolve()));
}

export async function killed(g: GatewayProcess): Promise<void> {
  g.child.kill('SIGKILL');
  await exited(g);
}

/** A stream to the chain on `g` once it serves it (after a takeover: refused with 421 until then). */
export async function streamWhenServed(g: GatewayProcess, chain: string): Promise<Client> {
  let client: Client | undefined;
  await saying(
    g,
    until(
      `${g.id} serves ${chain}`,
      () =>
        stream(g.port, chain).then(
          (s) => ((client = s), true),
          () => false,
        ),
      60_000,
    ),
  );
  return client!;
}

/** `owner` ships to `standby` (its /healthz says so). */
export async function shipping(owner: GatewayProcess, standby: string): Promise<void> {
  await saying(
    owner,
    until(
      `${owner.id} ships to ${standby}`,
      async () => {
        const replica = (await owner.healthz()).fleet?.replica;
        return replica?.standby === standby && replica.stream === 'shipping';
      },
      60_000,
    ),
  );
}

// `chainlanes fleet run` and `fleet move|status|events` as processes, with real
// etcd and real HAProxy. The gateways are FleetNodes (real membership, claims,
// gates and handoff state in etcd) behind small HTTP servers that expose the
// handoff routes the front door will gain (docs/fleet.md "Integration"); only
// the moving of blocks is not there yet, so `adopt` records the head it got.
import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { EtcdClient, FleetNode, GatewayFleetSchema, type HandoffHead } from '../../src/fleet/index.js';
import { fleetRun, mirrorArgs, proxyFor, registerCleanup, runCli, runCliAsync, startEtcd, type EtcdCluster, type FleetRunProcess } from '../helpers/index.js';

const quiet = pino({ level: 'silent' });

interface StandIn {
  node: FleetNode;
  url: string;
  adopted: HandoffHead[];
  failAdopt: boolean;
}

/** A FleetNode with the handoff routes over HTTP; `/readyz` answers 200 so HAProxy's checks pass. */
async function standIn(etcd: EtcdCluster, prefix: string, id: string): Promise<StandIn> {
  const state: Partial<StandIn> = { adopted: [], failAdopt: false };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      const send = (status: number, value: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const m = /^\/v1\/chains\/([^/]+)\/(handoff|adopt|handoff\/abort)$/.exec(req.url ?? '');
      if (req.url === '/readyz') return send(200, { ready: true });
      if (m === null || req.method !== 'POST') return send(404, { error: { code: 'not_found', message: req.url } });
      const [, chain, route] = m as unknown as [string, string, string];
      const node = state.node!;
      if (route === 'handoff') {
        const { to } = JSON.parse(body) as { to: string };
        const token = node.handoffs.begin(chain, to);
        if (typeof token === 'string') return send(409, { error: { code: 'bad_request', message: token } });
        const head: HandoffHead = { chain, from: id, to, token, nextSeq: 0, nextHeight: 0, lastBlockHash: '0'.repeat(64), credits: null };
        return send(200, head);
      }
      if (route === 'adopt') {
        if ((JSON.parse(body) as { prepare?: boolean }).prepare === true) return send(200, { prepared: true });
        if (state.failAdopt) return send(500, { error: { code: 'internal', message: 'the stand-in was told to fail adopt' } });
        state.adopted!.push((JSON.parse(body) as { head: HandoffHead }).head);
        return send(200, { ready: true });
      }
      void node.handoffs.abort(chain, 'asked by the coordinator').then((end) => send(200, { end }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registerCleanup(
    `stand-in ${id}`,
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const settings = GatewayFleetSchema.parse({
    etcd: { endpoints: etcd.endpoints, prefix, requestTimeoutMs: 2_000, watchCheckMs: 500 },
    gatewayId: id,
    advertiseUrl: url,
    leaseTtlSeconds: 4,
    leaseMarginMs: 500,
    loadReportMs: 500,
  });
  state.node = await FleetNode.start({ settings, store: `store-${id}`, capacity: { entriesPerSec: 100_000, bytesPerSec: 100e6 }, log: quiet });
  registerCleanup(`fleet node ${id}`, () => state.node!.stop());
  state.url = url;
  return state as StandIn;
}

const leading = (run: FleetRunProcess): boolean => {
  const changes = run.lines().filter((l) => l.event === 'fleet-leader');
  return changes.at(-1)?.leading === true;
};

describe('chainlanes fleet run', () => {
  it('two instances: one leads; both mirror ownership into HAProxy and its map file; when the leader is killed the other leads', async () => {
    const etcd = await startEtcd();
    const prefix = '/run/';
    const [g1, g2] = await Promise.all([standIn(etcd, prefix, 'g1'), standIn(etcd, prefix, 'g2')]);
    const proxy = await proxyFor(etcd.endpoints, prefix);
    const common = [...mirrorArgs(etcd.endpoints, prefix, proxy), '--lease-ttl', '2', '--every-ms', '200'];
    const a = fleetRun([...common, '--id', 'run-a']);
    const b = fleetRun([...common, '--id', 'run-b']);
    await expect.poll(() => [a, b].filter(leading).length, { timeout: 15_000 }).toBe(1);
    const [leader, follower] = leading(a) ? [a, b] : [b, a];

    // Chains claimed by g1 and g2 appear in HAProxy's map and in the map file.
    const names = Array.from({ length: 40 }, (_, i) => `c${i}`);
    await Promise.all(names.map((n, i) => (i % 2 === 0 ? g1 : g2).node.claims.claim(n)));
    await expect.poll(async () => (await proxy.runtime.showMap(proxy.paths.map)).size, { timeout: 10_000 }).toBe(40);
    const map = await proxy.runtime.showMap(proxy.paths.map);
    expect(map.get('c0')).toBe('g1');
    expect(map.get('c1')).toBe('g2');
    await expect
      .poll(
        () =>
          readFileSync(proxy.paths.map, 'utf8')
            .split('\n')
            .filter((l) => /^c\d+ g[12]$/.test(l)).length,
        { timeout: 10_000 },
      )
      .toBe(40);

    await leader.kill('SIGKILL');
    await expect.poll(() => leading(follower), { timeout: 15_000 }).toBe(true);
    // The survivor keeps mirroring: a move shows in the map.
    const moved = await runCliAsync(['fleet', 'move', 'c0', 'g2', '--etcd', etcd.endpoints.join(','), '--prefix', prefix]);
    expect(moved.output).toMatch(/chain "c0" is served by g2 now \(was g1; fencing token \d+\)/);
    expect(moved.status).toBe(0);
    await expect.poll(async () => (await proxy.runtime.showMap(proxy.paths.map)).get('c0'), { timeout: 10_000 }).toBe('g2');
    expect(g2.adopted.map((h) => `${h.chain} ${h.from}→${h.to}`)).toEqual(['c0 g1→g2']);
    await expect.poll(() => g1.node.gate.check('c0')).toMatchObject({ kind: 'moved', owner: 'g2', location: g2.url });

    const events = runCli(['fleet', 'events', '--etcd', etcd.endpoints.join(','), '--prefix', prefix, '--json']);
    const kinds = (JSON.parse(events.output) as { kind: string; source: string; chain?: string }[]).map(
      (e) => `${e.kind} ${e.source}${e.chain === undefined ? '' : ` ${e.chain}`}`,
    );
    expect(kinds.filter((k) => k.startsWith('leader '))).toEqual([`leader ${leader === a ? 'run-a' : 'run-b'}`, `leader ${leader === a ? 'run-b' : 'run-a'}`]);
    expect(kinds).toContain('manual-move fleet-move@' + (await import('node:os')).hostname() + ' c0');

    const status = JSON.parse(runCli(['fleet', 'status', '--etcd', etcd.endpoints.join(','), '--prefix', prefix, '--json']).output) as {
      leader: string;
      chains: number;
      members: { id: string; chains: number }[];
    };
    expect(status.leader).toBe(leader === a ? 'run-b' : 'run-a');
    expect(status.chains).toBe(40);
    expect(status.members.map((m) => `${m.id} ${m.chains}`)).toEqual(['g1 19', 'g2 21']);
  }, 60_000);

  it('the leader moves the chain that relieves an overloaded gateway most to the gateway with room, and says why in the events', async () => {
    const etcd = await startEtcd();
    const prefix = '/balance/';
    const [g1, g2] = await Promise.all([standIn(etcd, prefix, 'g1'), standIn(etcd, prefix, 'g2')]);
    for (const n of ['hot', 'warm', 'cold']) expect((await g1.node.claims.claim(n)).won).toBe(true);
    // g1 carries 90 % of its capacity (over the 0.8 headroom); g2 10 %.
    const report = (demand: number, top: { name: string; entriesPerSec: number }[]) => ({
      at: Date.now(),
      demand: { entriesPerSec: demand, bytesPerSec: 0 },
      chains: top.length,
      top: top.map((t) => ({ ...t, bytesPerSec: 0 })),
    });
    const publish = (): Promise<unknown> =>
      Promise.all([
        g1.node.member.publishLoad(
          report(90_000, [
            { name: 'hot', entriesPerSec: 60_000 },
            { name: 'warm', entriesPerSec: 25_000 },
            { name: 'cold', entriesPerSec: 5_000 },
          ]),
        ),
        g2.node.member.publishLoad(report(10_000, [])),
      ]);
    await publish();
    const timer = setInterval(() => void publish(), 300);
    registerCleanup('load reports', () => clearInterval(timer));
    const run = fleetRun([
      '--etcd',
      etcd.endpoints.join(','),
      '--prefix',
      prefix,
      '--lease-ttl',
      '2',
      '--every-ms',
      '200',
      '--overloaded-for-ms',
      '0',
      '--id',
      'solo',
    ]);
    // hot (0.6) would leave g2 at 0.7: it fits under 0.8 and relieves g1 most.
    await expect.poll(() => g1.node.gate.check('hot').kind, { timeout: 15_000 }).toBe('moved');
    await expect.poll(() => g2.node.gate.check('hot').kind).toBe('admit');
    expect(g1.node.gate.check('warm').kind).toBe('admit');
    const client = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
    registerCleanup('client', () => client.close());
    const events = JSON.parse(runCli(['fleet', 'events', '--etcd', etcd.endpoints.join(','), '--prefix', prefix, '--json']).output) as {
      kind: string;
      reason: string;
      numbers: Record<string, number>;
    }[];
    const move = events.find((e) => e.kind === 'move')!;
    expect(move.reason).toBe(
      'chain "hot" g1 → g2: g1 was over its headroom (0.90 of capacity > 0.8); this chain relieves it most (0.60) and g2 has room (0.70 after)',
    );
    expect(move.numbers).toMatchObject({ relief: 0.6, fromLoad: 0.9, fromLoadAfter: 0.3, toLoad: 0.1, toLoadAfter: 0.7, headroom: 0.8, entriesPerSec: 60_000 });
    expect(run.lines().some((l) => l.event === 'fleet-leader' && l.leading === true)).toBe(true);
  }, 60_000);

  it('fleet move: a failed adopt leaves the old owner as the only owner (it resumes), and the command says which step failed', async () => {
    const etcd = await startEtcd();
    const prefix = '/move/';
    const [g1, g2] = await Promise.all([standIn(etcd, prefix, 'g1'), standIn(etcd, prefix, 'g2')]);
    const claimed = await g1.node.claims.claim('ledger');
    expect(claimed.won).toBe(true);
    g2.failAdopt = true;
    const failed = await runCliAsync(['fleet', 'move', 'ledger', 'g2', '--etcd', etcd.endpoints.join(','), '--prefix', prefix]);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/moving chain "ledger" to "g2" failed at adopt: .*HTTP 500: the stand-in was told to fail adopt; g1 keeps it/);
    await expect.poll(() => g1.node.gate.check('ledger').kind).toBe('admit');
    expect(g1.node.handoffs.isHandingOff('ledger')).toBe(false);
    const unknown = await runCliAsync(['fleet', 'move', 'ledger', 'nobody', '--etcd', etcd.endpoints.join(','), '--prefix', prefix]);
    expect(unknown.stderr).toMatch(/failed at lookup: gateway "nobody" is not a live member/);
    const usage = runCli(['fleet', 'move', 'ledger', '--etcd', etcd.endpoints.join(',')]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/give CHAIN and GATEWAY/);
    expect(runCli(['fleet', 'status']).stderr).toMatch(/--etcd URLS is required/);
  }, 60_000);
});

// A gateway of a fleet killed with `kill -9`, behind real HAProxy: HAProxy
// marks it down by its health checks; its chains answer 503 naming it — through
// the proxy and from the other gateways — until it returns (there are no
// replicas yet); nothing it reported committed is lost; restarted on its
// store, it rejoins with its chains and they go on where they were.
import { describe, expect, it } from 'vitest';
import { connect, verifyEntry, type CommittedNotice, type EntryProof } from '../../src/client/index.js';
import { newKey } from '../../src/credits/index.js';
import { fleetRun, mirrorArgs, freePort, proxyFor, registerCleanup, runCli, startEtcd, startFleetGateway, type FleetProxy } from '../helpers/index.js';

/** HAProxy's operational state of the server of backend `backend` (0: down, 2: running), from its runtime API. */
async function serverState(proxy: FleetProxy, backend: string): Promise<number | null> {
  const text = await proxy.runtime.command(`show servers state ${backend}`);
  const row = text.split('\n').find((line) => /^\d+ /.test(line));
  return row === undefined ? null : Number(row.split(' ')[5]);
}

describe('a gateway killed with kill -9', () => {
  it('is marked down by HAProxy; its chains answer 503 naming it until it returns; nothing it reported committed is lost; it rejoins with its chains', async () => {
    const etcd = await startEtcd();
    const prefix = '/down/';
    const adminKey = newKey();
    const proxyPort = await freePort();
    const allowedHosts = [`127.0.0.1:${proxyPort}`];
    const [g1, g2] = await Promise.all(['g1', 'g2'].map((id) => startFleetGateway({ etcd: etcd.endpoints, prefix, id, adminKey, allowedHosts })));
    await expect.poll(async () => (await g1!.json<{ fleet?: { members: number } }>('/healthz')).fleet?.members, { timeout: 15_000 }).toBe(2);
    const proxy = await proxyFor(etcd.endpoints, prefix, { host: '127.0.0.1', port: proxyPort });
    fleetRun([...mirrorArgs(etcd.endpoints, prefix, proxy), '--no-balance', '--lease-ttl', '2']);

    // "kept" is g1's; a client of the package streams to it through the proxy and notes what is committed.
    const owner = await g1!.account('owner');
    await g1!.chain('kept', owner);
    await expect.poll(async () => (await proxy.runtime.showMap(proxy.paths.map)).get('kept'), { timeout: 10_000 }).toBe('g1');
    const committed: CommittedNotice[] = [];
    const client = await connect(proxy.url, 'kept', { key: owner.key, onCommitted: (n) => committed.push(n) });
    registerCleanup('client', () => client.close());
    let written = 0;
    for (; written < 300; written += 3) await client.submit([`kept ${written}`, `kept ${written + 1}`, `kept ${written + 2}`]);
    await expect.poll(() => committed.reduce((end, n) => Math.max(end, n.seq + n.count), 0), { timeout: 20_000 }).toBe(written);
    // More frames in flight when it dies: accepted maybe, committed maybe not — only what was reported committed must survive.
    for (let i = 0; i < 50; i++) void client.submit([`in flight ${i}`]).catch(() => undefined);
    const reportedCommitted = committed.reduce((end, n) => Math.max(end, n.seq + n.count), 0);

    await g1!.kill();
    await expect.poll(() => serverState(proxy, 'be_g1'), { timeout: 20_000, interval: 200 }).toBe(0);
    // Through the proxy, and from the other gateway: 503, naming the owner.
    const throughProxy = await fetch(`${proxy.url}/v1/chains/kept/entries/0`, { headers: { authorization: `Bearer ${owner.key}` } });
    expect(throughProxy.status).toBe(503);
    expect(await throughProxy.json()).toEqual({ error: { code: 'busy', message: 'chain kept is served by gateway g1, which is down; retry later' } });
    // g2 learns that g1 is gone once its lease expires in etcd.
    await expect
      .poll(async () => (await g2!.call('GET', '/v1/chains/kept/entries/0', owner.key)).body, { timeout: 20_000 })
      .toEqual({
        error: {
          code: 'busy',
          message: 'chain "kept" is served by gateway "g1", which is not a live member of the fleet now (down, or cut off from etcd); retry later',
        },
      });

    // Back on its store: it rejoins at once (same store, same id), HAProxy marks it up, and its chain goes on.
    const back = await startFleetGateway({ ...g1!.options });
    await expect.poll(() => serverState(proxy, 'be_g1'), { timeout: 20_000, interval: 200 }).toBe(2);
    for (let seq = 0; seq < reportedCommitted; seq++) {
      const answer = await fetch(`${proxy.url}/v1/chains/kept/entries/${seq}`, { headers: { authorization: `Bearer ${owner.key}` } });
      expect(answer.status, `seq ${seq}`).toBe(200);
      const proof = (await answer.json()) as EntryProof;
      expect(verifyEntry(proof), `seq ${seq}`).toEqual({ ok: true });
    }
    const after = await connect(proxy.url, 'kept', { key: owner.key });
    registerCleanup('client after', () => after.close());
    const next = await after.submit(['after the restart']);
    expect(next.seq).toBeGreaterThanOrEqual(reportedCommitted);
    expect((await back.json<{ fleet: { member: string } }>('/healthz')).fleet.member).toBe('live');
    expect(back.logs().some((l) => l.event === 'fleet-joined')).toBe(true);
    expect(await back.stop()).toBe(0);
    const verified = runCli(['verify', '--data', back.dataDir]);
    expect(verified.status, verified.output).toBe(0);
  }, 180_000);
});

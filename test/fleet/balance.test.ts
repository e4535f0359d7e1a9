// The fleet balancer with real gateways: their capacity comes from the lanes
// (declared small here, so a test's traffic can overload a gateway), their
// load from the rates the scheduler measures, both reported to etcd; the
// leading `chainlanes fleet run` moves the chain that relieves the
// overloaded gateway most, by handoff, and says why in `fleet events`.
import { describe, expect, it } from 'vitest';
import { EtcdClient, FleetKeys } from '../../src/fleet/index.js';
import { newKey } from '../../src/credits/index.js';
import { StreamClient, fleetRun, registerCleanup, runCli, startEtcd, startFleetGateway } from '../helpers/index.js';

/** 1,000 entries/s per lane, 3,000 a gateway. */
const SMALL = { entriesPerSec: 1_000, bytesPerSec: 1e9 };

describe('the fleet balancer with real gateways', () => {
  it('moves the chain that relieves an overloaded gateway most to the one with room, by handoff, and explains it', async () => {
    const etcd = await startEtcd();
    const prefix = '/balance-real/';
    const adminKey = newKey();
    const config = { balancer: { declaredCapacity: { heavy: SMALL, medium: SMALL, light: SMALL }, fairShare: false } };
    const [g1, g2] = await Promise.all(['g1', 'g2'].map((id) => startFleetGateway({ etcd: etcd.endpoints, prefix, id, adminKey, config })));
    const owner = await g1!.account('owner');
    await g1!.chain('hot', owner);
    await g1!.chain('warm', owner);
    // 1,500 and 1,200 entries/s: g1 carries 0.9 of its 3,000 (over the 0.8 headroom); "hot" alone fits on g2 (0.5).
    const writers = await Promise.all(
      [
        ['hot', 15],
        ['warm', 12],
      ].map(async ([chain, framesPer100ms]) => {
        const stream = await StreamClient.open(g1!.url, chain as string, owner.key);
        const timer = setInterval(() => {
          if (stream.closeCode !== null) return;
          for (let i = 0; i < (framesPer100ms as number); i++) stream.send(Array.from({ length: 10 }, (_, k) => `${chain as string} ${k}`));
        }, 100);
        registerCleanup(`writer ${chain as string}`, () => clearInterval(timer));
        return stream;
      }),
    );
    const run = fleetRun(['--etcd', etcd.endpoints.join(','), '--prefix', prefix, '--lease-ttl', '2', '--every-ms', '500', '--overloaded-for-ms', '0'], {
      CHAINLANES_ADMIN_KEY: adminKey,
    });
    const client = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
    registerCleanup('etcd client', () => client.close());
    const keys = new FleetKeys(prefix);
    const ownerOf = async (chain: string): Promise<string | undefined> => {
      const kv = (await client.range(keys.chain(chain))).kvs[0];
      return kv === undefined ? undefined : (JSON.parse(kv.value.toString()) as { gateway: string }).gateway;
    };
    await expect.poll(() => ownerOf('hot'), { timeout: 60_000, interval: 250 }).toBe('g2');
    expect(await ownerOf('warm')).toBe('g1');
    // The writer of "hot" was told: `moved`, then close 4001; "warm" goes on on g1.
    await expect.poll(() => writers[0]!.closeCode, { timeout: 10_000 }).toBe(4001);
    expect(writers[0]!.closeReason).toBe('moved: reconnect');
    // A frame sent between the handoff and the close was answered `moved`, naming the new owner (none may have been sent).
    for (const moved of writers[0]!.replies.filter((r) => r.type === 'error' && r.code === 'moved')) expect(moved.location).toBe(g2!.url);
    expect(writers[1]!.closeCode).toBeNull();
    const events = JSON.parse(runCli(['fleet', 'events', '--etcd', etcd.endpoints.join(','), '--prefix', prefix, '--json']).output) as {
      kind: string;
      reason: string;
      chain?: string;
    }[];
    const move = events.find((e) => e.kind === 'move');
    expect(move?.chain).toBe('hot');
    expect(move?.reason).toMatch(
      /^chain "hot" g1 → g2: g1 was over its headroom \(0\.\d\d of capacity > 0\.8\); this chain relieves it most \(0\.\d\d\) and g2 has room \(0\.\d\d after\)$/,
    );
    expect(run.lines().some((l) => l.event === 'fleet-leader' && l.leading === true)).toBe(true);
    // g2 serves "hot" now, its seqs going on from where g1 sealed it.
    const after = await StreamClient.open(g2!.url, 'hot', owner.key);
    after.send(['on g2']);
    const [reply] = await after.waitReplies(1);
    expect(reply).toMatchObject({ type: 'accepted' });
    const sealedOnG1 = writers[0]!.replies.filter((r) => r.type === 'accepted').reduce((end, r) => Math.max(end, (r.seq as number) + (r.count as number)), 0);
    expect(reply!.seq).toBe(sealedOnG1);
    // The fleet's metrics: live, the table current, two members, one claim transaction per burst of new chains.
    const metrics = await (await g2!.http('/metrics', { headers: { authorization: `Bearer ${adminKey}` } })).text();
    expect(metrics).toMatch(/^chainlanes_fleet_member_live 1$/m);
    expect(metrics).toMatch(/^chainlanes_fleet_table_synced 1$/m);
    expect(metrics).toMatch(/^chainlanes_fleet_members 2$/m);
    expect(metrics).toMatch(/^chainlanes_frames_rejected_total\{code="moved"\} \d+$/m);
  }, 120_000);
});

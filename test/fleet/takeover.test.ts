// The standby's takeover transaction against a real etcd (docs/replicas.md
// part 5, src/fleet/takeover.ts): it moves a dead owner's chains only under
// its outer condition — the owner's member key gone, `standby/{owner}` still
// this gateway's claim, no `replica/{owner}` (the owner never went on alone),
// this gateway's lease on its member key — each chain by its own token, in
// batches, with `takeover/{owner}` written; a chain whose token moved is left
// where it went, and said so.
import { describe, expect, it } from 'vitest';
import { clearTakeover, EtcdClient, FleetKeys, readTakeover, releaseStandby, takeOverChains, type FleetNode } from '../../src/fleet/index.js';
import { decodeTakeover } from '../../src/fleet/takeover.js';
import { registerCleanup, startEtcd, type EtcdCluster } from '../helpers/index.js';
import { startFleetNode } from '../helpers/fleet.js';

const node = (etcd: EtcdCluster, prefix: string, id: string, machine: string): Promise<FleetNode> => startFleetNode(etcd, prefix, id, { replicas: 1, machine });

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the takeover transaction', () => {
  it('moves a dead owner’s chains by their tokens only under the outer condition, in batches, recording the takeover', async () => {
    const etcd = await startEtcd();
    const prefix = '/takeover-1/';
    const keys = new FleetKeys(prefix);
    const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
    registerCleanup('etcd client', () => root.close());
    const [g1, g2] = await Promise.all([node(etcd, prefix, 'g1', 'm1'), node(etcd, prefix, 'g2', 'm2')]);
    await until('g2 stands by for g1', () => g2.standbys!.standbyOf('g1')?.standby === 'g2');
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const name of names) await root.put(keys.chain(name), JSON.stringify({ gateway: 'g1', since: 1 }));
    const tokens = async () => Promise.all(names.map(async (name) => ({ name, token: (await root.range(keys.chain(name))).kvs[0]!.modRevision })));
    const standbyRevision = (await root.range(keys.standby('g1'))).kvs[0]!.createRevision;
    const take = async (chains: { name: string; token: number }[], revision = standbyRevision) =>
      takeOverChains(g2.client, keys, { owner: 'g1', me: g2.member, standbyRevision: revision, chains, acked: 7, batch: 2 });
    const owners = async () =>
      Promise.all(names.map(async (name) => (JSON.parse((await root.range(keys.chain(name))).kvs[0]!.value.toString()) as { gateway: string }).gateway));

    // The owner is alive: nothing moves.
    expect(await take(await tokens())).toEqual({ taken: false, why: 'gateway "g1" is a live member again (members/g1)', won: [] });
    await g1.stop();
    await until('members/g1 gone', async () => (await root.range(keys.member('g1'))).kvs.length === 0);
    // standby/g1 is on g2's lease: it outlives g1.
    expect((await root.range(keys.standby('g1'))).kvs).toHaveLength(1);

    // g1 went on alone: the standby must not take over by itself.
    await root.put(keys.replica('g1'), JSON.stringify({ alone: true, since: 1, from: 3 }));
    expect(await take(await tokens())).toMatchObject({ taken: false, why: expect.stringMatching(/went on without its standby \(replica\/g1\)/) });
    await root.delete(keys.replica('g1'));
    // Another claim of standby/g1 than this one: refused.
    expect(await take(await tokens(), standbyRevision + 1000)).toMatchObject({ taken: false, why: 'standby/g1 no longer names this gateway (g2)' });
    expect(await owners()).toEqual(['g1', 'g1', 'g1', 'g1', 'g1']);
    expect((await root.range(keys.takeover('g1'))).kvs).toHaveLength(0);

    // Chain "c" moved since its token was read (a handoff elsewhere): the others move, it stays, and is named.
    const read = await tokens();
    await root.put(keys.chain('c'), JSON.stringify({ gateway: 'g9', since: 2 }));
    const outcome = await take(read);
    expect(outcome).toMatchObject({ taken: true, lost: [{ name: 'c', why: 'it is owned by g9 now' }] });
    expect(outcome.won.map((w) => w.name)).toEqual(['a', 'b', 'd', 'e']);
    expect(await owners()).toEqual(['g2', 'g2', 'g9', 'g2', 'g2']);
    // Each chain's token is the revision of the batch that moved it: batches of 2 (the first with the record: one chain).
    const moved = await tokens();
    expect(new Set(moved.filter((t) => t.name !== 'c').map((t) => t.token)).size).toBe(3);
    const record = JSON.parse((await root.range(keys.takeover('g1'))).kvs[0]!.value.toString()) as { by: string; acked: number; at: number };
    expect(record).toMatchObject({ by: 'g2', acked: 7 });

    await releaseStandby(g2.client, keys, 'g1', standbyRevision);
    expect((await root.range(keys.standby('g1'))).kvs).toHaveLength(0);
  });
});

describe('takeover/{g} read by the returning owner', () => {
  const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

  it('decodes a valid record, and names the field of an invalid one', () => {
    expect(decodeTakeover(bytes({ by: 'g2', acked: 7, at: 1_700_000_000_000 }))).toEqual({ by: 'g2', acked: 7, at: 1_700_000_000_000 });
    // −1: the standby held none of g's seals (every one goes).
    expect(decodeTakeover(bytes({ by: 'g2', acked: -1, at: 0 }))).toEqual({ by: 'g2', acked: -1, at: 0 });
    const by = { invalid: 'by: the gateway that took the chains' };
    const acked = { invalid: 'acked: a directory height, or -1' };
    const at = { invalid: 'at: ms since the epoch' };
    expect(decodeTakeover(bytes({ acked: 7, at: 1 }))).toEqual(by);
    expect(decodeTakeover(bytes({ by: '', acked: 7, at: 1 }))).toEqual(by);
    expect(decodeTakeover(bytes({ by: 2, acked: 7, at: 1 }))).toEqual(by);
    expect(decodeTakeover(bytes({ by: 'g2', acked: -2, at: 1 }))).toEqual(acked);
    expect(decodeTakeover(bytes({ by: 'g2', acked: 1.5, at: 1 }))).toEqual(acked);
    expect(decodeTakeover(bytes({ by: 'g2', acked: '7', at: 1 }))).toEqual(acked);
    expect(decodeTakeover(bytes({ by: 'g2', acked: 2 ** 53, at: 1 }))).toEqual(acked);
    expect(decodeTakeover(bytes({ by: 'g2', at: 1 }))).toEqual(acked);
    expect(decodeTakeover(bytes({ by: 'g2', acked: 7 }))).toEqual(at);
    expect(decodeTakeover(bytes({ by: 'g2', acked: 7, at: 'now' }))).toEqual(at);
    expect(decodeTakeover(Buffer.from('{"by":"g2","acked":7,"at":1e999}'))).toEqual(at);
    expect(decodeTakeover(Buffer.from('{"by":"g2",'))).toEqual({ invalid: 'not JSON' });
    expect(decodeTakeover(Buffer.from([0xff, 0xfe]))).toEqual({ invalid: 'not JSON' });
    expect(decodeTakeover(bytes(7))).toEqual({ invalid: 'not a JSON object' });
    expect(decodeTakeover(bytes(null))).toEqual({ invalid: 'not a JSON object' });
  });

  it('reads the record with its mod revision, and deletes it only at that revision', async () => {
    const etcd = await startEtcd();
    const keys = new FleetKeys('/takeover-read/');
    const client = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
    registerCleanup('etcd client', () => client.close());
    expect(await readTakeover(client, keys, 'g1')).toBeNull();

    const first = await client.put(keys.takeover('g1'), bytes({ by: 'g2', acked: 4, at: 10 }));
    // Another gateway's record is not g1's.
    await client.put(keys.takeover('g3'), bytes({ by: 'g4', acked: 1, at: 11 }));
    expect(await readTakeover(client, keys, 'g1')).toEqual({ record: { by: 'g2', acked: 4, at: 10 }, revision: first });

    // Rewritten meanwhile (a newer takeover): a clear at the old revision leaves it.
    const second = await client.put(keys.takeover('g1'), bytes({ by: 'g5', acked: 9, at: 12 }));
    expect(second).toBeGreaterThan(first);
    expect(await clearTakeover(client, keys, 'g1', first)).toBe(false);
    expect(await readTakeover(client, keys, 'g1')).toEqual({ record: { by: 'g5', acked: 9, at: 12 }, revision: second });

    expect(await clearTakeover(client, keys, 'g1', second)).toBe(true);
    expect(await readTakeover(client, keys, 'g1')).toBeNull();
    expect(await clearTakeover(client, keys, 'g1', second)).toBe(false);
    expect(await readTakeover(client, keys, 'g3')).toMatchObject({ record: { by: 'g4' } });

    // An unreadable record is read as such, with its revision (the follower reports it and leaves it).
    const bad = await client.put(keys.takeover('g1'), 'not json');
    expect(await readTakeover(client, keys, 'g1')).toEqual({ record: { invalid: 'not JSON' }, revision: bad });
  });
});

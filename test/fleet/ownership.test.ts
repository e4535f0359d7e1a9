// Ownership against a real etcd: claims racing from two gateways give one
// owner per chain and a burst costs one transaction; the gate follows the
// table a watch keeps; the handoff's transfer and the owner's reclaim race on
// one token and exactly one wins; members refuse a second holder of an id.
import { describe, expect, it } from 'vitest';
import { EtcdClient, FleetKeys, FleetMember, MemberRefused, reclaimChain, transferChain, type ClaimOutcome } from '../../src/fleet/index.js';
import { registerCleanup, startEtcd, type EtcdCluster } from '../helpers/index.js';
import { startFleetNode } from '../helpers/fleet.js';

let prefixes = 0;

const node = startFleetNode;

function rootClient(etcd: EtcdCluster): EtcdClient {
  const c = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 24 });
  registerCleanup('root client', () => c.close());
  return c;
}

describe('claims', () => {
  it('two gateways claiming the same 200 new chains at once: one owner each, both agree, and each burst cost one transaction per 100 names', async () => {
    const etcd = await startEtcd();
    const prefix = `/claims-${++prefixes}/`;
    const [a, b] = await Promise.all([node(etcd, prefix, 'ga'), node(etcd, prefix, 'gb')]);
    const names = Array.from({ length: 200 }, (_, i) => `chain-${i}`);
    const [fromA, fromB] = await Promise.all([Promise.all(names.map((n) => a.claims.claim(n))), Promise.all(names.map((n) => b.claims.claim(n)))]);
    const winners = names.map((_, i) => {
      const [x, y] = [fromA[i]!, fromB[i]!];
      expect(x.won === null || y.won === null, `claim of ${names[i]} not made: ${JSON.stringify([x, y])}`).toBe(false);
      expect(x.won !== y.won, `${names[i]}: ${JSON.stringify([x, y])}`).toBe(true);
      return x.won === true ? 'ga' : 'gb';
    });
    expect(a.claims.transactions).toBe(2);
    expect(b.claims.transactions).toBe(2);
    // The loser learned the winner and its token, and etcd says the same.
    const etcdView = await rootClient(etcd).rangeAll(`${prefix}chains/`);
    const records = etcdView.kvs.filter((kv) => kv.key !== `${prefix}chains/`); // the watches' canary
    expect(records).toHaveLength(200);
    for (const kv of records) {
      const name = kv.key.slice(`${prefix}chains/`.length);
      const i = names.indexOf(name);
      expect(JSON.parse(kv.value.toString()).gateway).toBe(winners[i]);
      const loser = (winners[i] === 'ga' ? fromB : fromA)[i] as Extract<ClaimOutcome, { won: false }>;
      expect(loser).toEqual({ won: false, owner: winners[i], token: kv.modRevision });
    }
    // Both gates agree at once (the claims applied their outcome to the tables).
    for (const [i, name] of names.entries()) {
      expect(a.gate.check(name).kind).toBe(winners[i] === 'ga' ? 'admit' : 'moved');
      expect(b.gate.check(name).kind).toBe(winners[i] === 'gb' ? 'admit' : 'moved');
    }
  });

  it('claims nothing once the member key is not on its lease, and bounds the names waiting', async () => {
    const etcd = await startEtcd();
    const prefix = `/claims-${++prefixes}/`;
    const a = await node(etcd, prefix, 'ga', { maxQueuedClaims: 3 });
    // Someone deleted the member key (as an expired lease would): claims must fail, naming why.
    await rootClient(etcd).delete(`${prefix}members/ga`);
    const outcome = await a.claims.claim('orphan');
    expect(outcome).toEqual({ won: null, cause: "this gateway's lease is no longer the one on its member key" });
    expect((await rootClient(etcd).range(`${prefix}chains/orphan`)).kvs).toEqual([]);
    const many = await Promise.all(['q1', 'q2', 'q3', 'q4', 'q5'].map((n) => a.claims.claim(n)));
    expect(many.filter((o) => o.won === null && /waiting to be claimed already/.test(o.cause))).toHaveLength(2);
  });
});

describe('the gate follows the table', () => {
  it('a transfer on the token moves admission from the old owner to the new one; a stale token is refused naming the change', async () => {
    const etcd = await startEtcd();
    const prefix = `/gate-${++prefixes}/`;
    const [a, b] = await Promise.all([node(etcd, prefix, 'ga'), node(etcd, prefix, 'gb')]);
    const claimed = await a.claims.claim('orders');
    if (claimed.won !== true) throw new Error(`claim failed: ${JSON.stringify(claimed)}`);
    await expect.poll(() => b.gate.check('orders')).toMatchObject({ kind: 'moved', owner: 'ga', location: 'http://ga.test:9001' });
    const lost: string[] = [];
    a.onLost((chain, owner) => lost.push(`${chain} → ${owner}`));
    const keys = new FleetKeys(prefix);
    const moved = await transferChain(rootClient(etcd), keys, 'orders', { from: 'ga', to: 'gb', token: claimed.token });
    expect(moved.moved).toBe(true);
    await expect.poll(() => b.gate.check('orders')).toEqual({ kind: 'admit', token: moved.moved ? moved.token : -1 });
    await expect.poll(() => a.gate.check('orders')).toMatchObject({ kind: 'moved', owner: 'gb', location: 'http://gb.test:9001' });
    expect(lost).toEqual(['orders → gb']);
    const stale = await transferChain(rootClient(etcd), keys, 'orders', { from: 'ga', to: 'gb', token: claimed.token });
    expect(stale).toMatchObject({ moved: false, owner: 'gb' });
    expect(!stale.moved && stale.why).toMatch(/changed since token \d+ \(now \d+, owner gb\)/);
    const toNobody = await transferChain(rootClient(etcd), keys, 'orders', { from: 'gb', to: 'ghost', token: moved.moved ? moved.token : 0 });
    expect(!toNobody.moved && toNobody.why).toBe('gateway "ghost" is not a live member');
  });

  it('answers busy, naming the owner, when the owner is not a live member', async () => {
    const etcd = await startEtcd();
    const prefix = `/gate-${++prefixes}/`;
    const a = await node(etcd, prefix, 'ga');
    await rootClient(etcd).put(`${prefix}chains/left-behind`, JSON.stringify({ gateway: 'gone', since: 1 }));
    await expect
      .poll(() => a.gate.check('left-behind'))
      .toEqual({
        kind: 'moved',
        owner: 'gone',
        location: null,
        message: 'chain "left-behind" is served by gateway "gone", which is not a live member of the fleet now (down, or cut off from etcd); retry later',
      });
  });
});

describe('handoff on the token', () => {
  it("the transfer and the owner's reclaim race on one token: exactly one wins, 30 times", async () => {
    const etcd = await startEtcd();
    const prefix = `/race-${++prefixes}/`;
    const [a] = await Promise.all([node(etcd, prefix, 'ga'), node(etcd, prefix, 'gb')]);
    const keys = new FleetKeys(prefix);
    const root = rootClient(etcd);
    for (let i = 0; i < 30; i++) {
      const claimed = await a.claims.claim(`race-${i}`);
      if (claimed.won !== true) throw new Error('claim failed');
      const [transfer, reclaim] = await Promise.all([
        transferChain(root, keys, `race-${i}`, { from: 'ga', to: 'gb', token: claimed.token }),
        reclaimChain(root, keys, `race-${i}`, 'ga', claimed.token),
      ]);
      expect(transfer.moved !== reclaim.moved, JSON.stringify([transfer, reclaim])).toBe(true);
      const owner = JSON.parse((await root.range(`${prefix}chains/race-${i}`)).kvs[0]!.value.toString()).gateway;
      expect(owner).toBe(transfer.moved ? 'gb' : 'ga');
    }
  });

  it('begin stops admission (moved, naming the target); a committed transfer ends it; an abort before the commit resumes on a new token', async () => {
    const etcd = await startEtcd();
    const prefix = `/handoff-${++prefixes}/`;
    const [a, b] = await Promise.all([node(etcd, prefix, 'ga'), node(etcd, prefix, 'gb')]);
    const keys = new FleetKeys(prefix);
    const root = rootClient(etcd);
    const ended: string[] = [];
    a.onHandoffEnded((chain, end) => ended.push(`${chain} ${end}`));
    for (const chain of ['one', 'two']) if ((await a.claims.claim(chain)).won !== true) throw new Error('claim failed');
    await expect.poll(() => b.gate.check('one').kind).toBe('moved');
    await expect.poll(() => a.members.get('gb')?.value.url).toBe('http://gb.test:9001');

    const token = a.handoffs.begin('one', 'gb');
    expect(typeof token).toBe('number');
    expect(a.gate.check('one')).toMatchObject({ kind: 'moved', owner: 'gb', location: 'http://gb.test:9001' });
    expect(a.handoffs.begin('one', 'gb')).toBe('chain "one" is being handed off to gb already');
    expect(a.handoffs.begin('nope', 'gb')).toMatch(/chain "nope" is not admitted here now \(no owner yet\)/);
    expect(await transferChain(root, keys, 'one', { from: 'ga', to: 'gb', token: token as number })).toMatchObject({ moved: true });
    await expect.poll(() => ended).toEqual(['one handed-off']);
    await expect.poll(() => b.gate.check('one').kind).toBe('admit');
    expect(a.gate.check('one')).toMatchObject({ kind: 'moved', owner: 'gb' });

    const token2 = a.handoffs.begin('two', 'gb') as number;
    expect(await a.handoffs.abort('two', 'the adopt failed')).toBe('resumed');
    const after = a.gate.check('two');
    expect(after.kind).toBe('admit');
    expect(after.kind === 'admit' && after.token).toBeGreaterThan(token2);
    // The coordinator's transfer on the old token now fails: no second owner.
    expect(await transferChain(root, keys, 'two', { from: 'ga', to: 'gb', token: token2 })).toMatchObject({ moved: false, owner: 'ga' });
    expect(ended).toEqual(['one handed-off', 'two resumed']);
  });

  it('an abort after the transfer committed does not resume: the chain stays with its new owner', async () => {
    const etcd = await startEtcd();
    const prefix = `/handoff-${++prefixes}/`;
    const [a] = await Promise.all([node(etcd, prefix, 'ga'), node(etcd, prefix, 'gb')]);
    if ((await a.claims.claim('late')).won !== true) throw new Error('claim failed');
    const token = a.handoffs.begin('late', 'gb') as number;
    // Commit through etcd directly, then abort before the watch has told `a` (its watch is stopped: a slow one).
    a.table.stop();
    expect(await transferChain(rootClient(etcd), new FleetKeys(prefix), 'late', { from: 'ga', to: 'gb', token })).toMatchObject({ moved: true });
    expect(await a.handoffs.abort('late', 'deadline')).toBe('handed-off');
    expect(a.gate.check('late')).toMatchObject({ kind: 'moved', owner: 'gb' });
  });
});

describe('membership', () => {
  it('refuses a second gateway with the same id (naming the holder), lets a restart on the same store take over at once, and leaves on stop', async () => {
    const etcd = await startEtcd();
    const prefix = `/members-${++prefixes}/`;
    const keys = new FleetKeys(prefix);
    const c = rootClient(etcd);
    const lease = { ttlSeconds: 30, marginMs: 1000 };
    const first = new FleetMember(c, keys, { id: 'g1', url: 'http://one.test:9001', store: 'store-one', lease });
    expect(await first.start({ entriesPerSec: 1, bytesPerSec: 1 })).toBe(true);
    registerCleanup('first', () => first.stop());
    const states: string[] = [];
    const impostor = new FleetMember(c, keys, { id: 'g1', url: 'http://two.test:9001', store: 'store-two', lease }, (state, cause) =>
      states.push(`${state}: ${cause}`),
    );
    expect(await impostor.start({ entriesPerSec: 1, bytesPerSec: 1 })).toBe(false);
    registerCleanup('impostor', () => impostor.stop());
    expect(impostor.keeper.lastError).toBe(
      'gateway id "g1" is held by the gateway at http://one.test:9001 (store store-one) until its lease expires; each gateway needs its own --gateway-id',
    );
    expect(states).toEqual([`joining: ${impostor.keeper.lastError}`]);
    expect(MemberRefused.name).toBe('MemberRefused');

    // The same store again (a restart before the old lease expired): it takes the key over with its new lease.
    const restarted = new FleetMember(c, keys, { id: 'g1', url: 'http://one.test:9001', store: 'store-one', lease });
    expect(await restarted.start({ entriesPerSec: 2, bytesPerSec: 2 })).toBe(true);
    const held = (await c.range(`${prefix}members/g1`)).kvs[0]!;
    expect(held.lease).toBe(restarted.lease);
    expect(held.modRevision).toBe(restarted.joinRevision);
    await restarted.stop();
    expect((await c.range(`${prefix}members/g1`)).kvs).toEqual([]);
  });
});

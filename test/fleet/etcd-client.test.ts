// The fleet's etcd client and the watched copy of a prefix, against a real
// etcd (Debian's etcd-server): transactions with nested sub-transactions,
// paging, leases, watches that follow every change, a compaction past the
// watch, and values that are not records.
import { describe, expect, it } from 'vitest';
import { EtcdClient, EtcdError, FleetKeys, PrefixMirror, cmp, decodeOwner, encode, type OwnerRecord } from '../../src/fleet/index.js';
import { registerCleanup, startEtcd } from '../helpers/index.js';

function client(endpoints: string[], timeoutMs = 2_000): EtcdClient {
  const c = new EtcdClient({ endpoints, requestTimeoutMs: timeoutMs, maxResponseBytes: 8 * 1024 * 1024 });
  registerCleanup('etcd client', () => c.close());
  return c;
}

describe('etcd client (JSON gateway)', () => {
  it('puts, ranges a prefix in pages at one revision, and runs nested create-if-absent transactions', async () => {
    const etcd = await startEtcd();
    const c = client(etcd.endpoints);
    for (let i = 0; i < 25; i++) await c.put(`/t/p/${String(i).padStart(2, '0')}`, `v${i}`);
    await c.put('/t/q', 'outside');
    const all = await c.rangeAll('/t/p/', 7);
    expect(all.kvs.map((kv) => kv.value.toString())).toEqual(Array.from({ length: 25 }, (_, i) => `v${i}`));
    await expect(c.rangeAll('/t/p/', 7, 10)).rejects.toThrow(/more than 10 keys/);

    await c.put('/t/c/taken', 'someone');
    const result = await c.txn({
      compare: [],
      success: ['free', 'taken'].map((n) => ({
        txn: { compare: [cmp.version(`/t/c/${n}`, '=', 0)], success: [{ put: { key: `/t/c/${n}`, value: 'me' } }], failure: [{ range: { key: `/t/c/${n}` } }] },
      })),
      failure: [],
    });
    expect(result.succeeded).toBe(true);
    const [free, taken] = result.responses;
    expect(free).toMatchObject({ kind: 'txn', txn: { succeeded: true } });
    expect(taken?.kind === 'txn' && taken.txn.succeeded).toBe(false);
    expect(taken?.kind === 'txn' && taken.txn.responses[0]?.kind === 'range' && taken.txn.responses[0].range.kvs[0]!.value.toString()).toBe('someone');
    expect((await c.range('/t/c/free')).kvs[0]?.modRevision).toBe(result.revision);
  });

  it('grants a lease, keeps it alive, reports 0 for a lease etcd no longer holds, and deletes its keys on revoke', async () => {
    const etcd = await startEtcd();
    const c = client(etcd.endpoints);
    const lease = await c.grantLease(5);
    expect(lease.ttlSeconds).toBe(5);
    await c.put('/t/leased', 'x', lease.id);
    expect(await c.keepAlive(lease.id)).toBe(5);
    expect((await c.txn({ compare: [cmp.lease('/t/leased', '=', lease.id)], success: [], failure: [] })).succeeded).toBe(true);
    await c.revokeLease(lease.id);
    expect((await c.range('/t/leased')).kvs).toEqual([]);
    expect(await c.keepAlive(lease.id)).toBe(0);
    await c.revokeLease(lease.id); // a revoked lease revoked again is no error
  });

  it('names the cause when no endpoint answers, and tries the next endpoint when one refuses connections', async () => {
    const etcd = await startEtcd();
    const dead = 'http://127.0.0.1:1';
    await expect(client([dead], 500).range('/x')).rejects.toThrow(EtcdError);
    await expect(client([dead], 500).range('/x')).rejects.toThrow(/etcd unavailable/);
    const both = client([dead, ...etcd.endpoints]);
    await both.put('/t/failover', 'ok');
    expect((await both.range('/t/failover')).kvs[0]?.value.toString()).toBe('ok');
  });

  it('refuses an answer larger than its bound instead of buffering it', async () => {
    const etcd = await startEtcd();
    await client(etcd.endpoints).put('/t/big', Buffer.alloc(200_000, 1));
    const small = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 64 * 1024 });
    registerCleanup('small client', () => small.close());
    await expect(small.range('/t/big')).rejects.toThrow(/larger than 65536 bytes/);
  });
});

describe('a prefix mirrored by a watch', () => {
  const keys = new FleetKeys('/m/');
  const mirrorOf = (c: EtcdClient, maxEntries = 1000) => {
    const m = new PrefixMirror<OwnerRecord>(c, keys.chains, (key) => key.slice(keys.chains.length), decodeOwner, { maxEntries, checkEveryMs: 200 });
    registerCleanup('mirror', () => m.stop());
    return m;
  };

  it('lists, then follows puts and deletes; a value that is not a record is skipped and named', async () => {
    const etcd = await startEtcd();
    const c = client(etcd.endpoints);
    await c.put(keys.chain('a'), encode({ gateway: 'g1', since: 1 }));
    const m = mirrorOf(c);
    const skipped: string[] = [];
    const seen: string[] = [];
    m.listen({
      put: (id, e) => seen.push(`put ${id} ${e.value.gateway}`),
      delete: (id) => seen.push(`delete ${id}`),
      skipped: (key, why) => skipped.push(`${key}: ${why}`),
    });
    await m.start();
    expect(m.get('a')?.value.gateway).toBe('g1');
    const rev = await c.put(keys.chain('b'), encode({ gateway: 'g2', since: 2 }));
    await c.put(keys.chain('a'), encode({ gateway: 'g3', since: 3 }));
    await c.put(keys.chain('bad'), 'not json');
    await c.put(keys.chain('worse'), encode({ gateway: 'has space', since: 1 }));
    const del = await c.delete(keys.chain('b'));
    await expect.poll(() => m.revision).toBeGreaterThanOrEqual(del.revision);
    expect(m.get('a')?.value.gateway).toBe('g3');
    expect(m.get('b')).toBeUndefined();
    expect(seen).toEqual(['put a g1', 'put b g2', 'put a g3', 'delete b']);
    expect(skipped).toEqual([`${keys.chain('bad')}: not JSON`, expect.stringMatching(/worse: gateway: 1 to 63 characters .*\(a gateway id\)/)]);
    expect(rev).toBeGreaterThan(0);
  });

  it('keeps at most maxEntries records and says which it skipped', async () => {
    const etcd = await startEtcd();
    const c = client(etcd.endpoints);
    for (const n of ['a', 'b', 'c']) await c.put(keys.chain(n), encode({ gateway: 'g1', since: 1 }));
    const m = mirrorOf(c, 2);
    const skipped: string[] = [];
    m.listen({ put: () => undefined, delete: () => undefined, skipped: (key, why) => skipped.push(`${key}: ${why}`) });
    await m.start();
    expect(m.entries.size).toBe(2);
    expect(skipped).toEqual([`${keys.chain('c')}: more than 2 records under /m/chains/`]);
  });

  it('survives its etcd member dying: with a 3-member cluster it reconnects to another and misses nothing', async () => {
    const etcd = await startEtcd({ members: 3 });
    const c = client(etcd.endpoints);
    const m = mirrorOf(c);
    await m.start();
    await c.put(keys.chain('before'), encode({ gateway: 'g1', since: 1 }));
    await expect.poll(() => m.get('before')?.value.gateway).toBe('g1');
    // The watch streams from the first endpoint: kill that member, write through the others.
    await etcd.kill(0);
    const others = client(etcd.endpoints.slice(1), 5_000);
    let last = 0;
    await expect
      .poll(
        async () => {
          try {
            last = await others.put(keys.chain('after'), encode({ gateway: 'g2', since: 2 }));
            return true;
          } catch {
            return false;
          }
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe(true);
    await expect.poll(() => m.revision, { timeout: 15_000 }).toBeGreaterThanOrEqual(last);
    expect(m.get('after')?.value.gateway).toBe('g2');
    expect(m.get('before')?.value.gateway).toBe('g1');
  });

  it('lists again when etcd compacted past the watch, and ends with the same table as etcd', async () => {
    const etcd = await startEtcd();
    const c = client(etcd.endpoints);
    const m = mirrorOf(c);
    await m.start();
    // Stop the watch as if the connection hung, change things, compact past them, then let the mirror notice.
    const hung = m as unknown as { watchHandle: { cancel(): void } | null };
    hung.watchHandle?.cancel();
    hung.watchHandle = null;
    await c.put(keys.chain('x'), encode({ gateway: 'g1', since: 1 }));
    await c.put(keys.chain('y'), encode({ gateway: 'g1', since: 1 }));
    const removed = await c.delete(keys.chain('y'));
    const compacted = await fetch(`${etcd.endpoints[0]}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(removed.revision), physical: true }),
    });
    expect(compacted.status).toBe(200);
    // The silence check sees x at a revision the watch never delivered and replaces the watch; etcd says compacted; the mirror lists.
    await expect.poll(() => m.get('x')?.value.gateway, { timeout: 10_000 }).toBe('g1');
    expect(m.get('y')).toBeUndefined();
    expect(m.revision).toBeGreaterThanOrEqual(removed.revision);
  });
});

describe('a silent watch, caught by its canary', () => {
  it('a watch that hangs without an error is replaced within a check or two, and nothing is missed', async () => {
    const etcd = await startEtcd();
    const c = client(etcd.endpoints);
    const keys = new FleetKeys('/canary/');
    const m = new PrefixMirror<OwnerRecord>(c, keys.chains, (key) => key.slice(keys.chains.length) || null, decodeOwner, {
      maxEntries: 1000,
      checkEveryMs: 200,
      canary: true,
    });
    registerCleanup('mirror', () => m.stop());
    const skipped: string[] = [];
    m.listen({ put: () => undefined, delete: () => undefined, skipped: (key) => skipped.push(key) });
    await m.start();
    // Cut the watch as a partition with no reset would: no event, no error, no end.
    const hung = m as unknown as { watchHandle: { cancel(): void } | null };
    hung.watchHandle?.cancel();
    hung.watchHandle = null;
    await c.put(keys.chain('late'), encode({ gateway: 'g9', since: 1 }));
    await expect.poll(() => m.get('late')?.value.gateway, { timeout: 10_000 }).toBe('g9');
    // The canary is the prefix's own key: written by the check, never taken for a record.
    expect((await c.range(keys.chains)).kvs).toHaveLength(1);
    expect(m.entries.size).toBe(1);
    expect(skipped).toEqual([]);
  });
});

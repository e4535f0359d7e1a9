// Accounts and keys fleet-wide, against a real etcd and the real credit book:
// a key made through one gateway's directory authenticates on another's book
// (no etcd call at authentication), a revocation reaches every book, and a
// key for an account that does not exist, or a record that is not one, is
// refused or skipped.
import { describe, expect, it } from 'vitest';
import { CreditBook, keyDigest, newId, newKey } from '../../src/credits/index.js';
import { EtcdClient, FleetDirectory, FleetKeys } from '../../src/fleet/index.js';
import { registerCleanup, startEtcd } from '../helpers/index.js';

async function gatewayBook(endpoints: string[], prefix: string) {
  const client = new EtcdClient({ endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 22 });
  registerCleanup('client', () => client.close());
  const directory = new FleetDirectory(client, new FleetKeys(prefix), { maxEntries: 1000, checkEveryMs: 500 });
  registerCleanup('directory', () => directory.stop());
  const book = new CreditBook(keyDigest(newKey())!);
  directory.follow(book);
  await directory.start();
  return { client, directory, book };
}

function keyRecord(account: string, key: string) {
  return { account, digest: keyDigest(key)!.toString('hex'), createdAt: Date.now(), revokedAt: null };
}

describe('fleet-wide accounts and keys', () => {
  it('a key added on one gateway authenticates on another; revoked, it is refused everywhere', async () => {
    const etcd = await startEtcd();
    const [a, b] = await Promise.all([gatewayBook(etcd.endpoints, '/dir/'), gatewayBook(etcd.endpoints, '/dir/')]);
    const account = newId('acct_');
    const key = newKey();
    const keyId = newId('key_');
    expect(await a.directory.createAccount(account, { name: 'acme', createdAt: 1 })).toBe(true);
    expect(await a.directory.createAccount(account, { name: 'impostor', createdAt: 2 })).toBe(false);
    expect(await a.directory.addKey(keyId, keyRecord(account, key))).toBe('added');
    expect(await a.directory.addKey(keyId, keyRecord(account, newKey()))).toBe('taken');
    expect(await a.directory.addKey(newId('key_'), keyRecord(newId('acct_'), newKey()))).toBe('no-account');

    // Through a's own write (applied at once) and b's watch.
    expect(a.book.authenticate(key)).toEqual({ kind: 'account', account, keyId });
    await expect.poll(() => b.book.authenticate(key)).toEqual({ kind: 'account', account, keyId });
    expect(b.book.accounts.get(account)?.name).toBe('acme');
    expect([...b.book.accounts.get(account)!.keys.keys()]).toEqual([keyId]);

    const revoked = await b.directory.revokeKey(keyId, 1234);
    expect(revoked?.revokedAt).toBe(1234);
    expect(b.book.authenticate(key)).toMatchObject({ code: 'unauthenticated', message: 'unknown or revoked key' });
    await expect.poll(() => a.book.authenticate(key)).toMatchObject({ code: 'unauthenticated' });
    expect((await a.directory.revokeKey(keyId, 9999))?.revokedAt).toBe(1234);
    expect(await a.directory.revokeKey(newId('key_'), 1)).toBeNull();
  });

  it('seeds what a gateway had before it joined (only what is absent), and a late gateway reads it all at start', async () => {
    const etcd = await startEtcd();
    const a = await gatewayBook(etcd.endpoints, '/seed/');
    const accounts = Array.from({ length: 150 }, (_, i) => [newId('acct_'), { name: `a${i}`, createdAt: i }] as [string, { name: string; createdAt: number }]);
    const keys = accounts.map(([id]) => {
      const key = newKey();
      return { key, entry: [newId('key_'), keyRecord(id, key)] as [string, ReturnType<typeof keyRecord>] };
    });
    expect(
      await a.directory.seed(
        accounts,
        keys.map((k) => k.entry),
      ),
    ).toBe(300);
    expect(await a.directory.seed(accounts.slice(0, 10), [])).toBe(0);
    const late = await gatewayBook(etcd.endpoints, '/seed/');
    expect(late.book.accounts.size).toBe(150);
    for (const { key, entry } of keys) expect(late.book.authenticate(key)).toEqual({ kind: 'account', account: entry[1].account, keyId: entry[0] });
  });

  it('skips a record that is not one (a key with a made-up digest is never trusted in part)', async () => {
    const etcd = await startEtcd();
    const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
    registerCleanup('root', () => root.close());
    const account = newId('acct_');
    await root.put(`/bad/accounts/${account}`, JSON.stringify({ name: 'x', createdAt: 1 }));
    await root.put(`/bad/keys/${newId('key_')}`, JSON.stringify({ account, digest: 'zz', createdAt: 1, revokedAt: null }));
    await root.put('/bad/keys/not-an-id', JSON.stringify({ account, digest: 'a'.repeat(64), createdAt: 1, revokedAt: null }));
    const skipped: string[] = [];
    const client = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
    registerCleanup('client', () => client.close());
    const directory = new FleetDirectory(client, new FleetKeys('/bad/'), { maxEntries: 100, checkEveryMs: 500 });
    registerCleanup('directory', () => directory.stop());
    directory.keys.listen({ put: () => undefined, delete: () => undefined, skipped: (key, why) => skipped.push(`${key.split('/').at(-1)}: ${why}`) });
    await directory.start();
    expect(directory.keys.entries.size).toBe(0);
    expect(skipped.sort()).toEqual([expect.stringMatching(/^key_[a-z2-7]{16}: digest: 64 hex digits/), 'not-an-id: not a key this mirror knows']);
  });
});

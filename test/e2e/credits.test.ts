// Accounts, keys and credits against a real gateway (DESIGN.md "Accounts, keys
// and credits"; docs/protocol.md §3, §5, §6.10–6.13): who may do what, what it
// costs, and that a refused request changes no balance.
import { beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newKey } from '../../src/credits/index.js';
import { resolveConfig } from '../../src/config/index.js';
import {
  StreamClient,
  parseLogLines,
  runCli,
  startCreditGateway,
  startGateway,
  tempDir,
  upgradeAnswer,
  type Account,
  type CreditGateway,
} from '../helpers/index.js';

const PRICED = { writePerEntry: 2, writePerKiB: 1, readPerEntry: 1, writers: 'any' as const, readers: 'any' as const, transferable: false };

describe('credits: the walkthrough', () => {
  it('prices a chain, burns credits per entry until they run out, and keeps balances and blocks consistent across a restart', async () => {
    const gw = await startCreditGateway({ config: { ledger: { blockIntervalMs: 50 } } });
    const owner = await gw.account('owner');
    const user = await gw.account('user');
    await gw.chain('shop', owner, PRICED);
    await gw.mint('shop', owner, user, 100);

    // Entries of ≤ 1 KiB cost 2 + 1 = 3; of 1 KiB + 1 byte, 2 + 2 = 4. A frame costs the sum.
    const client = await StreamClient.open(gw.port, 'shop', user.key);
    client.send(['a', 'b', 'c']); // 9
    client.send(['x'.repeat(1025), 'y']); // 7
    const replies = await client.waitReplies(2);
    expect(replies.map((r) => r.type)).toEqual(['accepted', 'accepted']);
    expect(await gw.balance('shop', user)).toBe(84);

    // Writing until the credits run out: 28 single entries at 3 take 84; the 29th is refused.
    for (let i = 0; i < 29; i++) client.send([`entry ${i}`]);
    const all = await client.waitReplies(31);
    expect(all.slice(2, 30).every((r) => r.type === 'accepted')).toBe(true);
    expect(all[30]).toMatchObject({
      type: 'error',
      frame: 30,
      code: 'credits',
      message: `${user.id} holds 0 credits of chain "shop"; this frame of 1 entries costs 3`,
    });
    const nextSeq = (all[29]!.seq as number) + 1;
    // The refused frame left no trace: no seq was used.
    client.send(['one more']);
    expect((await client.waitReplies(32))[31]).toMatchObject({ code: 'credits' });
    await client.waitCommitted((n) => n.reduce((end, c) => Math.max(end, (c.seq as number) + (c.count as number)), 0) >= nextSeq);
    expect((await gw.call<{ nextSeq: number }>('GET', '/v1/chains/shop', user.key)).body.nextSeq).toBe(nextSeq);

    // HTTP writes pay the same way.
    const post = await gw.call('POST', '/v1/chains/shop/entries', user.key, ['z']);
    expect(post).toMatchObject({ status: 402, body: { error: { code: 'credits' } } });

    expect(await gw.stop()).toBe(0);
    const again = await startCreditGateway({ dataDir: gw.dataDir, adminKey: gw.adminKey });
    expect(await again.balance('shop', user)).toBe(0);
    expect(await again.balance('shop', owner)).toBe(0);
    const history = await again.call<{ heights: { mints: unknown[]; burns: { amount: number }[] }[] }>('GET', '/v1/chains/shop/credits/ledger', owner.key);
    const burned = history.body.heights.flatMap((h) => h.burns).reduce((sum, b) => sum + b.amount, 0);
    expect(burned).toBe(100);
    expect(await again.stop()).toBe(0);
    const verify = runCli(['verify', '--data', gw.dataDir]);
    expect(verify.status).toBe(0);
    expect(verify.output).toMatch(/OK: credits: 1 chains, 100 minted − 100 burned = 0 held; the burns of \d+ blocks match their entries and policies/);
  });
});

describe('credits: who may do what', () => {
  let gw: CreditGateway;
  let owner: Account;
  let user: Account;
  let stranger: Account;
  beforeAll(async () => {
    gw = await startCreditGateway({ config: { ledger: { blockIntervalMs: 50 } } });
    owner = await gw.account('owner');
    user = await gw.account('user');
    stranger = await gw.account('stranger');
    await gw.chain('rules', owner, { ...PRICED, writers: [user.id] });
    await gw.mint('rules', owner, user, 1000);
    await gw.mint('rules', owner, owner, 1000);
  });

  it('refuses a missing, malformed, unknown or revoked key with 401, over HTTP and at the WebSocket upgrade', async () => {
    const extra = (await gw.call<{ keyId: string; key: string }>('POST', `/v1/accounts/${user.id}/keys`, user.key)).body;
    expect((await gw.call('DELETE', `/v1/accounts/${user.id}/keys/${extra.keyId}`, user.key)).status).toBe(200);
    const typo = user.key.slice(0, 10) + (user.key[10] === 'a' ? 'b' : 'a') + user.key.slice(11);
    const cases: [string | null, RegExp][] = [
      [null, /^no key/],
      ['hunter2', /^malformed key/],
      [typo, /^malformed key/],
      [newKey(), /^unknown or revoked key$/],
      [extra.key, /^unknown or revoked key$/],
    ];
    for (const [key, message] of cases) {
      const answer = await gw.call('GET', `/v1/chains/rules/credits/${user.id}`, key);
      expect(answer, String(key)).toMatchObject({ status: 401, body: { error: { code: 'unauthenticated', message: expect.stringMatching(message) } } });
      const upgrade = await upgradeAnswer(gw.port, 'rules', key === null ? {} : { header: `Bearer ${key}` });
      expect(upgrade.status, String(key)).toBe(401);
      expect(JSON.parse(upgrade.body)).toMatchObject({ error: { code: 'unauthenticated', message: expect.stringMatching(message) } });
    }
    // A 401 says how to authenticate.
    expect((await gw.http(`/v1/chains/rules/credits/${user.id}`)).headers.get('www-authenticate')).toBe('Bearer realm="chainlanes"');
    // The key may also come as ?key= on the WebSocket URL.
    expect((await upgradeAnswer(gw.port, 'rules', { query: user.key })).status).toBe(101);
    expect((await upgradeAnswer(gw.port, 'rules', { query: extra.key })).status).toBe(401);
    // Or as a subprotocol (browsers cannot set Authorization, and a URL lands in proxies' logs): the answer names the protocol, never the key.
    expect(await upgradeAnswer(gw.port, 'rules', { protocols: ['chainlanes.v1', `chainlanes.key.${user.key}`] })).toMatchObject({
      status: 101,
      protocol: 'chainlanes.v1',
    });
    expect(await upgradeAnswer(gw.port, 'rules', { protocols: [`chainlanes.key.${user.key}`, 'other'] })).toMatchObject({ status: 101, protocol: 'other' });
    expect((await upgradeAnswer(gw.port, 'rules', { protocols: ['chainlanes.v1', `chainlanes.key.${extra.key}`] })).status).toBe(401);
  });

  it('refuses writers and readers the policy does not list with 403, and unknown chains with 404', async () => {
    expect(await upgradeAnswer(gw.port, 'rules', { header: `Bearer ${stranger.key}` })).toMatchObject({
      status: 403,
      body: expect.stringMatching(/"forbidden".*writers/),
    });
    expect(await upgradeAnswer(gw.port, 'nowhere', { header: `Bearer ${user.key}` })).toMatchObject({
      status: 404,
      body: expect.stringMatching(/"unknown_chain"/),
    });
    expect(await upgradeAnswer(gw.port, 'rules', { header: `Bearer ${gw.adminKey}` })).toMatchObject({ status: 403 });
    expect(await gw.call('POST', '/v1/chains/nowhere/entries', user.key, ['a'])).toMatchObject({ status: 404, body: { error: { code: 'unknown_chain' } } });
    expect(await gw.call('POST', '/v1/chains/rules/entries', stranger.key, ['a'])).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    // Readers: "any" holder of the chain's credits; the stranger holds none.
    expect(await gw.call('GET', '/v1/chains/rules/blocks/0', stranger.key)).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect(await gw.call('GET', '/v1/chains/rules/blocks/0', null)).toMatchObject({ status: 401 });
    expect(await gw.call('GET', '/v1/chains/nowhere/entries/0', user.key)).toMatchObject({ status: 404, body: { error: { code: 'unknown_chain' } } });
  });

  it("shows chains' names and traffic only to a key: an account its own chains, the admin all", async () => {
    await gw.chain('secret', stranger);
    type Listing = { chains: { name: string }[]; total: number };
    const names = async (key: string): Promise<string[]> => (await gw.call<Listing>('GET', '/v1/chains', key)).body.chains.map((c) => c.name).sort();
    const lanesNamed = async (key: string): Promise<string[]> =>
      (await gw.call<{ lanes: { chains: string[] }[] }>('GET', '/v1/lanes', key)).body.lanes.flatMap((lane) => lane.chains).sort();
    for (const path of ['/v1/chains', '/v1/chains/rules', '/v1/lanes']) {
      expect(await gw.call('GET', path, null), path).toMatchObject({ status: 401, body: { error: { code: 'unauthenticated' } } });
    }
    expect(await names(owner.key)).toEqual(['rules']);
    expect(await names(stranger.key)).toEqual(['secret']);
    expect(await names(user.key)).toEqual([]);
    expect(await names(gw.adminKey)).toEqual(['rules', 'secret']);
    expect(await lanesNamed(owner.key)).toEqual(['rules']);
    expect(await lanesNamed(gw.adminKey)).toEqual(['rules', 'secret']);
    // One chain: the admin, its owner, and whom its policy lets write or read.
    expect(await gw.call('GET', '/v1/chains/rules', user.key)).toMatchObject({ status: 200, body: { name: 'rules' } });
    expect(await gw.call('GET', '/v1/chains/secret', stranger.key)).toMatchObject({ status: 200 });
    expect(await gw.call('GET', '/v1/chains/secret', gw.adminKey)).toMatchObject({ status: 200 });
    expect(await gw.call('GET', '/v1/chains/secret', owner.key)).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
  });

  it('lets only the admin or the account itself see or change an account, and only the admin create one', async () => {
    expect(await gw.call('GET', `/v1/accounts/${user.id}`, gw.adminKey)).toMatchObject({
      status: 200,
      body: { id: user.id, name: 'user', keys: expect.any(Array) },
    });
    expect(await gw.call('GET', `/v1/accounts/${user.id}`, user.key)).toMatchObject({ status: 200 });
    expect(await gw.call('GET', `/v1/accounts/${user.id}`, stranger.key)).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect(await gw.call('POST', `/v1/accounts/${user.id}/keys`, stranger.key)).toMatchObject({ status: 403 });
    expect(await gw.call('POST', '/v1/accounts', user.key, { name: 'x' })).toMatchObject({ status: 403 });
    expect(await gw.call('GET', '/v1/accounts/acct_zzzzzzzzzzzzzzzz', gw.adminKey)).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await gw.call('POST', '/v1/accounts', gw.adminKey, { name: '' })).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringMatching(/^name: /) } },
    });
  });

  it('lets the admin or the owner create and price chains, and only the owner mint', async () => {
    expect(await gw.call('POST', '/v1/chains', user.key, { name: 'theirs', owner: owner.id })).toMatchObject({ status: 403 });
    expect(await gw.call('POST', '/v1/chains', gw.adminKey, { name: 'admins', owner: owner.id })).toMatchObject({
      status: 201,
      body: { name: 'admins', owner: owner.id, version: 0 },
    });
    expect(await gw.call('POST', '/v1/chains', gw.adminKey, { name: 'admins', owner: user.id })).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringMatching(/exists already/) } },
    });
    expect(await gw.call('POST', '/v1/chains', gw.adminKey, { name: 'bad name!', owner: owner.id })).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringMatching(/^name: /) } },
    });
    expect(await gw.call('POST', '/v1/chains', gw.adminKey, { name: 'ownerless', owner: 'acct_zzzzzzzzzzzzzzzz' })).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    expect(await gw.call('PUT', '/v1/chains/admins/policy', user.key, PRICED)).toMatchObject({ status: 403 });
    expect(await gw.call('PUT', '/v1/chains/admins/policy', gw.adminKey, PRICED)).toMatchObject({ status: 200, body: { version: 1, fromSeq: 0 } });
    expect(await gw.call('PUT', '/v1/chains/admins/policy', gw.adminKey, { ...PRICED, writers: [stranger.id, 'acct_zzzzzzzzzzzzzzzz'] })).toMatchObject({
      status: 404,
      body: { error: { message: 'writers[1]: no account acct_zzzzzzzzzzzzzzzz' } },
    });
    expect(await gw.call('PUT', '/v1/chains/admins/policy', gw.adminKey, { ...PRICED, writePerKiB: -1 })).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringMatching(/^writePerKiB: /) } },
    });
    expect(await gw.call('PUT', '/v1/chains/nowhere/policy', gw.adminKey, PRICED)).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await gw.call('POST', '/v1/chains/rules/credits/mint', gw.adminKey, { to: user.id, amount: 5 })).toMatchObject({ status: 403 });
    expect(await gw.call('POST', '/v1/chains/rules/credits/mint', user.key, { to: user.id, amount: 5 })).toMatchObject({ status: 403 });
  });

  it('refuses bad amounts naming the field, non-transferable transfers, unknown accounts and chains, and changes no balance', async () => {
    const before = [await gw.balance('rules', user), await gw.balance('rules', owner)];
    for (const amount of [0, -1, 2.5, '10', 2 ** 53, 1e300, true]) {
      const answer = await gw.call('POST', '/v1/chains/rules/credits/mint', owner.key, { to: user.id, amount });
      expect(answer, String(amount)).toMatchObject({
        status: 400,
        body: {
          error: { code: 'bad_request', message: expect.stringMatching(/^amount: expected a whole number of credits from 1 to 9007199254740991, got /) },
        },
      });
    }
    expect(await gw.call('POST', '/v1/chains/rules/credits/mint', owner.key, { to: 'nobody', amount: 5 })).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringMatching(/^to: /) } },
    });
    expect(await gw.call('POST', '/v1/chains/rules/credits/mint', owner.key, { to: 'acct_zzzzzzzzzzzzzzzz', amount: 5 })).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    expect(await gw.call('POST', '/v1/chains/nowhere/credits/mint', owner.key, { to: user.id, amount: 5 })).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    expect(await gw.call('POST', '/v1/chains/rules/credits/mint', owner.key, 'not json')).toMatchObject({ status: 400 });
    expect(await gw.call('POST', '/v1/chains/rules/credits/transfer', user.key, { to: owner.id, amount: 5 })).toMatchObject({
      status: 403,
      body: { error: { message: expect.stringMatching(/not transferable/) } },
    });
    expect(await gw.call('GET', '/v1/chains/rules/credits/acct_zzzzzzzzzzzzzzzz', gw.adminKey)).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    expect(await gw.call('GET', `/v1/chains/rules/credits/${user.id}`, stranger.key)).toMatchObject({ status: 403 });
    expect(await gw.call('GET', '/v1/chains/rules/credits/ledger', user.key)).toMatchObject({ status: 403 });
    expect([await gw.balance('rules', user), await gw.balance('rules', owner)]).toEqual(before);
  });

  it('moves transferable credits between holders, never past a balance, and lists mints, transfers and burns by directory height', async () => {
    await gw.chain('gift', owner, { ...PRICED, transferable: true });
    await gw.mint('gift', owner, user, 50);
    expect(await gw.call('POST', '/v1/chains/gift/credits/transfer', user.key, { to: stranger.id, amount: 51 })).toMatchObject({
      status: 402,
      body: { error: { code: 'credits' } },
    });
    expect(await gw.call('POST', '/v1/chains/gift/credits/transfer', user.key, { to: stranger.id, amount: 20 })).toMatchObject({
      status: 200,
      body: { account: user.id, balance: 30 },
    });
    expect(await gw.call('POST', '/v1/chains/gift/credits/transfer', gw.adminKey, { to: stranger.id, amount: 1 })).toMatchObject({ status: 403 });
    expect(await gw.balance('gift', stranger)).toBe(20);
    // The stranger now holds credits, so "any" lets it write; 2 entries of ≤ 1 KiB cost 6.
    const answer = await gw.call('POST', '/v1/chains/gift/entries?wait=committed', stranger.key, ['a', 'b']);
    expect(answer).toMatchObject({ status: 200, body: { committed: true } });
    expect(await gw.balance('gift', stranger)).toBe(14);
    // Reads cost readPerEntry per entry returned: a block of 2 entries costs 2.
    expect((await gw.call('GET', '/v1/chains/gift/blocks/0', stranger.key)).status).toBe(200);
    expect((await gw.call('GET', '/v1/chains/gift/entries/1', stranger.key)).status).toBe(200);
    expect(await gw.balance('gift', stranger)).toBe(11);
    const ledger = async (): Promise<Record<string, unknown>[]> => {
      const { body } = await gw.call<{ heights: Record<string, Record<string, unknown>[]>[] }>('GET', '/v1/chains/gift/credits/ledger', owner.key);
      return body.heights.flatMap((h) => [...h.mints!, ...h.transfers!, ...h.burns!, ...h.reads!]);
    };
    // Read burns are written once per block interval, so the two reads may land in one record or two.
    const readsOf = (records: Record<string, unknown>[]): number =>
      records.filter((r) => r.account === stranger.id && r.block === undefined).reduce((sum, r) => sum + Number(r.amount), 0);
    await expect.poll(async () => readsOf(await ledger()), { timeout: 10_000 }).toBe(3);
    expect(await ledger()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ to: user.id, amount: 50 }),
        expect.objectContaining({ from: user.id, to: stranger.id, amount: 20 }),
        expect.objectContaining({ block: 0, firstSeq: 0, count: 2, account: stranger.id, amount: 6 }),
      ]),
    );
    expect(await gw.call('GET', '/v1/chains/gift/credits/ledger?from=x', owner.key)).toMatchObject({ status: 400 });
  });

  it('answers 402 for a read its reader cannot pay for, and serves nothing', async () => {
    await gw.chain('dear', owner, { ...PRICED, readPerEntry: 500 });
    await gw.mint('dear', owner, owner, 600);
    expect((await gw.call('POST', '/v1/chains/dear/entries?wait=committed', owner.key, ['a', 'b'])).status).toBe(200);
    expect(await gw.call('GET', '/v1/chains/dear/blocks/0', owner.key)).toMatchObject({
      status: 402,
      body: { error: { code: 'credits', message: expect.stringMatching(/reading 2 entries costs 1000/) } },
    });
    expect((await gw.call('GET', '/v1/chains/dear/entries/0', owner.key)).status).toBe(200);
    expect(await gw.call('GET', '/v1/chains/dear/entries/1', owner.key)).toMatchObject({ status: 402 });
    expect(await gw.balance('dear', owner)).toBe(600 - 6 - 500);
  });

  it('refuses frames of a writer the policy drops while its stream is open', async () => {
    await gw.chain('moving', owner, { ...PRICED, writers: [user.id] });
    await gw.mint('moving', owner, user, 100);
    const client = await StreamClient.open(gw.port, 'moving', user.key);
    client.send(['before']);
    expect((await client.waitReplies(1))[0]).toMatchObject({ type: 'accepted' });
    expect((await gw.call('PUT', '/v1/chains/moving/policy', owner.key, { ...PRICED, writers: 'owner' })).status).toBe(200);
    client.send(['after']);
    expect((await client.waitReplies(2))[1]).toMatchObject({ type: 'error', code: 'forbidden' });
  });

  it('closes a stream whose key is revoked, with an error and close code 1008, and refuses the key from then on', async () => {
    const second = (await gw.call<{ keyId: string; key: string }>('POST', `/v1/accounts/${user.id}/keys`, user.key)).body;
    const client = await StreamClient.open(gw.port, 'rules', second.key);
    client.send(['while the key is good']);
    expect((await client.waitReplies(1))[0]).toMatchObject({ type: 'accepted' });
    expect(await gw.call('DELETE', `/v1/accounts/${user.id}/keys/${second.keyId}`, gw.adminKey)).toMatchObject({ status: 200, body: { keyId: second.keyId } });
    expect(await client.waitClosed()).toBe(1008);
    expect(client.replies.at(-1)).toMatchObject({ type: 'error', frame: null, code: 'unauthenticated', message: expect.stringMatching(/revoked/) });
    expect((await upgradeAnswer(gw.port, 'rules', { header: `Bearer ${second.key}` })).status).toBe(401);
    const account = await gw.call<{ keys: { keyId: string; revokedAt: number | null }[] }>('GET', `/v1/accounts/${user.id}`, user.key);
    expect(account.body.keys.find((k) => k.keyId === second.keyId)?.revokedAt).toEqual(expect.any(Number));
  });

  it('closes a stream when its key expires, and refuses the key from then on, naming when it expired', async () => {
    const expiresAt = Date.now() + 1_500;
    const made = await gw.call<{ keyId: string; key: string; expiresAt: number }>('POST', `/v1/accounts/${user.id}/keys`, user.key, { expiresAt });
    expect(made).toMatchObject({ status: 201, body: { expiresAt } });
    const client = await StreamClient.open(gw.port, 'rules', made.body.key);
    client.send(['before it expires']);
    expect((await client.waitReplies(1))[0]).toMatchObject({ type: 'accepted' });
    expect(await client.waitClosed()).toBe(1008);
    expect(client.replies.at(-1)).toMatchObject({ type: 'error', frame: null, code: 'unauthenticated', message: expect.stringMatching(/expired/) });
    expect(await gw.call('GET', `/v1/chains/rules/credits/${user.id}`, made.body.key)).toMatchObject({
      status: 401,
      body: { error: { message: `the key expired at ${new Date(expiresAt).toISOString()}` } },
    });
    const account = await gw.call<{ keys: { keyId: string; expiresAt: number | null }[] }>('GET', `/v1/accounts/${user.id}`, user.key);
    expect(account.body.keys.find((k) => k.keyId === made.body.keyId)?.expiresAt).toBe(expiresAt);
    for (const bad of [{ expiresAt: Date.now() - 1 }, { expiresAt: 'soon' }, { expires: 1 }]) {
      expect(await gw.call('POST', `/v1/accounts/${user.id}/keys`, user.key, bad), JSON.stringify(bad)).toMatchObject({
        status: 400,
        body: { error: { code: 'bad_request' } },
      });
    }
  });

  it('lists accounts to the admin, a page at a time', async () => {
    const listed = await gw.call<{ accounts: { id: string; name: string; liveKeys: number }[]; total: number; next: number | null }>(
      'GET',
      '/v1/accounts?limit=2',
      gw.adminKey,
    );
    expect(listed).toMatchObject({ status: 200, body: { total: 3, next: 2 } });
    expect(listed.body.accounts.map((a) => a.name)).toEqual(['owner', 'user']);
    const rest = await gw.call<{ accounts: { id: string; name: string }[]; next: number | null }>('GET', '/v1/accounts?from=2', gw.adminKey);
    expect(rest.body).toMatchObject({ accounts: [{ id: stranger.id, name: 'stranger', liveKeys: 1 }], next: null });
    expect(await gw.call('GET', '/v1/accounts', owner.key)).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect(await gw.call('GET', '/v1/accounts?limit=x', gw.adminKey)).toMatchObject({ status: 400 });
  });

  it('never writes a key to the log', () => {
    const output = gw.output();
    for (const key of [gw.adminKey, owner.key, user.key, stranger.key]) expect(output).not.toContain(key);
    expect(output).not.toMatch(/clk_[a-z2-7]{36}/);
  });
});

describe('credits: modes', () => {
  it('runs open without an admin key, warns loudly, and refuses a public address without --insecure-open', async () => {
    const dir = tempDir();
    const refused = runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--data', join(dir, 'data')]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/host: 0\.0\.0\.0 is reachable from other machines, and no admin key is set.*--insecure-open/);
    const open = await startGateway({ dataDir: join(dir, 'data') });
    const warning = open.logs().find((line) => line.event === 'open-mode');
    expect(warning?.level).toBe(40);
    expect(await (await open.http('/v1/accounts', { method: 'POST', body: '{}' })).json()).toMatchObject({
      error: { code: 'not_found', message: expect.stringMatching(/open mode/) },
    });
    await open.stop();
    // Public on purpose: auth.insecureOpen (or --insecure-open, or CHAINLANES_INSECURE_OPEN) says so.
    const insecure = await startGateway({ dataDir: join(dir, 'data'), config: { host: '0.0.0.0' }, env: { CHAINLANES_INSECURE_OPEN: 'true' } });
    expect(insecure.logs().find((line) => line.event === 'listening')).toMatchObject({ host: '0.0.0.0', mode: 'open' });
    expect(resolveConfig(['--insecure-open'], {}).auth.insecureOpen).toBe(true);
  });

  it('refuses to start a priced store without its admin key, whatever the flags', async () => {
    const gw = await startCreditGateway();
    const owner = await gw.account('owner');
    await gw.chain('shop', owner, PRICED);
    expect(await gw.stop()).toBe(0);
    for (const flags of [[], ['--insecure-open'], ['--insecure-open', '--host', '0.0.0.0']]) {
      const refused = runCli(['serve', '--port', '0', '--data', gw.dataDir, ...flags]);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain(
        `chainlanes: the store ${gw.dataDir} is priced: it holds 1 account and 1 owned chain ("shop"), so it starts only with an admin key`,
      );
    }
    // Nothing was written free meanwhile, and the store still starts with its key.
    const again = await startCreditGateway({ dataDir: gw.dataDir, adminKey: gw.adminKey });
    expect((await again.call('GET', '/v1/chains/shop', owner.key)).status).toBe(200);
    expect(await again.stop()).toBe(0);
    expect(runCli(['verify', '--data', gw.dataDir]).status).toBe(0);
  });

  it('refuses an admin key file others can read, and a file that holds no key', () => {
    const dir = tempDir();
    const file = join(dir, 'admin.key');
    writeFileSync(file, newKey() + '\n');
    chmodSync(file, 0o644);
    const loose = runCli(['serve', '--port', '0', '--data', join(dir, 'data'), '--admin-key-file', file]);
    expect(loose.status).toBe(2);
    expect(loose.stderr).toContain(`auth.adminKeyFile ${file}: its mode 0644 lets group or others at it; make it the owner's alone: chmod 600 ${file}`);
    writeFileSync(file, 'not a key\n');
    chmodSync(file, 0o600);
    const junk = runCli(['serve', '--port', '0', '--data', join(dir, 'data'), '--admin-key-file', file]);
    expect(junk.status).toBe(2);
    expect(junk.stderr).toMatch(/not an admin key.*chainlanes keygen/);
    expect(junk.output).not.toContain('not a key');
  });

  it('answers listings to anyone when the operator makes them public', async () => {
    const gw = await startCreditGateway({ config: { auth: { publicListings: true } } });
    const owner = await gw.account('owner');
    await gw.chain('shown', owner);
    expect(await gw.call('GET', '/v1/chains', null)).toMatchObject({ status: 200, body: { chains: [{ name: 'shown' }] } });
    expect(await gw.call('GET', '/v1/chains/shown', null)).toMatchObject({ status: 200 });
    expect(await gw.call('GET', '/v1/lanes', null)).toMatchObject({ status: 200 });
    // Reading entries still takes a key.
    expect(await gw.call('GET', '/v1/chains/shown/entries/0', null)).toMatchObject({ status: 401 });
  });

  it('starts authenticated from a private key file', async () => {
    const dir = tempDir();
    const file = join(dir, 'admin.key');
    const key = newKey();
    writeFileSync(file, key + '\n', { mode: 0o600 });
    const gw = await startGateway({ config: { auth: { adminKeyFile: file } } });
    expect(gw.logs().find((line) => line.event === 'listening')).toMatchObject({ mode: 'authenticated' });
    const res = await gw.http('/v1/accounts', { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ name: 'a' }) });
    expect(res.status).toBe(201);
    expect(parseLogLines(gw.output()).some((line) => line.event === 'open-mode')).toBe(false);
  });
});

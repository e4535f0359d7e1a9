// The credits' durable side without a gateway: accounts, chains, policies,
// mints and transfers survive a reopen; burns written alongside a seal land
// with it; the offline check finds supply and burns consistent, or says where not.
import { describe, expect, it } from 'vitest';
import { Ledger, verifyStore } from '../../src/ledger/index.js';
import { BurnWriter, CreditCheck, Credits, isRefusal, newKey, type Principal } from '../../src/credits/index.js';
import { makeBlock, registerCleanup, tempDir } from '../helpers/index.js';

const ADMIN: Principal = { kind: 'admin' };

async function open(dir: string, adminKey: string, nextSeq: Record<string, number> = {}): Promise<{ ledger: Ledger; credits: Credits }> {
  const ledger = await Ledger.open(dir);
  registerCleanup(`ledger ${dir}`, () => ledger.close());
  const credits = await Credits.open(ledger.environment, { adminKey, nextSeqOf: (c) => nextSeq[c] ?? 0, nextDirectoryHeight: () => 0 });
  return { ledger, credits };
}

function ok<T>(value: T): Exclude<T, { refused: true }> {
  if (isRefusal(value)) throw new Error(`refused: ${value.code}: ${value.message}`);
  return value as Exclude<T, { refused: true }>;
}

describe('credit store', () => {
  it('keeps accounts, keys, chains, policies and balances across a reopen', async () => {
    const dir = tempDir();
    const adminKey = newKey();
    const first = await open(dir, adminKey);
    const owner = ok(await first.credits.createAccount(ADMIN, { name: 'owner' }));
    const user = ok(await first.credits.createAccount(ADMIN, { name: 'user' }));
    const ownerP = ok(first.credits.authenticate(owner.key)) as Principal;
    const userP = ok(first.credits.authenticate(user.key)) as Principal;
    ok(await first.credits.createChain(ok(first.credits.chainRequest(ownerP, { name: 'shop', owner: owner.id })), 0));
    const policy = { writePerEntry: 2, writePerKiB: 0, readPerEntry: 1, writers: 'any', readers: 'any', transferable: true };
    expect(ok(await first.credits.setPolicy(ownerP, 'shop', policy, () => 0))).toMatchObject({ version: 1, fromSeq: 0 });
    ok(await first.credits.mint(ownerP, 'shop', { to: user.id, amount: 1000 }));
    expect(ok(await first.credits.transfer(userP, 'shop', { to: owner.id, amount: 300 }))).toEqual({ account: user.id, balance: 700 });
    const revoked = ok(await first.credits.addKey(userP, user.id, undefined));
    ok(await first.credits.revokeKey(userP, user.id, revoked.keyId));
    await first.ledger.close();

    const again = await open(dir, adminKey);
    expect(again.credits.authenticate(owner.key)).toMatchObject({ kind: 'account', account: owner.id });
    expect(again.credits.authenticate(revoked.key)).toMatchObject({ code: 'unauthenticated' });
    expect(again.credits.balance(ADMIN, 'shop', user.id)).toEqual({ account: user.id, balance: 700 });
    expect(again.credits.balance(ADMIN, 'shop', owner.id)).toEqual({ account: owner.id, balance: 300 });
    expect(again.credits.book.chains.get('shop')!.policy).toEqual(policy);
    const account = ok(again.credits.account(userP, user.id));
    expect(account.keys).toHaveLength(2);
    expect(account.keys.find((k) => k.keyId === revoked.keyId)?.revokedAt).toBeGreaterThan(0);
  });

  it('refuses bad amounts naming the field, and changes no balance', async () => {
    const { credits } = await open(tempDir(), newKey());
    const owner = ok(await credits.createAccount(ADMIN, { name: 'owner' }));
    const ownerP = ok(credits.authenticate(owner.key)) as Principal;
    ok(await credits.createChain(ok(credits.chainRequest(ADMIN, { name: 'shop', owner: owner.id })), 0));
    for (const amount of [0, -5, 1.5, '5', 2 ** 53, 1e300, null]) {
      expect(await credits.mint(ownerP, 'shop', { to: owner.id, amount }), String(amount)).toMatchObject({
        code: 'bad_request',
        message: expect.stringMatching(/^amount: /),
      });
    }
    expect(await credits.mint(ownerP, 'shop', { to: owner.id })).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/^amount: missing/) });
    expect(await credits.mint(ownerP, 'shop', { to: owner.id, amount: 1, extra: 1 })).toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/^extra: unknown field/),
    });
    ok(await credits.mint(ownerP, 'shop', { to: owner.id, amount: Number.MAX_SAFE_INTEGER }));
    expect(await credits.mint(ownerP, 'shop', { to: owner.id, amount: 1 })).toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/past 9007199254740991/),
    });
    expect(credits.balance(ADMIN, 'shop', owner.id)).toEqual({ account: owner.id, balance: Number.MAX_SAFE_INTEGER });
  });

  it('writes burns in the seal transaction, and verify checks them against the blocks and the supply', async () => {
    const dir = tempDir();
    const { ledger, credits } = await open(dir, newKey());
    const owner = await pricedBank(credits);
    const burns = new BurnWriter(ledger.environment);
    // makeBlock's entries are a few bytes each (4 credits apiece) but every fifth is empty (3 credits).
    const block = makeBlock('bank-1', 0, 5);
    const good = (sealed: { directory: { height: number } | null; blocks: { height: number }[] }): void =>
      burns.write(sealed.directory!.height, [{ chainName: 'bank-1', height: sealed.blocks[0]!.height, firstSeq: 0, count: 5, burns: [[owner.id, 19]] }]);
    await ledger.seal({ blocks: [block], sealedAt: 1_700_000_000_000 }, good);
    // A balance that would go negative aborts the whole seal.
    const tooMuch = (): void => burns.write(1, [{ chainName: 'bank-1', height: 1, firstSeq: 5, count: 1, burns: [[owner.id, 1000]] }]);
    await expect(ledger.seal({ blocks: [makeBlock('bank-1', 5, 1)], sealedAt: 1_700_000_000_500 }, tooMuch)).rejects.toThrow(/would become -919/);
    await ledger.close();

    const report = await verifyStore(dir, { checks: [new CreditCheck()] });
    expect(report).toMatchObject({ ok: true, blocks: 1 });
    expect(report.checks).toEqual(['credits: 1 chains, 100 minted − 19 burned = 81 held; the burns of 1 blocks match their entries and policies']);
  });

  it("says which block's burns do not match its entries", async () => {
    const dir = tempDir();
    const { ledger, credits } = await open(dir, newKey());
    const owner = await pricedBank(credits);
    const burns = new BurnWriter(ledger.environment);
    await ledger.seal({ blocks: [makeBlock('bank-1', 0, 5)], sealedAt: 1_700_000_000_000 }, (sealed) =>
      burns.write(sealed.directory!.height, [{ chainName: 'bank-1', height: 0, firstSeq: 0, count: 5, burns: [[owner.id, 20]] }]),
    );
    await ledger.close();
    const report = await verifyStore(dir, { checks: [new CreditCheck()] });
    expect(report).toMatchObject({
      ok: false,
      firstBreak: 'credits of chain "bank-1" block 0: 20 credits burned, but its 5 entries cost 19 under the policy in force',
    });
  });
});

/** Chain bank-1, owned by a new account that holds 100 of its credits; each entry costs 3 + 1 per KiB. */
async function pricedBank(credits: Credits): Promise<{ id: string; key: string }> {
  const owner = ok(await credits.createAccount(ADMIN, { name: 'owner' }));
  const ownerP = ok(credits.authenticate(owner.key)) as Principal;
  ok(await credits.createChain(ok(credits.chainRequest(ADMIN, { name: 'bank-1', owner: owner.id })), 0));
  ok(
    await credits.setPolicy(
      ownerP,
      'bank-1',
      { writePerEntry: 3, writePerKiB: 1, readPerEntry: 0, writers: 'owner', readers: 'owner', transferable: false },
      () => 0,
    ),
  );
  ok(await credits.mint(ownerP, 'bank-1', { to: owner.id, amount: 100 }));
  return owner;
}

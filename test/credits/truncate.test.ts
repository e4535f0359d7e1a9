// Burns given back by a returning owner's truncation (BurnWriter.refunder in
// Ledger.truncateUnreplicated's transaction): the payers' balances are the
// mints less the burns of the blocks that remain, the history keeps both the
// burn and its refund, and `verify`'s credit check pairs them — or names a
// refund that no burn matches.
import { describe, expect, it } from 'vitest';
import { chainIdOf, Ledger, verifyStore } from '../../src/ledger/index.js';
import { ADMIN, BurnWriter, CreditCheck, Credits, isRefusal, newKey, type Principal } from '../../src/credits/index.js';
import { openCreditTables } from '../../src/credits/store.js';
import { payingOwner } from '../helpers/front-door.js';
import { makeBlock, registerCleanup, tempDir } from '../helpers/index.js';

const TAKEOVER = { by: 'gw-standby', token: 77, at: 1_700_000_100_000 };

async function openBook(ledger: Ledger): Promise<Credits> {
  return Credits.open(ledger.environment, { adminKey: newKey(), nextSeqOf: () => 0, nextDirectoryHeight: () => 0 });
}

/** Chain "bank" at 2 credits an entry, its owner holding 100; blocks of 3, 4 and 5 entries in directories 0, 1, 2, each paid for. */
async function paidStore(): Promise<{ dir: string; ledger: Ledger; account: string; burns: BurnWriter }> {
  const dir = tempDir('chainlanes-refund-');
  const ledger = await Ledger.open(dir);
  registerCleanup(`ledger ${dir}`, () => ledger.close());
  const owner: Principal = await payingOwner(await openBook(ledger), 'bank', { writePerEntry: 2, writePerKiB: 0 }, 100);
  const account = owner.kind === 'account' ? owner.account : '';
  const burns = new BurnWriter(ledger.environment);
  let firstSeq = 0;
  for (const [i, count] of [3, 4, 5].entries()) {
    const from = firstSeq;
    await ledger.seal({ blocks: [makeBlock('bank', from, count)], sealedAt: 1_700_000_000_000 + i }, (sealed) =>
      burns.write(sealed.directory!.height, [{ chainName: 'bank', height: i, firstSeq: from, count, burns: [[account, 2 * count]] }]),
    );
    firstSeq += count;
  }
  return { dir, ledger, account, burns };
}

describe('refunds of truncated blocks', () => {
  it('give the burns back in the truncation, and verify pairs each refund with its burn', async () => {
    const { dir, ledger, account, burns } = await paidStore();
    const refund = burns.refunder()!;
    const result = await ledger.truncateUnreplicated({ after: 0, ...TAKEOVER }, (removed, why) => refund(removed, why));
    expect(result).toMatchObject({ blocks: 2, entries: 9 });

    const book = await openBook(ledger);
    expect(book.balance(ADMIN, 'bank', account)).toEqual({ account, balance: 100 - 2 * 3 });
    const history = book.history(ADMIN, 'bank', 0, 10);
    if (isRefusal(history)) throw new Error(history.message);
    expect(history.heights.map((h) => [h.height, h.burns.map((b) => b.amount), h.refunds.map((r) => [r.block, r.amount, r.token])])).toEqual([
      [0, [6], []],
      [1, [8], [[1, 8, 77]]],
      [2, [10], [[2, 10, 77]]],
    ]);
    await ledger.close();
    const report = await verifyStore(dir, { checks: [new CreditCheck()] });
    expect(report.ok).toBe(true);
    expect(report.checks).toEqual([
      'credits: 1 chains, 100 minted − 24 burned + 18 refunded (truncations) = 94 held; the burns of 1 blocks match their entries and policies',
    ]);
  });

  it('leaves a store without credit tables without them', async () => {
    const dir = tempDir('chainlanes-refund-');
    const ledger = await Ledger.open(dir);
    registerCleanup(`ledger ${dir}`, () => ledger.close());
    await ledger.seal({ blocks: [makeBlock('open', 0, 2)], sealedAt: 1_700_000_000_000 });
    expect(new BurnWriter(ledger.environment).refunder()).toBeUndefined();
    expect(openCreditTables(ledger.environment, false)).toBeNull();
  });

  it('makes verify name a refund that no burn record matches', async () => {
    const { dir, ledger } = await paidStore();
    // A refund of block 1 written as if it had 3 entries: it matches no burn record.
    const tables = openCreditTables(ledger.environment)!;
    await ledger.environment.transaction(() => {
      tables.history.putSync(
        Buffer.concat([Buffer.from(historyPrefix('bank', 1)), Buffer.from([7]), u64(1)]),
        Buffer.from(JSON.stringify({ kind: 'refund', block: 1, firstSeq: 3, count: 3, burns: { x: 6 }, ...TAKEOVER })),
      );
    });
    await ledger.close();
    const report = await verifyStore(dir, { checks: [new CreditCheck()] });
    expect(report).toMatchObject({
      ok: false,
      firstBreak: 'credits of chain "bank": a refund of 6 for block 1 (directory 1) that no burn record of that block matches',
    });
  });
});

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** chainId ‖ height: the start of a chain's history key at a directory height (credits/store.ts). */
function historyPrefix(chain: string, height: number): Buffer {
  return Buffer.concat([chainIdOf(chain), u64(height)]);
}

// The sealer's `truncate` command (Sealer.truncateUnreplicated → Ledger.truncateUnreplicated
// on the sealer thread) with a real front door in authenticated mode: entries
// admitted, billed and sealed in three directories; the truncation after the
// first removes the rest in one transaction with their burns given back, the
// front door's store reads name it, the credit book reopened from the store
// holds what was minted less the burns of the entries that remain, `verify`'s
// checks pass, and the sealer goes on sealing after it.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { LedgerReaders, SupersededError, TruncationError, verifyStore, verifyStoreIsolated } from '../../src/ledger/index.js';
import { ADMIN, CreditCheck, Credits, isRefusal, newKey, type Principal } from '../../src/credits/index.js';
import { verifyEntry, type EntryProof } from '../../src/client/index.js';
import { admitted, payingOwner, RecordingOwner, startFrontDoor, type FrontDoor } from '../helpers/front-door.js';
import { CLI } from '../helpers/index.js';

const TAKEOVER = { by: 'gw-standby', token: 4242, at: 1_700_000_100_000 };

function admit(door: FrontDoor, chain: string, entries: string[], payer: Principal): void {
  admitted(door.admission.admit(chain, pack(entries), new RecordingOwner(), 0, payer));
}

function accountOf(principal: Principal): string {
  if (principal.kind !== 'account') throw new Error('not an account');
  return principal.account;
}

describe('Sealer.truncateUnreplicated', () => {
  it('removes the tail in order with the seals, gives its burns back, and the sealer goes on', async () => {
    const door = await startFrontDoor({ credits: true });
    const credits = door.credits!;
    const payers = {
      taken: await payingOwner(credits, 'taken', { writePerEntry: 2, writePerKiB: 0 }, 1000),
      also: await payingOwner(credits, 'also', { writePerEntry: 3, writePerKiB: 0 }, 1000),
    };
    // Three directories: 0 holds taken 0–2 and also 0–1; 1 holds taken 3–6; 2 holds taken 7–8 and also 2.
    admit(door, 'taken', ['t0', 't1', 't2'], payers.taken);
    admit(door, 'also', ['a0', 'a1'], payers.also);
    await door.sealAll();
    admit(door, 'taken', ['t3', 't4', 't5', 't6'], payers.taken);
    await door.sealAll();
    admit(door, 'taken', ['t7', 't8'], payers.taken);
    admit(door, 'also', ['a2'], payers.also);
    await door.sealAll();
    expect(door.ledger.sealedHeight()).toBe(2);

    // A bad request is refused by the thread with nothing removed.
    await expect(door.sealer.truncateUnreplicated({ ...TAKEOVER, after: 0, token: -1 })).rejects.toThrow(TruncationError);
    const slots = door.chains.all().map((chain): [string, number] => [chain.name, chain.slot]);
    const result = await door.sealer.truncateUnreplicated({ ...TAKEOVER, after: 0 }, slots);
    expect(result).toMatchObject({ after: 0, ...TAKEOVER, directories: 2, blocks: 3, entries: 7 });
    expect(Object.fromEntries(result.chains.map((c) => [c.chain, [c.blocks, c.seqs, c.head.nextSeq]]))).toEqual({
      taken: [{ from: 1, to: 2 }, { from: 3, end: 9 }, 3],
      also: [{ from: 1, to: 1 }, { from: 2, end: 3 }, 2],
    });

    // The front door's store (read-only, another thread wrote it) reads the truncation.
    for (let seq = 0; seq < 3; seq++) expect(verifyEntry(door.ledger.entryProof('taken', seq)!, { chain: 'taken', seq })).toEqual({ ok: true });
    expect(() => door.ledger.entryProof('taken', 3)).toThrow(SupersededError);
    expect(() => door.ledger.entryProof('also', 2)).toThrow(/^entry 2 of chain "also" was superseded by failover at token 4242 \(taken over by "gw-standby"\)/);

    // As the HTTP routes read it: on a reader thread, the error crossing back as a SupersededError (answered not_found).
    const readers = new LedgerReaders(door.dataDir, 1);
    try {
      const proof = JSON.parse((await readers.read({ kind: 'entry', chain: 'taken', seq: 2 }))!) as EntryProof;
      expect(verifyEntry(proof, { chain: 'taken', seq: 2 })).toEqual({ ok: true });
      const gone = await readers.read({ kind: 'block', chain: 'taken', height: 2 }).catch((error: unknown) => error);
      expect(gone).toBeInstanceOf(SupersededError);
      expect((gone as Error).message).toMatch(
        /^block 2 of chain "taken" was superseded by failover at token 4242 \(taken over by "gw-standby"\): the chain.s blocks 1–2, sealed here in directories 1–2, were never acknowledged/,
      );
      expect(await readers.read({ kind: 'entry', chain: 'taken', seq: 9 })).toBeNull();
    } finally {
      await readers.close();
    }

    // The front door's book still holds the burns until it reloads the truncated chains' balances from the store.
    expect(credits.balance(ADMIN, 'taken', accountOf(payers.taken))).toEqual({ account: accountOf(payers.taken), balance: 1000 - 9 * 2 });
    credits.reloadBalances(result.chains.map((c) => c.chain));
    expect(credits.balance(ADMIN, 'taken', accountOf(payers.taken))).toEqual({ account: accountOf(payers.taken), balance: 1000 - 3 * 2 });
    expect(credits.book.chains.get('also')!.supply).toBe(1000 - 2 * 3);

    // The credit book as the store holds it: minted less the burns of the entries that remain, and the refunds listed.
    const book = await Credits.open(door.ledger.environment, { adminKey: newKey(), nextSeqOf: () => 0, nextDirectoryHeight: () => 3 });
    expect(book.balance(ADMIN, 'taken', accountOf(payers.taken))).toEqual({ account: accountOf(payers.taken), balance: 1000 - 3 * 2 });
    expect(book.balance(ADMIN, 'also', accountOf(payers.also))).toEqual({ account: accountOf(payers.also), balance: 1000 - 2 * 3 });
    const history = book.history(ADMIN, 'taken', 0, 10);
    if (isRefusal(history)) throw new Error(history.message);
    expect(history.heights.flatMap((h) => h.refunds.map((r) => [h.height, r.block, r.amount, r.by, r.token]))).toEqual([
      [1, 1, 8, 'gw-standby', 4242],
      [2, 2, 4, 'gw-standby', 4242],
    ]);

    // The sealer goes on: its next directory is 3, a new chain's entries prove.
    const fresh = await payingOwner(credits, 'fresh', { writePerEntry: 1, writePerKiB: 0 }, 10);
    admit(door, 'fresh', ['f0', 'f1'], fresh);
    await door.sealAll();
    expect(door.ledger.sealedHeight()).toBe(3);
    expect(verifyEntry(door.ledger.entryProof('fresh', 1)!, { chain: 'fresh', seq: 1 })).toEqual({ ok: true });

    // A chain with burns not yet sealed keeps its book: reloading it from the store would forget them.
    admit(door, 'fresh', ['f2'], fresh);
    expect(() => credits.reloadBalances(['taken', 'fresh'])).toThrow(/^credits: chain "fresh" has burns not yet sealed/);
    expect(credits.balance(ADMIN, 'fresh', accountOf(fresh))).toEqual({ account: accountOf(fresh), balance: 10 - 3 });
    await door.sealAll();

    // `chainlanes verify`'s walk (in its own process) and its credit check.
    const walked = await verifyStoreIsolated(door.dataDir);
    expect(walked).toMatchObject({ ok: true, blocks: 4, entries: 8, directories: 5 });
    expect(walked.superseded).toEqual([{ ...TAKEOVER, directories: { from: 1, to: 2, count: 2 }, blocks: 3 }]);
    await door.sealer.stop();
    const checked = await verifyStore(door.dataDir, { checks: [new CreditCheck()] });
    expect(checked.ok).toBe(true);
    const cli = execFileSync(process.execPath, [CLI, 'verify', '--data', door.dataDir], { encoding: 'utf8' });
    expect(cli).toMatch(/^chainlanes verify: OK: 3 chains, 4 entry blocks, 8 entries, 5 directory blocks in /m);
    expect(cli).toContain(
      'chainlanes verify: OK: directories 1–2 (2): 3 blocks never acknowledged by the standby, removed, superseded by failover at token 4242 (taken over by "gw-standby", 2023-11-14T22:15:00.000Z)',
    );
    expect(cli).toContain('chainlanes verify: OK: credits: 3 chains, 2010 minted − 30 burned + 15 refunded (truncations) = 1995 held;');
    expect(checked.checks).toEqual([
      'credits: 3 chains, 2010 minted − 30 burned + 15 refunded (truncations) = 1995 held; the burns of 4 blocks match their entries and policies',
    ]);
  });
});

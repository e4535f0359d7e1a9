// Seals whose commit or flush fails, the way lmdb-js reports it. The ledger
// promises that after any failure its heads equal the store's and the same
// input can be retried; these tests hold it to that for failures after the
// write (a full disk is tested for real in test/e2e/disk-faults.test.ts).
import { constants } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import { Ledger, SealInputError, StoreWriteError, verifyStore } from '../../src/ledger/index.js';
import type { LedgerHeads, SealInput } from '../../src/ledger/index.js';
import { makeBlock, tempDir } from '../helpers/index.js';

const T0 = 1_700_000_000_000;

function interval(n: number): SealInput {
  return { blocks: [makeBlock('bank-1', 3 * n, 3), makeBlock(`shop-${n}`, 0, 2)], sealedAt: T0 + n };
}

/** What lmdb-js rejects a failed commit with: a bare message, and the cause in a second promise. */
function lmdbCommitFailure(errno: number, message: string): Error {
  const cause = Object.assign(new Error(message), { code: errno });
  return Object.assign(new Error('Commit failed (see commitError for details)'), { commitError: Promise.reject(cause) });
}

/** The heads as the store has them, read through a second (read-only) handle. */
async function storeHeads(dir: string): Promise<LedgerHeads> {
  const reader = await Ledger.open(dir, { readOnly: true });
  try {
    return reader.heads();
  } finally {
    await reader.close();
  }
}

function comparable(heads: LedgerHeads): unknown {
  const chains = heads.chains.map((c) => ({ ...c, chainId: c.chainId.toString('hex'), lastBlockHash: c.lastBlockHash.toString('hex') }));
  return {
    chains: chains.sort((a, b) => a.chainName.localeCompare(b.chainName)),
    directory: { ...heads.directory, lastHash: heads.directory.lastHash.toString('hex') },
  };
}

type Syncable = { sync(callback: (error?: unknown) => void): void };

describe('a seal whose commit fails', () => {
  it('names the cause, leaves the heads as the store has them, and succeeds on retry', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    await ledger.seal(interval(0));
    const root = ledger.environment;
    // Nothing reaches the store: the commit fails as lmdb-js reports ENOSPC.
    vi.spyOn(root, 'childTransaction').mockImplementationOnce(() => Promise.reject(lmdbCommitFailure(constants.errno.ENOSPC, 'No space left on device')));
    const failed = ledger.seal(interval(1));
    await expect(failed).rejects.toThrow(StoreWriteError);
    await expect(failed).rejects.toThrow('the store commit failed: ENOSPC: No space left on device');
    expect(comparable(ledger.heads())).toEqual(comparable(await storeHeads(dir)));
    expect(ledger.heads().directory.nextHeight).toBe(1);
    const retried = await ledger.seal(interval(1));
    expect(retried.directory?.height).toBe(1);
    expect(comparable(ledger.heads())).toEqual(comparable(await storeHeads(dir)));
    await ledger.close();
    expect(await verifyStore(dir)).toMatchObject({ ok: true, directories: 2, blocks: 4 });
  });

  it('takes a commit lmdb reported failed but made visible (its fsync failed) as sealed once a sync succeeds', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    await ledger.seal(interval(0));
    const root = ledger.environment;
    commitLandsThenFails(root);
    const sync = vi.spyOn(root as unknown as Syncable, 'sync');
    const sealed = await ledger.seal(interval(1));
    expect(sealed.directory?.height).toBe(1);
    expect(sync).toHaveBeenCalledTimes(1);
    expect(comparable(ledger.heads())).toEqual(comparable(await storeHeads(dir)));
    expect((await ledger.seal(interval(2))).directory?.height).toBe(2);
    await ledger.close();
    expect(await verifyStore(dir)).toMatchObject({ ok: true, directories: 3 });
  });

  it('keeps a visible seal whose sync fails: heads include it, and only its retry is taken, which syncs again', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    await ledger.seal(interval(0));
    const root = ledger.environment;
    commitLandsThenFails(root);
    const eio = Object.assign(new Error('Input/output error'), { code: constants.errno.EIO });
    vi.spyOn(root as unknown as Syncable, 'sync').mockImplementationOnce((callback) => setImmediate(() => callback(eio)));
    await expect(ledger.seal(interval(1))).rejects.toThrow(
      'directory 1 is in the store but not known to be on disk: the store sync failed: EIO: Input/output error',
    );
    // The heads follow the store, which holds directory 1.
    expect(ledger.heads().directory.nextHeight).toBe(2);
    expect(comparable(ledger.heads())).toEqual(comparable(await storeHeads(dir)));
    // Anything but the same cut again is refused: it would be sealed on top of a seal not known durable.
    await expect(ledger.seal(interval(2))).rejects.toThrow(SealInputError);
    const retried = await ledger.seal(interval(1));
    expect(retried.directory?.height).toBe(1);
    expect((await ledger.seal(interval(2))).directory?.height).toBe(2);
    await ledger.close();
    expect(await verifyStore(dir)).toMatchObject({ ok: true, directories: 3 });
  });

  it('keeps a committed seal whose flush fails, and its retry only syncs', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    await ledger.seal(interval(0));
    const root = ledger.environment;
    const flushFailed = Object.assign(new Error('Input/output error'), { code: constants.errno.EIO });
    // An own property shadows lmdb-js's `flushed` thenable for one seal.
    Object.defineProperty(root, 'flushed', { configurable: true, get: () => Promise.reject(flushFailed) });
    await expect(ledger.seal(interval(1))).rejects.toThrow('directory 1 is in the store but not known to be on disk: EIO: Input/output error');
    Reflect.deleteProperty(root, 'flushed');
    expect(comparable(ledger.heads())).toEqual(comparable(await storeHeads(dir)));
    expect((await ledger.seal(interval(1))).directory?.height).toBe(1);
    expect((await ledger.seal(interval(2))).directory?.height).toBe(2);
    await ledger.close();
    expect(await verifyStore(dir)).toMatchObject({ ok: true, directories: 3 });
  });
});

/** The next commit reaches the store and then reports EIO, as lmdb does when the fsync after its meta-page write fails. */
function commitLandsThenFails(root: Ledger['environment']): void {
  const commit = root.childTransaction.bind(root);
  vi.spyOn(root, 'childTransaction').mockImplementationOnce(async <T>(action: () => T) => {
    await commit(action);
    throw lmdbCommitFailure(constants.errno.EIO, 'Input/output error');
  });
}

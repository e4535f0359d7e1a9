// lmdb-file.ts reads lmdb's meta pages and free-page list before lmdb maps
// the file. It must pass every file lmdb itself writes (a new store, a store
// after many seals, a compacted copy), and name damage precisely.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ledger, StoreCorruptError, checkStoreFile } from '../../src/ledger/index.js';
import { checkLmdbFile } from '../../src/ledger/lmdb-file.js';
import { makeBlock, tempDir } from '../helpers/index.js';

async function sealed(dir: string, intervals: number): Promise<void> {
  const ledger = await Ledger.open(dir);
  for (let n = 0; n < intervals; n++)
    await ledger.seal({ blocks: [makeBlock('bank-1', 4 * n, 4), makeBlock(`shop-${n % 3}`, Math.floor(n / 3) * 2, 2)], sealedAt: n });
  await ledger.close();
}

function damage(dir: string, at: number, mask = 0xff): void {
  const path = join(dir, 'data.mdb');
  const file = readFileSync(path);
  file[at] = file[at]! ^ mask;
  writeFileSync(path, file);
}

describe('checkLmdbFile', () => {
  it('passes a new store and a store after many seals, walking its free-page list', async () => {
    const dir = tempDir('chainlanes-ledger-');
    await sealed(dir, 0);
    expect(checkLmdbFile(dir, { freeList: true }).current.lastPage).toBeGreaterThan(1);
    await sealed(dir, 40);
    const report = checkLmdbFile(dir, { freeList: true });
    expect(report).toMatchObject({ pageSize: expect.any(Number), freeListPages: expect.any(Number) });
    expect(report.freeListPages).toBeGreaterThan(0);
    expect(report.current.lastPage).toBeLessThan(report.filePages);
  });

  it('passes a compacted copy (transaction id 0 in page 0, an odd one in page 1)', async () => {
    const dir = tempDir('chainlanes-ledger-');
    await sealed(dir, 5);
    const ledger = await Ledger.open(dir);
    const copy = join(dir, 'copy');
    mkdirSync(copy);
    await (ledger.environment as unknown as { backup(path: string, compact: boolean): Promise<void> }).backup(copy, true);
    await ledger.close();
    expect(checkLmdbFile(copy, { freeList: true }).current).toMatchObject({ where: 'meta page 1', txnid: expect.any(Number) });
  });

  it('names damage to the meta pages, after re-reading in case a writer was replacing them', async () => {
    const dir = tempDir('chainlanes-ledger-');
    await sealed(dir, 3);
    const pageSize = readFileSync(join(dir, 'data.mdb')).readUInt32LE(48);
    damage(dir, pageSize + 28, 0x04);
    const started = Date.now();
    await expect(checkStoreFile(dir)).rejects.toThrow(StoreCorruptError);
    await expect(checkStoreFile(dir)).rejects.toThrow(`the store in ${dir} is corrupt: corrupt lmdb meta page 1: data version 6, expected 2`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 2 * 25);
  });
});

// Client frame ids in the store (src/ledger/frame-ids.ts): written in the seal
// transaction of the block holding each frame's first seq, read back for a
// window with their hashes (across blocks and seals), bounded by count and
// bytes, and refused with nothing written when they do not fit their block.
import { describe, expect, it } from 'vitest';
import { Ledger, LedgerCorruptionError, SealInputError } from '../../src/ledger/index.js';
import { makeBlock, tempDir } from '../helpers/index.js';

const P = 'c11e470000000001';
const id = (seq: number, n: number, count: number) => ({ seq, producer: P, n, count });

describe('frame ids in the store', () => {
  it('are read back oldest first with their hashes, a frame across two seals whole, within the count and byte bounds', async () => {
    const ledger = await Ledger.open(tempDir('chainlanes-frame-ids-'));
    const first = { ...makeBlock('ids', 0, 4), frameIds: [id(0, 0, 1), id(1, 1, 5)] };
    const second = { ...makeBlock('ids', 4, 3), frameIds: [id(6, 2, 1)] };
    await ledger.seal({ blocks: [first], sealedAt: 1 });
    await ledger.seal({ blocks: [second, makeBlock('plain', 0, 2)], sealedAt: 2 });
    const hashes = Buffer.concat([first.entryHashes, second.entryHashes]);
    const slice = (from: number, to: number) => hashes.subarray(from * 32, to * 32);

    expect(ledger.recentFrameIds('ids', 10, 1 << 20)).toEqual([
      { ...id(0, 0, 1), hashes: slice(0, 1) },
      { ...id(1, 1, 5), hashes: slice(1, 6) },
      { ...id(6, 2, 1), hashes: slice(6, 7) },
    ]);
    expect(ledger.recentFrameIds('ids', 2, 1 << 20).map((f) => f.n)).toEqual([1, 2]);
    // Newest first until the hashes pass the bound: 1 × 32, then 5 × 32 more is over 100.
    expect(ledger.recentFrameIds('ids', 10, 100).map((f) => f.n)).toEqual([2]);
    expect(ledger.recentFrameIds('plain', 10, 1 << 20)).toEqual([]);
    await ledger.close();
  });

  it('a row that does not decode is named as the store’s corruption', async () => {
    const dir = tempDir('chainlanes-frame-ids-');
    const ledger = await Ledger.open(dir);
    await ledger.seal({ blocks: [{ ...makeBlock('ids', 0, 2), frameIds: [id(0, 0, 2)] }], sealedAt: 1 });
    const table = ledger.environment.openDB<Buffer, Buffer>('ledger.frameIds', { keyEncoding: 'binary', encoding: 'binary' });
    const [row] = [...table.getRange({})];
    await table.put(row!.key, row!.value.subarray(0, 5));
    expect(() => ledger.recentFrameIds('ids', 10, 1 << 20)).toThrow(LedgerCorruptionError);
    expect(() => ledger.recentFrameIds('ids', 10, 1 << 20)).toThrow(/chain "ids": frame ids: a frame id row is 40 \+ 20 bytes/);
    await ledger.close();
  });

  it('that do not fit their block are refused, and nothing of the seal is written', async () => {
    const ledger = await Ledger.open(tempDir('chainlanes-frame-ids-'));
    const refused = [
      [[id(4, 0, 1)], /frame id at seq 4 is not in the block/],
      [[id(2, 0, 1), id(1, 1, 1)], /frame id at seq 1 is not in the block, or not after the one before it/],
      [[id(0, 0, 0)], /frame id at seq 0: count 0/],
      [[{ ...id(0, 0, 1), producer: 'xyz' }], /its producer is not 8 bytes of hex/],
      [Array.from({ length: 5 }, (_, i) => id(i, i, 1)), /5 frame ids for a block of 4 entries/],
    ] as const;
    for (const [frameIds, cause] of refused) {
      const seal = ledger.seal({ blocks: [{ ...makeBlock('ids', 0, 4), frameIds }], sealedAt: 1 });
      await expect(seal).rejects.toThrow(SealInputError);
      await expect(seal).rejects.toThrow(cause);
      expect(ledger.heads()).toMatchObject({ chains: [], directory: { nextHeight: 0 } });
    }
    await ledger.close();
  });
});

// verify's entry checks on other threads (block-check-pool.ts) report as the
// walk would on its own: the first break in walk order, with the counts
// before it, whichever thread answers first.
import { describe, expect, it } from 'vitest';
import { Ledger, verifyStore } from '../../src/ledger/index.js';
import { chainIdOf, compareChainIds } from '../../src/ledger/headers.js';
import { decodeBlockRecord } from '../../src/ledger/records.js';
import { corruptBlock, flipByte, makeBlock, tempDir } from '../helpers/index.js';

const T0 = 1_700_000_000_000;
/** In walk order: a directory lists its blocks by chainId. */
const CHAINS = ['bank-1', 'bank-2', 'bank-3', 'shop-4'].sort((a, b) => compareChainIds(chainIdOf(a), chainIdOf(b)));
const [FIRST, SECOND, THIRD] = CHAINS as [string, string, string, string];
/** Interval 1 gives FIRST a block large enough that a thread checking it answers after one checking a small later block. */
const BIG_BLOCK = 60_000;

/** Three intervals, every chain a block in each (5, 6 and 7 entries, but FIRST's big one): 12 blocks. */
async function sealedStore(): Promise<string> {
  const dir = tempDir('chainlanes-verify-threads-');
  const ledger = await Ledger.open(dir);
  const next = new Map(CHAINS.map((chain) => [chain, 0]));
  for (let interval = 0; interval < 3; interval++) {
    const blocks = CHAINS.map((chain) => {
      const count = chain === FIRST && interval === 1 ? BIG_BLOCK : 5 + interval;
      const block = makeBlock(chain, next.get(chain)!, count);
      next.set(chain, next.get(chain)! + count);
      return block;
    });
    await ledger.seal({ blocks, sealedAt: T0 + interval * 1000 });
  }
  await ledger.close();
  return dir;
}

function flipContent(seqIndex: number): (record: Buffer) => void {
  return (record) => {
    const decoded = decodeBlockRecord(record);
    const [start, end] = decoded.span(seqIndex);
    expect(end).toBeGreaterThan(start);
    flipByte(record, record.length - decoded.contents.length + start, 0x20);
  };
}

async function reportsWith(dir: string): Promise<unknown[]> {
  return [await verifyStore(dir, { checkThreads: 0 }), await verifyStore(dir, { checkThreads: 1 }), await verifyStore(dir, { checkThreads: 3 })];
}

describe('verify with its entry checks on other threads', () => {
  it('passes a sound store with the same report on 0, 1 and 3 threads', async () => {
    const dir = await sealedStore();
    const [alone, ...threaded] = await reportsWith(dir);
    expect(alone).toMatchObject({ ok: true, chains: 4, blocks: 12, directories: 3, entries: 4 * 5 + (BIG_BLOCK + 3 * 6) + 4 * 7 });
    for (const report of threaded) expect(report).toEqual(alone);
  });

  it('names the first broken block in walk order, with the counts before it, though a later one is found first', async () => {
    const dir = await sealedStore();
    // Walk order: directory 0's 4 blocks, then directory 1's: FIRST's big block 1, SECOND's, THIRD's…
    await corruptBlock(dir, FIRST, 1, flipContent(BIG_BLOCK - 2));
    await corruptBlock(dir, THIRD, 1, flipContent(0));
    const [alone, ...threaded] = await reportsWith(dir);
    expect(alone).toMatchObject({
      ok: false,
      firstBreak: `chain "${FIRST}" block 1 seq ${5 + BIG_BLOCK - 2}: entry hash does not match its content`,
      blocks: 4,
      directories: 1,
      entries: 20,
    });
    for (const report of threaded) expect(report).toEqual(alone);
  });

  it('names a content break before a later link break the walk itself finds', async () => {
    const dir = await sealedStore();
    await corruptBlock(dir, SECOND, 1, flipContent(1));
    // THIRD's block 1 header changed: its hash is no longer the one directory 1 lists.
    await corruptBlock(dir, THIRD, 1, (record) => flipByte(record, 1 + 40));
    const [alone, ...threaded] = await reportsWith(dir);
    expect(alone).toMatchObject({ ok: false, firstBreak: `chain "${SECOND}" block 1 seq 6: entry hash does not match its content`, blocks: 5 });
    for (const report of threaded) expect(report).toEqual(alone);
  });

  it('names a link break before a later content break', async () => {
    const dir = await sealedStore();
    await corruptBlock(dir, SECOND, 1, (record) => flipByte(record, 1 + 40));
    await corruptBlock(dir, THIRD, 1, flipContent(1));
    const [alone, ...threaded] = await reportsWith(dir);
    expect(alone).toMatchObject({ ok: false, firstBreak: `chain "${SECOND}" block 1: block hash differs from the one directory 1 lists`, blocks: 5 });
    for (const report of threaded) expect(report).toEqual(alone);
  });
});

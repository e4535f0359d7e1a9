// A chain's head at the front door (src/frontdoor/chains.ts) moved back by a
// returning owner's truncation (docs/replicas.md part 6, `rewindTo`): refused
// while a block is open, else the blocks held for the standby are forgotten,
// their waiters told `false`, and the chain cuts on from the new seq.
import { describe, expect, it } from 'vitest';
import { ChainState, type BlockWriter } from '../../src/frontdoor/chains.js';
import type { CutBlock } from '../../src/sealer/index.js';

const MAX_BLOCK_ENTRIES = 5;
/** Long enough never to fire in a test: a wait that ends does so because the chain answered it. */
const NEVER_MS = 600_000;

class Writer implements BlockWriter {
  readonly open = true;
  readonly notices: Buffer[] = [];
  committed(notice: Buffer): void {
    this.notices.push(notice);
  }
}

const headOf = (chain: ChainState) => ({
  nextSeq: chain.nextSeq,
  blockFirstSeq: chain.blockFirstSeq,
  committedSeq: chain.committedSeq,
  nextHeight: chain.nextHeight,
  awaiting: [...chain.awaitingCommit.keys()],
});

/** Settled value of a promise, or 'pending' when it has not settled after the microtasks queued now. */
async function settled<T>(promise: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([promise, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);
}

/** A chain at seq 0 with blocks [0,5) committed at height 0, [5,10) and [10,15) cut and awaiting commit. */
function chainWithHeldBlocks(writer: BlockWriter): { chain: ChainState; cuts: CutBlock[] } {
  const chain = new ChainState('bank', 7, 0, 0);
  const cuts: CutBlock[] = [];
  expect(chain.reserve(15, writer, MAX_BLOCK_ENTRIES, cuts)).toBe(0);
  expect(cuts.map((c) => [c.firstSeq, c.endSeq])).toEqual([
    [0, 5],
    [5, 10],
    [10, 15],
  ]);
  chain.committed(0, 5, 0);
  expect(headOf(chain)).toEqual({ nextSeq: 15, blockFirstSeq: 15, committedSeq: 5, nextHeight: 1, awaiting: [5, 10] });
  return { chain, cuts };
}

describe('ChainState.rewindTo', () => {
  it('refuses while a block is open and changes nothing: its waiters still wait and are answered by the commit', async () => {
    const writer = new Writer();
    const { chain } = chainWithHeldBlocks(writer);
    chain.reserve(2, writer, MAX_BLOCK_ENTRIES, []);
    expect(chain.hasOpenBlock).toBe(true);
    const before = headOf(chain);
    const wait = chain.waitCommitted(10, NEVER_MS);

    expect(chain.rewindTo(5, 1)).toBe(false);
    expect(headOf(chain)).toEqual(before);
    expect(await settled(wait)).toBe('pending');
    // The held blocks are still the chain's: their commit answers the waiter, and names their writer.
    expect([...chain.committed(5, 5, 1)]).toEqual([writer]);
    expect(await wait).toBe(true);
  });

  it('forgets the blocks awaiting commit, ends their waits with false, and moves the head back', async () => {
    const writer = new Writer();
    const { chain } = chainWithHeldBlocks(writer);
    const waits = [chain.waitCommitted(10, NEVER_MS), chain.waitCommitted(15, NEVER_MS)];
    const already = chain.waitCommitted(5, NEVER_MS);
    expect(await settled(waits[0]!)).toBe('pending');

    expect(chain.rewindTo(5, 1)).toBe(true);
    expect(await Promise.all(waits)).toEqual([false, false]);
    expect(await already).toBe(true);
    expect(headOf(chain)).toEqual({ nextSeq: 5, blockFirstSeq: 5, committedSeq: 5, nextHeight: 1, awaiting: [] });
    expect(chain.hasOpenBlock).toBe(false);
    // The gone blocks' writers are never told: a late word of them finds nobody.
    expect(chain.committed(5, 5, 1).size).toBe(0);
    expect(writer.notices).toEqual([]);
  });

  it('never leaves committedSeq above nextSeq, nor lowers it below what was durable when rewinding forward of it', () => {
    const below = new ChainState('a', 0, 0, 0);
    below.reserve(10, null, MAX_BLOCK_ENTRIES, []);
    below.committed(0, 5, 0);
    below.committed(5, 5, 1);
    expect(below.committedSeq).toBe(10);
    // Durable here, gone from the store by the truncation (the standby never had them): the head and the durable mark both go back.
    expect(below.rewindTo(5, 1)).toBe(true);
    expect(below.committedSeq).toBe(5);
    expect(below.nextSeq).toBe(5);

    const { chain } = chainWithHeldBlocks(new Writer());
    expect(chain.rewindTo(10, 2)).toBe(true);
    // Seqs 5…9 were never durable here: the mark stays at 5, not moved up to the new head.
    expect(chain.committedSeq).toBe(5);
    expect(chain.nextSeq).toBe(10);
  });

  it('cuts from the new seq afterwards, at the new height', async () => {
    const writer = new Writer();
    const { chain } = chainWithHeldBlocks(writer);
    expect(chain.rewindTo(5, 1)).toBe(true);
    const cuts: CutBlock[] = [];
    expect(chain.reserve(7, writer, MAX_BLOCK_ENTRIES, cuts)).toBe(5);
    expect(cuts).toEqual([{ slot: 7, chainName: 'bank', firstSeq: 5, endSeq: 10 }]);
    expect(headOf(chain)).toEqual({ nextSeq: 12, blockFirstSeq: 10, committedSeq: 5, nextHeight: 1, awaiting: [5] });
    // The new block [5, 10) is a new one: its commit names its writer and answers a wait for it.
    const wait = chain.waitCommitted(10, NEVER_MS);
    expect([...chain.committed(5, 5, 1)]).toEqual([writer]);
    expect(await wait).toBe(true);
    expect(chain.nextHeight).toBe(2);
  });
});

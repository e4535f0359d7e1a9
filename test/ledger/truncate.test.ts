// The returning owner's truncation (Ledger.truncateUnreplicated, docs/replicas.md
// part 6) on a real store on disk with signed heads, frame ids and a chain
// adopted from another gateway: the blocks of directories above n go, the
// rest reads back with proofs that verify, the gone ones are answered naming
// the truncation, `verifyStore` passes and reports the superseded
// directories, a restart keeps it all, a repeat removes nothing, and sealing
// goes on after it.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Ledger, probeStore, SupersededError, TruncationError, verifyStore, type SealBlockInput, type TruncationResult } from '../../src/ledger/index.js';
import { verifyEntry } from '../../src/client/index.js';
import { headSigner } from '../../src/heads/index.js';
import { openTables } from '../../src/ledger/tables.js';
import { heightKey } from '../../src/ledger/records.js';
import { makeBlock, registerCleanup, tempDir } from '../helpers/index.js';

const PRODUCER = 'c11e470000000002';
const TAKEOVER = { by: 'gw-standby', token: 812, at: 1_700_000_100_000 };
const SOURCE = { id: 'gw-source', key: 'cd'.repeat(32) };
const der = generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' });
const ids = (seq: number, n: number, count: number) => ({ seq, producer: PRODUCER, n, count });

async function open(dir: string): Promise<Ledger> {
  const ledger = await Ledger.open(dir, { signHead: headSigner(der) });
  registerCleanup(`ledger ${dir}`, () => ledger.close());
  return ledger;
}

/**
 * Directories 0–5 of this gateway over chains bank, other, third, and moved —
 * whose blocks 0–1 were adopted from another gateway before this one sealed
 * its blocks 2 and 3 (in directories 1 and 4).
 */
async function sealedStore(): Promise<{ dir: string; ledger: Ledger }> {
  const source = await open(tempDir('chainlanes-truncate-source-'));
  await source.seal({ blocks: [makeBlock('moved', 0, 3)], sealedAt: 1_699_999_000_000 });
  await source.seal({ blocks: [makeBlock('moved', 3, 2)], sealedAt: 1_699_999_001_000 });
  const dir = tempDir('chainlanes-truncate-');
  const ledger = await open(dir);
  await ledger.adopt('moved', source.exportBlocks('moved', 0, 1 << 30, SOURCE).blocks);
  const seals: SealBlockInput[][] = [
    [{ ...makeBlock('bank', 0, 4), frameIds: [ids(0, 0, 2), ids(2, 1, 2)] }, makeBlock('other', 0, 2)],
    [makeBlock('bank', 4, 3), makeBlock('moved', 5, 2)],
    [{ ...makeBlock('other', 2, 3), frameIds: [ids(2, 2, 3)] }],
    [{ ...makeBlock('bank', 7, 2), frameIds: [ids(7, 3, 2)] }, makeBlock('other', 5, 1)],
    [makeBlock('bank', 9, 3), makeBlock('moved', 7, 1)],
    [makeBlock('other', 6, 2), makeBlock('third', 0, 3)],
  ];
  let at = 1_700_000_000_000;
  for (const blocks of seals) await ledger.seal({ blocks, sealedAt: (at += 1000) });
  return { dir, ledger };
}

/** One chain's row of a TruncationResult: heights, seqs and directories as [from, to] (seqs [from, end)); its head goes back to `nextHeight`. */
function removed(chain: string, blocks: [number, number], seqs: [number, number], directories: [number, number], nextHeight: number): unknown {
  return {
    chain,
    blocks: { from: blocks[0], to: blocks[1] },
    entries: seqs[1] - seqs[0],
    seqs: { from: seqs[0], end: seqs[1] },
    directories: { from: directories[0], to: directories[1] },
    head: nextHeight === 0 ? { nextHeight, nextSeq: 0, lastBlockHash: '00'.repeat(32) } : expect.objectContaining({ nextHeight, nextSeq: seqs[0] }),
  };
}

/** What the truncation after directory 2 removes. */
const AFTER_2: TruncationResult = {
  after: 2,
  ...TAKEOVER,
  directories: 3,
  blocks: 6,
  entries: 12,
  chains: [
    removed('bank', [2, 3], [7, 12], [3, 4], 2),
    removed('other', [2, 3], [5, 8], [3, 5], 2),
    removed('moved', [3, 3], [7, 8], [4, 4], 3),
    removed('third', [0, 0], [0, 3], [5, 5], 0),
  ],
} as unknown as TruncationResult;

/** Seqs that remain per chain after the truncation after directory 2. */
const KEPT = { bank: 7, other: 5, moved: 7, third: 0 } as const;
const SEALED = { bank: 12, other: 8, moved: 8, third: 3 } as const;

function sortedChains(result: TruncationResult): TruncationResult {
  return { ...result, chains: [...result.chains].sort((a, b) => Object.keys(KEPT).indexOf(a.chain) - Object.keys(KEPT).indexOf(b.chain)) };
}

/** Every remaining entry reads back with a proof the client's check accepts, its head in the log of `size`; every gone one names the truncation. */
function expectReads(ledger: Ledger, size: number): void {
  for (const [chain, kept] of Object.entries(KEPT)) {
    for (let seq = 0; seq < kept; seq++) {
      const proof = ledger.entryProof(chain, seq, chain === 'moved' && seq < 5 ? undefined : size)!;
      expect(verifyEntry(proof, { chain, seq }), `${chain} ${seq}`).toEqual({ ok: true });
    }
    for (let seq = kept; seq < SEALED[chain as keyof typeof SEALED]; seq++) {
      expect(() => ledger.entryProof(chain, seq), `${chain} ${seq}`).toThrow(SupersededError);
      expect(() => ledger.entryProof(chain, seq)).toThrow(
        new RegExp(`^entry ${seq} of chain "${chain}" was superseded by failover at token 812 \\(taken over by "gw-standby"\\): the chain.s block`),
      );
    }
    expect(ledger.entryProof(chain, SEALED[chain as keyof typeof SEALED])).toBeNull();
  }
  expect(() => ledger.block('bank', 3)).toThrow(
    /^block 3 of chain "bank" was superseded by failover at token 812 \(taken over by "gw-standby"\): the chain.s blocks 2–3, sealed here in directories 3–4, were never acknowledged by the standby, so never committed; removed at 2023-11-14T22:15:00.000Z$/,
  );
  expect(ledger.block('bank', 4)).toBeNull();
  expect(ledger.block('bank', 1)).toMatchObject({ height: 1 });
}

describe('Ledger.truncateUnreplicated', () => {
  it('removes the blocks of directories above n, keeps the rest provable, and verify names the superseded directories', async () => {
    const { dir, ledger } = await sealedStore();
    const before = ledger.heads();
    const result = await ledger.truncateUnreplicated({ after: 2, ...TAKEOVER });
    expect(sortedChains(result)).toEqual(AFTER_2);

    // The heads go back, the directory chain does not; the directories still list their blocks.
    const heads = new Map(ledger.heads().chains.map((h) => [h.chainName, h]));
    for (const [chain, kept] of Object.entries(KEPT)) expect(heads.get(chain)?.nextSeq, chain).toBe(kept);
    expect(ledger.heads().directory).toEqual(before.directory);
    expect(ledger.directoryBlock(4)?.count).toBe(2);
    expect(ledger.directoryEntryCount(4)).toBe(0);
    expect(ledger.directoryEntryCount(2)).toBe(3);
    // A superseded directory ships with its mark alone (no blocks, no frame ids): the standby's chain of directories goes on.
    expect(ledger.shippedSeal(3)).toMatchObject({
      blocks: [],
      frameIds: Buffer.alloc(0),
      superseded: { by: TAKEOVER.by, token: TAKEOVER.token, at: TAKEOVER.at },
    });
    expect(ledger.shippedSeal(2)).not.toBeNull();
    // The frame ids of the gone blocks go with them.
    expect(ledger.recentFrameIds('bank', 10, 1 << 20).map((id) => id.seq)).toEqual([0, 2]);
    expect(ledger.recentFrameIds('other', 10, 1 << 20).map((id) => id.seq)).toEqual([2]);
    expectReads(ledger, 6);
    await ledger.close();

    const report = await verifyStore(dir);
    expect(report).toMatchObject({ ok: true, chains: 4, blocks: 7, adopted: 2, entries: 7 + 5 + 7, directories: 6, log: { logged: 6, heads: 6 } });
    expect(report.superseded).toEqual([{ ...TAKEOVER, directories: { from: 3, to: 5, count: 3 }, blocks: 6 }]);

    // A restart keeps it all; the truncation again, or at or above the last directory, removes nothing.
    const again = await open(dir);
    expect(new Map(again.heads().chains.map((h) => [h.chainName, h.nextSeq]))).toEqual(new Map(Object.entries(KEPT)));
    expectReads(again, 6);
    for (const after of [2, 5, 9]) {
      expect(await again.truncateUnreplicated({ after, ...TAKEOVER, token: 900 })).toEqual({
        after,
        ...TAKEOVER,
        token: 900,
        directories: 0,
        blocks: 0,
        entries: 0,
        chains: [],
      });
    }
    expectReads(again, 6);
    await again.close();
    expect((await verifyStore(dir)).superseded).toEqual(report.superseded);
  });

  it('lets sealing go on from the last directory, at the heights the truncation freed', async () => {
    const { dir, ledger } = await sealedStore();
    await ledger.truncateUnreplicated({ after: 2, ...TAKEOVER });
    const sealed = await ledger.seal({ blocks: [makeBlock('bank', 7, 2), makeBlock('local', 0, 3)], sealedAt: 1_700_000_200_000 });
    expect(sealed.directory?.height).toBe(6);
    expect(sealed.blocks.map((b) => [b.chainName, b.height])).toEqual([
      ['bank', 2],
      ['local', 0],
    ]);
    for (const [chain, seq] of [
      ['bank', 7],
      ['bank', 8],
      ['local', 2],
      ['bank', 3],
    ] as const) {
      expect(verifyEntry(ledger.entryProof(chain, seq, 7)!, { chain, seq }), `${chain} ${seq}`).toEqual({ ok: true });
    }
    expect(() => ledger.entryProof('bank', 9)).toThrow(SupersededError);
    // The same takeover again (its record read again after a restart): the seal after it is not its to remove.
    expect(await ledger.truncateUnreplicated({ after: 2, ...TAKEOVER })).toMatchObject({ directories: 0, blocks: 0, chains: [] });
    expect(verifyEntry(ledger.entryProof('bank', 7)!, { chain: 'bank', seq: 7 })).toEqual({ ok: true });
    await ledger.close();
    const report = await verifyStore(dir);
    expect(report).toMatchObject({ ok: true, blocks: 9, directories: 7, log: { logged: 7, heads: 7 } });
    expect(report.superseded).toEqual([{ ...TAKEOVER, directories: { from: 3, to: 5, count: 3 }, blocks: 6 }]);
  });

  it('truncates everything with after −1, keeping the blocks adopted from another gateway', async () => {
    const { dir, ledger } = await sealedStore();
    const result = await ledger.truncateUnreplicated({ after: -1, ...TAKEOVER });
    expect(result).toMatchObject({ directories: 6, blocks: 11, entries: 26 });
    expect(
      ledger
        .heads()
        .chains.map((h) => [h.chainName, h.nextSeq])
        .sort(),
    ).toEqual([
      ['bank', 0],
      ['moved', 5],
      ['other', 0],
      ['third', 0],
    ]);
    for (let seq = 0; seq < 5; seq++) expect(verifyEntry(ledger.entryProof('moved', seq)!, { chain: 'moved', seq })).toEqual({ ok: true });
    expect(ledger.entryProof('moved', 4)?.directory).toMatchObject({ gateway: SOURCE });
    await ledger.close();
    expect(await verifyStore(dir)).toMatchObject({ ok: true, blocks: 2, adopted: 2, directories: 6 });
  });

  it("passes the gateway's start-up check: a chain left with no block, and one whose last block is adopted", async () => {
    const { dir, ledger } = await sealedStore();
    await ledger.truncateUnreplicated({ after: -1, ...TAKEOVER });
    await ledger.close();
    // In its own process, as the gateway runs it before opening the store (store-check.ts).
    await expect(probeStore(dir)).resolves.toBeUndefined();
    const again = await open(dir);
    expect(again.heads().chains.find((h) => h.chainName === 'third')).toMatchObject({ nextHeight: 0, nextSeq: 0 });
  });

  it('refuses, removing nothing, a chain whose blocks to remove have adopted blocks on top', async () => {
    // Block 0 of "x" is the same on both stores (same input, same time); block 1 is the source's, adopted here after this gateway sealed block 0.
    const source = await open(tempDir('chainlanes-truncate-source-'));
    await source.seal({ blocks: [makeBlock('x', 0, 2)], sealedAt: 1_700_000_000_000 });
    await source.seal({ blocks: [makeBlock('x', 2, 2)], sealedAt: 1_700_000_001_000 });
    const dir = tempDir('chainlanes-truncate-');
    const ledger = await open(dir);
    await ledger.seal({ blocks: [makeBlock('x', 0, 2)], sealedAt: 1_700_000_000_000 });
    await ledger.adopt('x', source.exportBlocks('x', 1, 1 << 30, SOURCE).blocks);
    await expect(ledger.truncateUnreplicated({ after: -1, ...TAKEOVER })).rejects.toThrow(TruncationError);
    await expect(ledger.truncateUnreplicated({ after: -1, ...TAKEOVER })).rejects.toThrow(
      /^truncate: chain "x": block 1 \(adopted from another gateway\) is stored above block 0, which was sealed here in directory 0 and must go; nothing was removed$/,
    );
    expect(ledger.heads().chains).toMatchObject([{ chainName: 'x', nextHeight: 2, nextSeq: 4 }]);
    expect(verifyEntry(ledger.entryProof('x', 0)!, { chain: 'x', seq: 0 })).toEqual({ ok: true });
    await ledger.close();
    expect(await verifyStore(dir)).toMatchObject({ ok: true, blocks: 2 });
  });

  it('runs in order with the seals queued around it', async () => {
    const { dir, ledger } = await sealedStore();
    const before = ledger.seal({ blocks: [makeBlock('bank', 12, 1)], sealedAt: 1_700_000_200_000 });
    const truncation = ledger.truncateUnreplicated({ after: 2, ...TAKEOVER });
    const after = ledger.seal({ blocks: [makeBlock('bank', 7, 1)], sealedAt: 1_700_000_201_000 });
    expect((await before).directory?.height).toBe(6);
    const result = await truncation;
    expect(result.chains.find((c) => c.chain === 'bank')).toMatchObject({
      blocks: { from: 2, to: 4 },
      seqs: { from: 7, end: 13 },
      directories: { from: 3, to: 6 },
    });
    expect(await after).toMatchObject({ directory: { height: 7 }, blocks: [{ chainName: 'bank', height: 2, firstSeq: 7 }] });
    await ledger.close();
    expect(await verifyStore(dir)).toMatchObject({ ok: true, directories: 8, superseded: [{ directories: { from: 3, to: 6, count: 4 }, blocks: 7 }] });
  });

  it('writes nothing when a write beside it fails, and can be run again', async () => {
    const { ledger } = await sealedStore();
    const failing = (): void => {
      throw new Error('a refund that does not fit');
    };
    await expect(ledger.truncateUnreplicated({ after: 2, ...TAKEOVER }, failing)).rejects.toThrow('a refund that does not fit');
    expect(ledger.heads().chains.find((h) => h.chainName === 'bank')?.nextSeq).toBe(12);
    expect(verifyEntry(ledger.entryProof('bank', 11, 6)!, { chain: 'bank', seq: 11 })).toEqual({ ok: true });
    expect(ledger.recentFrameIds('bank', 10, 1 << 20).map((id) => id.seq)).toEqual([0, 2, 7]);
    let seen = 0;
    const result = await ledger.truncateUnreplicated({ after: 2, ...TAKEOVER }, (removed) => (seen = removed.length));
    expect([result.blocks, seen]).toEqual([6, 6]);
    expectReads(ledger, 6);
  });

  it('refuses a bad request naming the field, and writes nothing', async () => {
    const { ledger } = await sealedStore();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ after: -2 }, /"after" must be a directory height/],
      [{ after: 1.5 }, /"after" must be a directory height/],
      [{ by: '' }, /"by" must name the gateway that took over/],
      [{ token: -1 }, /"token" must be the takeover's fencing token/],
      [{ token: 2 ** 53 }, /"token" must be the takeover's fencing token/],
    ];
    for (const [change, message] of cases) {
      await expect(ledger.truncateUnreplicated({ after: 2, ...TAKEOVER, ...change } as never)).rejects.toThrow(message);
    }
    expect(ledger.entryProof('bank', 11)).not.toBeNull();
  });
});

describe('verifyStore and truncation records', () => {
  it('breaks on a truncation record of a block the store still holds, and on one of a directory that is not there', async () => {
    const { dir, ledger } = await sealedStore();
    await ledger.close();
    for (const [height, blocks, problem] of [
      [1, [['bank', 1]], /^chain "bank" block 1: directory 1's truncation record says it was removed, but the store holds it$/],
      [9, [], /^store holds 1 truncation records of directories, expected 0$/],
      [4, [['bank', 17]], /^directory 4's truncation record names blocks the directory does not list$/],
    ] as const) {
      const tables = openTables(dir);
      await tables.truncated.put(heightKey(height), Buffer.from(JSON.stringify({ ...TAKEOVER, blocks })));
      await tables.root.close();
      const report = await verifyStore(dir);
      expect(report.ok).toBe(false);
      expect(report.firstBreak).toMatch(problem);
      const undo = openTables(dir);
      await undo.truncated.remove(heightKey(height));
      await undo.root.close();
    }
    expect(await verifyStore(dir)).toMatchObject({ ok: true });
  });
});

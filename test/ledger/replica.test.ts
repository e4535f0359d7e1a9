// The standby's check of shipped seals (src/ledger/replica.ts): an owner's
// real store seals; its seals, shipped byte for byte, pass in order and give
// each block the very directory proof the owner serves; every kind of
// tampering, a skipped seal and a reordering are refused, naming the fault.
import { describe, expect, it } from 'vitest';
import { checkShippedSeal, Ledger, ReplicaError, type DirectoryPosition, type ShippedSeal } from '../../src/ledger/index.js';
import type { ChainPosition } from '../../src/ledger/adopted.js';
import { zeroHash } from '../../src/ledger/hash.js';
import { blockRoot } from '../../src/ledger/merkle.js';
import { makeBlock, tempDir } from '../helpers/index.js';

const OWNER = { id: 'gw-owner', key: 'ab'.repeat(32) };
const CHAINS = ['bank', 'other', 'third'];
const START: DirectoryPosition = { nextHeight: 0, lastHash: zeroHash() };
const fresh = (): ChainPosition => ({ nextHeight: 0, nextSeq: 0, lastBlockHash: zeroHash() });

/** An owner's store with four seals, one of them holding two blocks of one chain. */
async function owner(): Promise<Ledger> {
  const ledger = await Ledger.open(tempDir('chainlanes-replica-'));
  let at = 1_700_000_000_000;
  const seals: [string, number, number][][] = [
    [
      ['bank', 0, 5],
      ['other', 0, 2],
    ],
    [
      ['bank', 5, 3],
      ['bank', 8, 4],
      ['third', 0, 1],
    ],
    [['other', 2, 6]],
    [
      ['third', 1, 2],
      ['bank', 12, 1],
    ],
  ];
  for (const seal of seals) await ledger.seal({ blocks: seal.map(([chain, first, count]) => makeBlock(chain, first, count)), sealedAt: (at += 1000) });
  return ledger;
}

/** The owner's seals as it would ship them: from its export, grouped by directory, in directory order. */
function shipped(ledger: Ledger): { seal: ShippedSeal; proofs: unknown[] }[] {
  const byHeight = new Map<number, { directory: Buffer; blocks: { chain: string; record: Uint8Array; index: number; proof: unknown }[] }>();
  for (const chain of CHAINS) {
    for (const block of ledger.exportBlocks(chain, 0, 1 << 30, OWNER).blocks) {
      const d = block.proof.directory;
      const seal = byHeight.get(d.height) ?? { directory: Buffer.from(d.header, 'hex'), blocks: [] };
      seal.blocks.push({ chain, record: block.record, index: d.index, proof: block.proof });
      byHeight.set(d.height, seal);
    }
  }
  return [...byHeight.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, { directory, blocks }]) => {
      blocks.sort((x, y) => x.index - y.index);
      return { seal: { directory, blocks: blocks.map(({ chain, record }) => ({ chain, record })) }, proofs: blocks.map((b) => b.proof) };
    });
}

/** Checks the seals in order as a standby would, keeping each chain's position. */
function replay(seals: ShippedSeal[]): DirectoryPosition {
  const chains = new Map<string, ChainPosition>();
  let at = START;
  for (const seal of seals) {
    const checked = checkShippedSeal(OWNER, at, seal, (chain) => chains.get(chain) ?? fresh(), blockRoot);
    for (const block of checked.blocks) {
      const { height, firstSeq, count } = block.record.header;
      chains.set(block.chain, { nextHeight: height + 1, nextSeq: firstSeq + count, lastBlockHash: block.blockHash });
    }
    at = checked.next;
  }
  return at;
}

function refusal(seals: ShippedSeal[]): string {
  try {
    replay(seals);
  } catch (error) {
    expect(error).toBeInstanceOf(ReplicaError);
    return (error as Error).message;
  }
  throw new Error('the seals were not refused');
}

function flip(bytes: Uint8Array, at: number): void {
  bytes[at] = bytes[at]! ^ 1;
}

const copy = (seal: ShippedSeal): ShippedSeal => ({
  directory: Buffer.from(seal.directory),
  blocks: seal.blocks.map((b) => ({ chain: b.chain, record: Buffer.from(b.record) })),
});

describe('shipped seals', () => {
  it('pass in order, each block getting the directory proof its owner serves', async () => {
    const ledger = await owner();
    const seals = shipped(ledger);
    expect(seals.map((s) => s.seal.blocks.length)).toEqual([2, 3, 1, 2]);
    const chains = new Map<string, ChainPosition>();
    let at = START;
    for (const { seal, proofs } of seals) {
      const checked = checkShippedSeal(OWNER, at, seal, (chain) => chains.get(chain) ?? fresh(), blockRoot);
      expect(checked.blocks.map((b) => b.proof)).toEqual(proofs);
      // Stored as adopted: the record but for its directory-height field.
      checked.blocks.forEach((b, i) => expect(b.stored.subarray(0, 10)).toEqual(Buffer.from(seal.blocks[i]!.record).subarray(0, 10)));
      for (const b of checked.blocks) {
        const { height, firstSeq, count } = b.record.header;
        chains.set(b.chain, { nextHeight: height + 1, nextSeq: firstSeq + count, lastBlockHash: b.blockHash });
      }
      at = checked.next;
    }
    expect(at.nextHeight).toBe(4);
    expect(chains.get('bank')).toMatchObject({ nextHeight: 4, nextSeq: 13 });
  });

  it('refuses a skipped seal, a broken directory link, a missing or reordered block, tampered entries or root, and a wrong chain name', async () => {
    const seals = shipped(await owner()).map((s) => s.seal);
    expect(refusal([seals[1]!])).toMatch(/directory header says height 1/);

    const relinked = seals.map(copy);
    flip(relinked[1]!.directory, 8); // prevHash
    expect(refusal(relinked)).toMatch(/directory 1: its directory header does not link/);

    const missing = seals.map(copy);
    missing[1]!.blocks.pop();
    expect(refusal(missing)).toMatch(/lists 3 blocks, and 2 came/);

    const reordered = seals.map(copy);
    reordered[0]!.blocks.reverse();
    expect(refusal(reordered)).toMatch(/block 1 is out of the directory's order/);

    const content = seals.map(copy);
    const record = content[2]!.blocks[0]!.record;
    flip(record, record.length - 1); // the last entry's content
    expect(refusal(content)).toMatch(/chain "other" block 1: seq 7: its entry hash is not SHA-256 of its content/);

    const rooted = seals.map(copy);
    flip(rooted[3]!.directory, 40); // root
    expect(refusal(rooted)).toMatch(/directory 3: its blocks do not reproduce the directory header's root/);

    const renamed = seals.map(copy);
    renamed[2]!.blocks[0]!.chain = 'bank';
    expect(refusal(renamed)).toMatch(/its header names another chain/);

    // And the untouched seals still pass after all that copying.
    expect(replay(seals).nextHeight).toBe(4);
  });
});

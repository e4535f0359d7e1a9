// A block record prepared in one native call per block (the sealer's path) against the
// reference path (arrays in, encodeBlockRecord): the same seal must store the same bytes,
// with the addon and with the JS fallback alike.
import { open } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { Ledger, prepareBlockRecord, SealInputError } from '../../src/ledger/index.js';
import type { PreparedBlockInput, SealBlockInput } from '../../src/ledger/index.js';
import { jsAddon, nativeAddon } from '../../src/native/index.js';
import { flipByte, makeBlock, tempDir } from '../helpers/index.js';

const T0 = 1_700_000_000_000;

/** The block's entries placed as the sealer holds them: inside a larger buffer, ends absolute. */
function prepared(block: SealBlockInput, alloc = (n: number): Uint8Array => new Uint8Array(n)): PreparedBlockInput {
  const offset = 13;
  const contents = new Uint8Array(offset + block.contents.length + 5);
  contents.set(block.contents, offset);
  const ends = Uint32Array.from(block.contentEnds, (end) => end + offset);
  const record = prepareBlockRecord([{ count: block.count, hashes: block.entryHashes, ends, contentStart: offset, contents }], alloc);
  return { chainName: block.chainName, firstSeq: block.firstSeq, count: block.count, prepared: record };
}

/** Every stored key and value of a ledger's directory, as hex, in key order. */
async function storedBytes(dir: string): Promise<string[]> {
  const env = open({ path: dir, readOnly: true });
  const out: string[] = [];
  for (const name of ['ledger.blocks', 'ledger.seqIndex', 'ledger.directories', 'ledger.anchors', 'ledger.chains']) {
    const db = env.openDB(name, { keyEncoding: 'binary', encoding: 'binary' });
    for (const { key, value } of db.getRange())
      out.push(`${name} ${Buffer.from(key as Buffer).toString('hex')} ${Buffer.from(value as Buffer).toString('hex')}`);
  }
  await env.close();
  return out;
}

async function sealAll(dir: string, blocksOf: (interval: number) => (SealBlockInput | PreparedBlockInput)[]): Promise<void> {
  const ledger = await Ledger.open(dir);
  for (let i = 0; i < 3; i++) await ledger.seal({ blocks: blocksOf(i), sealedAt: T0 + i });
  await ledger.close();
}

// 300 and 700 entries span several 256-leaf chunks; 1 is the smallest block.
const plan = (i: number): SealBlockInput[] => [makeBlock('bank-1', [0, 300, 1000][i]!, [300, 700, 1][i]!), makeBlock(`shop-${i}`, 0, 1 + i * 40)];

describe('prepared block records', () => {
  it('store exactly the bytes of the reference path', async () => {
    const reference = tempDir('chainlanes-prepared-');
    const fast = tempDir('chainlanes-prepared-');
    await sealAll(reference, plan);
    await sealAll(fast, (i) => plan(i).map((b) => prepared(b)));
    const expected = await storedBytes(reference);
    expect(expected.length).toBeGreaterThan(10);
    expect(await storedBytes(fast)).toEqual(expected);
  });

  it.skipIf(nativeAddon() === null)('native and JS fallback build the same body and root', () => {
    const block = makeBlock('bank-1', 0, 700);
    const ends = Uint32Array.from(block.contentEnds);
    const out = [nativeAddon()!, jsAddon].map((h) => {
      const dst = new Uint8Array(32 * 3 + 700 * 36 + block.contents.length);
      const root = h.blockBody([{ hashes: block.entryHashes, ends, count: 700, contentStart: 0, contents: block.contents }], 256, dst);
      return Buffer.concat([root, dst]).toString('hex');
    });
    expect(out[0]).toBe(out[1]);
  });

  it('are refused when they do not decode, and checked against their contents when asked', async () => {
    const ledger = await Ledger.open(tempDir('chainlanes-prepared-'), { checkEntryHashes: true });
    const short = prepared(makeBlock('bank-1', 0, 4));
    short.prepared.record = short.prepared.record.subarray(0, short.prepared.record.length - 1);
    await expect(ledger.seal({ blocks: [short], sealedAt: T0 })).rejects.toThrow(SealInputError);
    const bad = makeBlock('bank-1', 0, 4);
    bad.entryHashes = Buffer.from(bad.entryHashes);
    flipByte(bad.entryHashes, 2 * 32);
    await expect(ledger.seal({ blocks: [prepared(bad)], sealedAt: T0 })).rejects.toThrow(/seq 2: entry hash is not SHA-256/);
    const result = await ledger.seal({ blocks: [prepared(makeBlock('bank-1', 0, 4))], sealedAt: T0 });
    expect(result.blocks[0]).toMatchObject({ height: 0, count: 4 });
    await ledger.close();
  });
});

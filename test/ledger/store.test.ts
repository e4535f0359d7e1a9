import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyEntry } from '../../src/client/verify.js';
import type { EntryProof } from '../../src/client/verify.js';
import { FileAnchorSink, Ledger, LedgerCorruptionError, SealInputError, verifyStore } from '../../src/ledger/index.js';
import type { SealResult } from '../../src/ledger/index.js';
import { decodeBlockRecord } from '../../src/ledger/records.js';
import { corruptBlock, entryContent, flipByte, flipHex, makeBlock, sha256, tempDir } from '../helpers/index.js';

const T0 = 1_700_000_000_000;

/** Interval 1: bank-1 (5 entries), bank-2 (3). Interval 2: bank-1 (4), shop-9 (1, a new chain). */
async function sealTwoIntervals(ledger: Ledger): Promise<[SealResult, SealResult]> {
  const first = await ledger.seal({ blocks: [makeBlock('bank-1', 0, 5), makeBlock('bank-2', 0, 3)], sealedAt: T0 });
  const second = await ledger.seal({ blocks: [makeBlock('bank-1', 5, 4), makeBlock('shop-9', 0, 1)], sealedAt: T0 + 1000 });
  return [first, second];
}

const ENTRIES: [string, number][] = [
  ...Array.from({ length: 9 }, (_, seq): [string, number] => ['bank-1', seq]),
  ...Array.from({ length: 3 }, (_, seq): [string, number] => ['bank-2', seq]),
  ['shop-9', 0],
];

describe('Ledger.seal', () => {
  it('seals consecutive blocks of one chain in one interval, linked, both in the directory', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    const result = await ledger.seal({ blocks: [makeBlock('bank-1', 0, 4), makeBlock('bank-2', 0, 2), makeBlock('bank-1', 4, 3)], sealedAt: T0 });
    expect(result.blocks.map((b) => [b.chainName, b.height, b.firstSeq])).toEqual([
      ['bank-1', 0, 0],
      ['bank-2', 0, 0],
      ['bank-1', 1, 4],
    ]);
    expect(ledger.block('bank-1', 1)?.prevHash).toBe(ledger.block('bank-1', 0)?.hash);
    const listed = ledger
      .directoryBlock(0)
      ?.entries.filter((e) => e.chain === 'bank-1')
      .map((e) => e.height);
    expect(listed).toEqual([0, 1]);
    for (const seq of [0, 3, 4, 6]) expect(verifyEntry(ledger.entryProof('bank-1', seq) as EntryProof)).toEqual({ ok: true });
    expect(ledger.heads().chains.find((c) => c.chainName === 'bank-1')).toMatchObject({ nextHeight: 2, nextSeq: 7 });
    await ledger.close();
    const reopened = await Ledger.open(dir);
    expect(reopened.heads().chains.find((c) => c.chainName === 'bank-1')).toMatchObject({ nextHeight: 2, nextSeq: 7 });
    await reopened.close();
    expect((await verifyStore(dir)).ok).toBe(true);
  });

  it('links blocks and directories across intervals and chains', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    const [first, second] = await sealTwoIntervals(ledger);

    expect(first.directory).toMatchObject({ height: 0, count: 2, sealedAt: T0 });
    expect(second.directory).toMatchObject({ height: 1, count: 2, sealedAt: T0 + 1000 });
    expect(first.blocks.map((b) => [b.chainName, b.height, b.firstSeq, b.count])).toEqual([
      ['bank-1', 0, 0, 5],
      ['bank-2', 0, 0, 3],
    ]);
    expect(second.blocks.map((b) => [b.chainName, b.height, b.firstSeq, b.count])).toEqual([
      ['bank-1', 1, 5, 4],
      ['shop-9', 0, 0, 1],
    ]);

    const bank0 = ledger.block('bank-1', 0);
    const bank1 = ledger.block('bank-1', 1);
    expect(bank0?.prevHash).toBe('00'.repeat(32));
    expect(bank1?.prevHash).toBe(bank0?.hash);
    expect(bank1?.hash).toBe(second.blocks[0]?.hash.toString('hex'));
    expect(bank1?.entryHashes).toEqual([5, 6, 7, 8].map((seq) => sha256(entryContent('bank-1', seq)).toString('hex')));
    expect(bank1?.directory).toBe(1);

    const dir0 = ledger.directoryBlock(0);
    const dir1 = ledger.directoryBlock(1);
    expect(dir0?.prevHash).toBe('00'.repeat(32));
    expect(dir1?.prevHash).toBe(dir0?.hash);
    expect(dir1?.hash).toBe(second.directory?.hash.toString('hex'));
    const ids = dir1?.entries.map((e) => e.chainId) ?? [];
    expect(ids).toEqual([...ids].sort());
    expect(new Set(dir1?.entries.map((e) => `${e.chain}@${e.height}`))).toEqual(new Set(['bank-1@1', 'shop-9@0']));

    expect(ledger.anchors(0, 10)).toEqual([
      { height: 0, hash: first.directory?.hash.toString('hex'), sealedAt: T0 },
      { height: 1, hash: second.directory?.hash.toString('hex'), sealedAt: T0 + 1000 },
    ]);
    expect(ledger.anchors(1, 10).map((a) => a.height)).toEqual([1]);
    expect(ledger.chain('bank-1')).toMatchObject({ nextHeight: 2, nextSeq: 9, lastBlockHash: bank1?.hash });
    expect(
      ledger
        .chains()
        .map((c) => c.chain)
        .sort(),
    ).toEqual(['bank-1', 'bank-2', 'shop-9']);
    expect(ledger.block('bank-1', 2)).toBeNull();
    expect(ledger.block('nope', 0)).toBeNull();
    expect(ledger.directoryBlock(2)).toBeNull();
    await ledger.close();
  });

  it("tells a chain's next block height from the last key alone, as its head says it", async () => {
    const ledger = await Ledger.open(tempDir('chainlanes-ledger-'));
    await sealTwoIntervals(ledger);
    for (const chain of ['bank-1', 'bank-2', 'shop-9']) expect(ledger.chainNextHeight(chain)).toBe(ledger.chain(chain)!.nextHeight);
    expect([ledger.chainNextHeight('bank-1'), ledger.chainNextHeight('bank-2'), ledger.chainNextHeight('unknown')]).toEqual([2, 1, 0]);
    await ledger.close();
  });

  it('resumes after reopen with the same heads', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    await sealTwoIntervals(ledger);
    const heads = ledger.heads();
    await ledger.close();

    const reopened = await Ledger.open(dir);
    const byName = (h: typeof heads) => [...h.chains].sort((a, b) => a.chainName.localeCompare(b.chainName));
    expect(byName(reopened.heads())).toEqual(byName(heads));
    expect(reopened.heads().directory).toEqual(heads.directory);
    expect(heads.directory.nextHeight).toBe(2);
    expect(byName(heads).map((h) => [h.chainName, h.nextHeight, h.nextSeq])).toEqual([
      ['bank-1', 2, 9],
      ['bank-2', 1, 3],
      ['shop-9', 1, 1],
    ]);

    const third = await reopened.seal({ blocks: [makeBlock('bank-2', 3, 2)], sealedAt: T0 + 2000 });
    expect(third.directory?.height).toBe(2);
    expect(third.blocks[0]).toMatchObject({ height: 1, firstSeq: 3 });
    expect(reopened.block('bank-2', 1)?.prevHash).toBe(heads.chains.find((h) => h.chainName === 'bank-2')?.lastBlockHash.toString('hex'));
    await reopened.close();
    expect(await verifyStore(dir)).toEqual({ ok: true, chains: 3, blocks: 5, entries: 15, directories: 3, log: { logged: 3, heads: 0 } });
  });

  it('refuses a firstSeq that does not continue the chain, leaving the heads unchanged', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    await sealTwoIntervals(ledger);
    const before = ledger.heads();
    await expect(ledger.seal({ blocks: [makeBlock('bank-2', 4, 1)], sealedAt: T0 + 2000 })).rejects.toThrow(SealInputError);
    await expect(ledger.seal({ blocks: [makeBlock('bank-1', 9, 1), makeBlock('new-1', 1, 1)], sealedAt: T0 + 2000 })).rejects.toThrow(
      /firstSeq 1 but the chain's next seq is 0/,
    );
    expect(ledger.heads()).toEqual(before);
    expect(ledger.block('bank-1', 2)).toBeNull();
    expect(ledger.directoryBlock(2)).toBeNull();
    const ok = await ledger.seal({ blocks: [makeBlock('bank-1', 9, 1)], sealedAt: T0 + 2000 });
    expect(ok.directory?.height).toBe(2);
    await ledger.close();
  });

  it('rolls back a failed transaction so the same input can be retried', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    await sealTwoIntervals(ledger);
    const before = ledger.heads();
    const input = { blocks: [makeBlock('bank-1', 9, 2), makeBlock('fresh', 0, 2)], sealedAt: T0 + 2000 };
    await expect(
      ledger.seal(input, () => {
        throw new Error('credits table full');
      }),
    ).rejects.toThrow('credits table full');
    expect(ledger.heads()).toEqual(before);
    expect(ledger.block('bank-1', 2)).toBeNull();
    expect(ledger.chain('fresh')).toBeNull();
    expect(ledger.anchors(2, 10)).toEqual([]);

    const retried = await ledger.seal(input);
    expect(retried.directory?.height).toBe(2);
    expect(retried.blocks.map((b) => b.height)).toEqual([2, 0]);
    await ledger.close();
    expect((await verifyStore(dir)).ok).toBe(true);
  });

  it('commits writes made alongside in the same transaction', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    const burns = ledger.environment.openDB<number, string>('credits.burns', {});
    await ledger.seal({ blocks: [makeBlock('bank-1', 0, 3)], sealedAt: T0 }, () => burns.putSync('bank-1', 3));
    expect(burns.get('bank-1')).toBe(3);
    await ledger.close();
  });

  it('writes nothing for an interval without blocks, and refuses malformed input', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    expect(await ledger.seal({ blocks: [], sealedAt: T0 })).toEqual({ directory: null, blocks: [] });
    expect(ledger.heads().directory.nextHeight).toBe(0);
    expect(ledger.directoryBlock(0)).toBeNull();

    const good = makeBlock('bank-1', 0, 3);
    const bad = [
      { ...good, count: 0, entryHashes: Buffer.alloc(0), contentEnds: new Uint32Array(0), contents: Buffer.alloc(0) },
      { ...good, entryHashes: good.entryHashes.subarray(32) },
      { ...good, contentEnds: new Uint32Array([5, 4, good.contents.length]) },
      { ...good, contents: good.contents.subarray(1) },
    ];
    for (const block of bad) await expect(ledger.seal({ blocks: [block], sealedAt: T0 })).rejects.toThrow(SealInputError);
    // The same block twice: the second does not start where the first ended.
    await expect(ledger.seal({ blocks: [good, good], sealedAt: T0 })).rejects.toThrow(/firstSeq 0 but the chain's next seq is 3/);
    await expect(ledger.seal({ blocks: [good], sealedAt: -1 })).rejects.toThrow(SealInputError);
    expect(ledger.heads()).toEqual({ chains: [], directory: { nextHeight: 0, lastHash: Buffer.alloc(32) } });
    await ledger.close();
  });

  it('checks entry hashes against contents when asked to', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir, { checkEntryHashes: true });
    const block = makeBlock('bank-1', 0, 4);
    block.entryHashes = Buffer.from(block.entryHashes);
    flipByte(block.entryHashes, 2 * 32);
    await expect(ledger.seal({ blocks: [block], sealedAt: T0 })).rejects.toThrow(/seq 2: entry hash is not SHA-256/);
    await ledger.seal({ blocks: [makeBlock('bank-1', 0, 4)], sealedAt: T0 });
    await ledger.close();
  });

  it('queues concurrent seals instead of interleaving them', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    const results = await Promise.all([0, 1, 2].map((i) => ledger.seal({ blocks: [makeBlock('bank-1', i * 2, 2)], sealedAt: T0 + i })));
    expect(results.map((r) => r.directory?.height)).toEqual([0, 1, 2]);
    expect(results.map((r) => r.blocks[0]?.height)).toEqual([0, 1, 2]);
    await ledger.close();
  });
});

describe('entry proofs', () => {
  it('verify with the client for every entry, and are null for unknown entries', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    const [, second] = await sealTwoIntervals(ledger);
    for (const [chain, seq] of ENTRIES) {
      const proof = ledger.entryProof(chain, seq);
      expect(proof, `${chain} ${seq}`).not.toBeNull();
      // Through JSON, as a client would receive it.
      const received = JSON.parse(JSON.stringify(proof)) as EntryProof;
      expect(verifyEntry(received, { chain, seq }), `${chain} ${seq}`).toEqual({ ok: true });
      expect(Buffer.from(received.content, 'base64')).toEqual(entryContent(chain, seq));
    }
    const proof = ledger.entryProof('bank-1', 7);
    expect(proof).toMatchObject({ chain: 'bank-1', seq: 7, height: 1, index: 2, count: 4, directory: { height: 1, count: 2 } });
    expect(Object.keys(proof ?? {})).toEqual([
      'chain',
      'chainId',
      'seq',
      'content',
      'hash',
      'height',
      'index',
      'count',
      'path',
      'root',
      'header',
      'blockHash',
      'directory',
    ]);
    expect(Object.keys(proof?.directory ?? {})).toEqual(['height', 'index', 'count', 'path', 'root', 'header', 'hash']);
    expect(verifyEntry(proof as EntryProof, { directoryHash: second.directory?.hash.toString('hex') })).toEqual({ ok: true });

    expect(ledger.entryProof('bank-1', 9)).toBeNull();
    expect(ledger.entryProof('bank-2', 3)).toBeNull();
    expect(ledger.entryProof('nope', 0)).toBeNull();
    expect(ledger.entryProof('bank-1', -1)).toBeNull();
    expect(ledger.entryProof('bank-1', 1.5)).toBeNull();
    await ledger.close();
  });

  it('fail client verification when tampered, naming why', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    await sealTwoIntervals(ledger);
    const good = JSON.parse(JSON.stringify(ledger.entryProof('bank-1', 6))) as EntryProof;
    await ledger.close();
    const dirOf = (p: EntryProof) => p.directory as NonNullable<EntryProof['directory']>;
    const cases: [string, (p: EntryProof) => void, RegExp][] = [
      [
        'content',
        (p) => {
          p.content = Buffer.from('forged').toString('base64');
        },
        /entry hash is not SHA-256 of the content/,
      ],
      [
        'hash and content',
        (p) => {
          p.content = Buffer.from('forged').toString('base64');
          p.hash = sha256(Buffer.from('forged')).toString('hex');
        },
        /does not reproduce the block root/,
      ],
      [
        'path',
        (p) => {
          p.path[0] = flipHex(p.path[0] ?? '');
        },
        /does not reproduce the block root/,
      ],
      [
        'index',
        (p) => {
          p.index = 3;
        },
        /does not reproduce the block root/,
      ],
      [
        'count',
        (p) => {
          p.count = 9;
        },
        /block root|does not fit/,
      ],
      [
        'seq',
        (p) => {
          p.seq = 7;
        },
        /firstSeq \+ index is not seq/,
      ],
      [
        'chain',
        (p) => {
          p.chain = 'bank-2';
        },
        /chainId is not SHA-256 of the chain name/,
      ],
      [
        'height',
        (p) => {
          p.height = 0;
        },
        /header height/,
      ],
      [
        'header',
        (p) => {
          p.header = flipHex(p.header, 150);
        },
        /blockHash is not SHA-256 of the header/,
      ],
      [
        'header and blockHash',
        (p) => {
          p.header = flipHex(p.header, 240);
          p.blockHash = sha256(Buffer.from(p.header, 'hex')).toString('hex');
        },
        /directory path does not reproduce/,
      ],
      [
        'root',
        (p) => {
          p.root = flipHex(p.root);
        },
        /block root/,
      ],
      [
        'directory path',
        (p) => {
          const d = dirOf(p);
          d.path[0] = flipHex(d.path[0] ?? '');
        },
        /directory path does not reproduce/,
      ],
      [
        'directory header',
        (p) => {
          const d = dirOf(p);
          d.header = flipHex(d.header, 20);
        },
        /directory.hash is not SHA-256/,
      ],
      [
        'directory root',
        (p) => {
          dirOf(p).root = flipHex(dirOf(p).root);
        },
        /directory header root differs/,
      ],
      [
        'malformed path',
        (p) => {
          p.path = ['zz'];
        },
        /path\[0\] is not 32 bytes of hex/,
      ],
      [
        'non-canonical base64',
        (p) => {
          p.content = `${p.content}!`;
        },
        /canonical base64/,
      ],
    ];
    for (const [what, tamper, reason] of cases) {
      const proof = structuredClone(good);
      tamper(proof);
      const result = verifyEntry(proof);
      expect(result.ok, what).toBe(false);
      expect(result.ok ? '' : result.reason, what).toMatch(reason);
    }
    const wrongChain = verifyEntry(good, { chain: 'bank-2' });
    expect(wrongChain.ok ? '' : wrongChain.reason).toMatch(/not "bank-2"/);
    expect(verifyEntry(good, { directoryHash: '00'.repeat(32) }).ok).toBe(false);
    expect(verifyEntry(good)).toEqual({ ok: true });
  });
});

describe('corruption', () => {
  it('is named by verifyStore and refused by entryProof (content changed)', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    await sealTwoIntervals(ledger);
    expect(await verifyStore(dir)).toEqual({ ok: true, chains: 3, blocks: 4, entries: 13, directories: 2, log: { logged: 2, heads: 0 } });

    await corruptBlock(dir, 'bank-1', 1, (record) => {
      const decoded = decodeBlockRecord(record);
      const [start] = decoded.span(1); // seq 6
      flipByte(record, record.length - decoded.contents.length + start, 0x20);
    });
    const report = await verifyStore(dir);
    expect(report.ok).toBe(false);
    expect(report.firstBreak).toBe('chain "bank-1" block 1 seq 6: entry hash does not match its content');

    expect(() => ledger.entryProof('bank-1', 6)).toThrow(LedgerCorruptionError);
    expect(() => ledger.entryProof('bank-1', 6)).toThrow('chain "bank-1" block 1 seq 6: entry hash does not match its content');
    expect(verifyEntry(ledger.entryProof('bank-1', 5) as EntryProof)).toEqual({ ok: true });
    await ledger.close();
  });

  it('names a root mismatch when hash and content were changed together', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    await sealTwoIntervals(ledger);
    await corruptBlock(dir, 'bank-2', 0, (record) => {
      const decoded = decodeBlockRecord(record);
      const [start, end] = decoded.span(0);
      const at = record.length - decoded.contents.length + start;
      const forged = Buffer.from(record.subarray(at, end - start + at)).fill(0x41);
      forged.copy(record, at);
      sha256(forged).copy(decoded.entryHashes, 0);
    });
    expect((await verifyStore(dir)).firstBreak).toBe('chain "bank-2" block 0: root mismatch');
    expect(() => ledger.entryProof('bank-2', 1)).toThrow(/chain "bank-2" block 0 seq 1: stored hashes do not reproduce/);
    await ledger.close();
  });
});

describe('anchor sinks', () => {
  it('FileAnchorSink appends one fsynced JSON line per directory block', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const file = join(dir, 'anchors.jsonl');
    const ledger = await Ledger.open(join(dir, 'store'), { anchorSinks: [new FileAnchorSink(file)] });
    const [first, second] = await sealTwoIntervals(ledger);
    await ledger.anchorsSettled();
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    expect(lines).toEqual([
      JSON.stringify({ height: 0, hash: first.directory?.hash.toString('hex'), sealedAt: T0 }),
      JSON.stringify({ height: 1, hash: second.directory?.hash.toString('hex'), sealedAt: T0 + 1000 }),
    ]);
    await ledger.close();
  });

  it('reports a failing sink without failing the seal', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const failures: string[] = [];
    const ledger = await Ledger.open(dir, {
      anchorSinks: [{ name: 'broken', anchor: () => Promise.reject(new Error('chain unreachable')) }],
      onAnchorError: (error, record, sink) => failures.push(`${sink.name} ${record.height} ${(error as Error).message}`),
    });
    await sealTwoIntervals(ledger);
    await ledger.anchorsSettled();
    expect(failures).toEqual(['broken 0 chain unreachable', 'broken 1 chain unreachable']);
    expect(ledger.anchors().length).toBe(2);
    await ledger.close();
  });
});

describe('blocks larger than one 256-entry chunk', () => {
  it('serve verifying proofs from every chunk, and catch a corrupt chunk root', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const ledger = await Ledger.open(dir);
    await ledger.seal({ blocks: [makeBlock('big', 0, 700)], sealedAt: T0 });
    for (const seq of [0, 1, 255, 256, 257, 511, 512, 600, 699]) {
      const proof = ledger.entryProof('big', seq);
      expect(verifyEntry(proof as EntryProof, { chain: 'big', seq }), `seq ${seq}`).toEqual({ ok: true });
    }
    expect(await verifyStore(dir)).toMatchObject({ ok: true, entries: 700 });

    // Chunk roots sit right after the fixed part: version, header, directory height.
    await corruptBlock(dir, 'big', 0, (record) => flipByte(record, 1 + 124 + 8 + 32 + 5));
    expect((await verifyStore(dir)).firstBreak).toBe('chain "big" block 0: stored chunk roots do not match its entry hashes');
    expect(() => ledger.entryProof('big', 0)).toThrow(/chain "big" block 0 seq 0: stored hashes do not reproduce/);
    expect(verifyEntry(ledger.entryProof('big', 300) as EntryProof)).toEqual({ ok: true });
    await ledger.close();
  });
});

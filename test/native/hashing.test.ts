import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { type BlockPiece, type NativeAddon, jsAddon, nativeAddon, nativeLoadError } from '../../src/native/index.js';
import { workerFile } from '../../src/paths.js';
import type { NamedThreadData, NamedThreadReport } from './fixtures/named-thread.js';
import type { NiceReport, NiceThreadData } from './fixtures/nice-thread.js';
import type { RealtimeReport, RealtimeThreadData } from './fixtures/realtime-thread.js';
import { mayRunRealtime, prng, referenceTreeHash, seededBytes, sha256, sha256Hex, splitHashes } from '../helpers/index.js';

const native = nativeAddon();
const SKIP = native === null ? ` [SKIPPED: native addon not built: ${nativeLoadError ?? 'not loadable'}]` : '';

// The generic RFC 6962 vectors live in the shared test data of the project, not in the repo.
// A copy of shared/testdata/rfc6962-roots.json (the Certificate Transparency reference data).
const RFC6962_ROOTS = new URL('../fixtures/rfc6962-roots.json', import.meta.url);

/** Runs a check against both implementations; the native one is skipped, visibly, only when the addon did not build. */
function eachImpl(title: string, check: (impl: NativeAddon) => void): void {
  it.skipIf(native === null)(`native: ${title}${SKIP}`, () => check(native as NativeAddon));
  it(`js fallback: ${title}`, () => check(jsAddon));
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function allBytes(bytes: Uint8Array, value: number): boolean {
  return bytes.every((b) => b === value);
}

describe('sha256Spans', () => {
  // src is a view at a non-zero byteOffset of a SharedArrayBuffer with bytes after it too,
  // so a forgotten byteOffset or a length taken from the buffer instead of the view shows up.
  const random = prng(6962);
  const srcLength = 5000;
  const sab = new SharedArrayBuffer(srcLength + 40);
  const src = new Uint8Array(sab, 17, srcLength);
  new Uint8Array(sab).set(seededBytes(random, sab.byteLength));

  const spanList: [number, number][] = [
    [0, 0],
    [0, 1],
    [srcLength, 0], // empty entry exactly at the end
    [srcLength - 1, 1], // last byte
    [srcLength - 200, 200], // entry ending at the very end
    [0, srcLength], // everything
    [123, 0],
    [64, 55], // 55/56/64 cross SHA-256 padding boundaries
    [64, 56],
    [64, 64],
  ];
  for (let i = 0; i < 300; i++) {
    const off = Math.floor(random() * (srcLength + 1));
    const len = random() < 0.1 ? 0 : Math.floor(random() * (srcLength - off + 1));
    spanList.push([off, len]);
  }
  const count = spanList.length;
  const spans = new Int32Array(new SharedArrayBuffer(4 * (2 * count + 6)), 8, 2 * count);
  spanList.forEach(([off, len], i) => spans.set([off, len], 2 * i));

  const expected = Buffer.concat(spanList.map(([off, len]) => sha256(src.subarray(off, off + len))));

  eachImpl('equals createHash for every span, written at a dstOffset of a shared view', (impl) => {
    const dstSab = new SharedArrayBuffer(32 * count + 200);
    const dst = new Uint8Array(dstSab, 24, 32 * count + 100);
    dst.fill(0xaa);
    impl.sha256Spans(src, spans, count, dst, 50);
    expect(hex(dst.subarray(50, 50 + 32 * count))).toBe(expected.toString('hex'));
    expect(allBytes(dst.subarray(0, 50), 0xaa)).toBe(true);
    expect(allBytes(dst.subarray(50 + 32 * count), 0xaa)).toBe(true);
    expect(allBytes(new Uint8Array(dstSab, 0, 24), 0)).toBe(true);
  });

  it.skipIf(native === null)(`native and fallback agree byte for byte on a prefix of the spans${SKIP}`, () => {
    const a = new Uint8Array(32 * 200);
    const b = new Uint8Array(32 * 200);
    (native as NativeAddon).sha256Spans(src, spans, 200, a, 0);
    jsAddon.sha256Spans(src, spans, 200, b, 0);
    expect(hex(a)).toBe(hex(b));
    expect(hex(a)).toBe(expected.subarray(0, 32 * 200).toString('hex'));
  });

  eachImpl('count 0 accepts empty spans and an empty dst', (impl) => {
    expect(() => impl.sha256Spans(src, new Int32Array(0), 0, new Uint8Array(0), 0)).not.toThrow();
  });

  const bad: [string, number[], number, number, number][] = [
    // [what, spans, count, dst length, dstOffset]; the first span is always valid.
    ['offset past the end', [0, 1, srcLength + 1, 0], 2, 64, 0],
    ['entry one byte past the end', [0, 1, srcLength - 10, 11], 2, 64, 0],
    ['negative offset', [0, 1, -1, 1], 2, 64, 0],
    ['negative length', [0, 1, 0, -1], 2, 64, 0],
    ['offset + length overflows int32', [0, 1, 0x7fffffff, 0x7fffffff], 2, 64, 0],
    ['count larger than spans', [0, 1, 0, 1], 3, 96, 0],
    ['dst one byte short', [0, 1, 0, 1], 2, 63, 0],
    ['dstOffset pushes the last digest out', [0, 1, 0, 1], 2, 96, 33],
    ['dstOffset beyond dst', [], 0, 64, 65],
  ];
  for (const [what, spanValues, n, dstLength, dstOffset] of bad) {
    eachImpl(`RangeError and nothing written: ${what}`, (impl) => {
      const dst = new Uint8Array(new SharedArrayBuffer(dstLength + 8), 8, dstLength).fill(0x5c);
      expect(() => impl.sha256Spans(src, Int32Array.from(spanValues), n, dst, dstOffset)).toThrow(RangeError);
      expect(allBytes(dst, 0x5c)).toBe(true);
    });
  }

  eachImpl('with [from, to): hashes spans in order inside it, refuses one out of order or outside, writing nothing', (impl) => {
    const dst = new Uint8Array(96).fill(0x5c);
    const inOrder = Int32Array.of(100, 10, 110, 0, 110, 30);
    impl.sha256Spans(src, inOrder, 3, dst, 0, 100, 140);
    expect(hex(dst)).toBe(Buffer.concat([sha256(src.subarray(100, 110)), sha256(src.subarray(110, 110)), sha256(src.subarray(110, 140))]).toString('hex'));
    const untouched = new Uint8Array(96).fill(0x5c);
    for (const [what, spanValues, from, to] of [
      ['overlapping the one before', [100, 10, 105, 5], 100, 140],
      ['starting before from', [99, 10], 100, 140],
      ['ending after to', [100, 41], 100, 140],
    ] as const) {
      expect(() => impl.sha256Spans(src, Int32Array.from(spanValues), spanValues.length / 2, untouched, 0, from, to), what).toThrow(
        /sha256Spans: span \d \[\d+, \+\d+\) is not in order inside \[100, 140\)/,
      );
    }
    expect(allBytes(untouched, 0x5c)).toBe(true);
  });

  eachImpl('RangeError for negative, fractional or NaN count and dstOffset', (impl) => {
    const dst = new Uint8Array(64);
    const one = Int32Array.of(0, 1);
    expect(() => impl.sha256Spans(src, one, -1, dst, 0)).toThrow(RangeError);
    expect(() => impl.sha256Spans(src, one, 0.5, dst, 0)).toThrow(RangeError);
    expect(() => impl.sha256Spans(src, one, 1, dst, -32)).toThrow(RangeError);
    expect(() => impl.sha256Spans(src, one, 1, dst, Number.NaN)).toThrow(RangeError);
    expect(allBytes(dst, 0)).toBe(true);
  });

  eachImpl('TypeError for wrong argument types', (impl) => {
    const dst = new Uint8Array(64);
    const one = Int32Array.of(0, 1);
    const loose = impl.sha256Spans as (...args: unknown[]) => void;
    expect(() => loose(new Uint16Array(8), one, 1, dst, 0)).toThrow(TypeError);
    expect(() => loose(src, Uint32Array.of(0, 1), 1, dst, 0)).toThrow(TypeError);
    expect(() => loose(src, [0, 1], 1, dst, 0)).toThrow(TypeError);
    expect(() => loose(src, one, '1', dst, 0)).toThrow(TypeError);
    expect(() => loose(src, one, 1, new Uint8ClampedArray(64), 0)).toThrow(TypeError);
    expect(() => loose(src, one, 1, dst)).toThrow(TypeError);
    expect(allBytes(dst, 0)).toBe(true);
  });

  // The native addon builds these names only when it throws (ArgName in native/src/addon.cc).
  eachImpl('names the function and the argument it refuses', (impl) => {
    const dst = new Uint8Array(64);
    const one = Int32Array.of(0, 1);
    for (const [name, call] of [
      ['sha256Spans', impl.sha256Spans as (...args: unknown[]) => unknown],
      ['gatherSpans', impl.gatherSpans as (...args: unknown[]) => unknown],
    ] as const) {
      expect(() => call(new Uint16Array(8), one, 1, dst, 0)).toThrow(`${name}: src must be a Uint8Array`);
      expect(() => call(src, Uint32Array.of(0, 1), 1, dst, 0)).toThrow(`${name}: spans must be an Int32Array`);
      expect(() => call(src, one, '1', dst, 0)).toThrow(`${name}: count must be a number`);
      expect(() => call(src, one, 1, [], 0)).toThrow(`${name}: dst must be a Uint8Array`);
      expect(() => call(src, one, 1, dst, -1)).toThrow(`${name}: dstOffset must be a non-negative safe integer`);
    }
    expect(() => (impl.sha256Spans as (...args: unknown[]) => unknown)(src, one, 1, dst, 0, 0, -1)).toThrow(
      'sha256Spans: to must be a non-negative safe integer',
    );
    expect(allBytes(dst, 0)).toBe(true);
  });
});

describe('sha256', () => {
  eachImpl("equals createHash and honours a view's byteOffset", (impl) => {
    const whole = seededBytes(prng(1), 1000);
    for (const view of [new Uint8Array(0), whole, whole.subarray(3, 700), Buffer.from('abc')]) {
      const digest = impl.sha256(view);
      expect(Buffer.isBuffer(digest)).toBe(true);
      expect(digest.toString('hex')).toBe(sha256Hex(view));
    }
    expect(impl.sha256(Buffer.from('abc')).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('merkleRoot', () => {
  it('the test reference reproduces the RFC 6962 reference roots (leaf data of varying length)', () => {
    const rfc = JSON.parse(readFileSync(RFC6962_ROOTS, 'utf8')) as { leavesHex: string[]; roots: Record<string, string> };
    const leaves = rfc.leavesHex.map((h) => Buffer.from(h, 'hex'));
    const sizes = Object.keys(rfc.roots);
    expect(sizes.length).toBe(leaves.length + 1);
    for (const size of sizes) {
      expect(referenceTreeHash(leaves.slice(0, Number(size))).toString('hex'), `n = ${size}`).toBe(rfc.roots[size]);
    }
  });

  // Packed entry hashes in a shared view at an odd byteOffset, one hash longer than needed.
  const packed = seededBytes(prng(9162), 32 * 65536 + 32);
  const hashes = new Uint8Array(new SharedArrayBuffer(packed.length + 3), 3, packed.length);
  hashes.set(packed);

  eachImpl('equals the recursive reference for n = 0..70', (impl) => {
    for (let n = 0; n <= 70; n++) {
      const root = impl.merkleRoot(hashes, n);
      expect(Buffer.isBuffer(root)).toBe(true);
      expect(root.toString('hex'), `n = ${n}`).toBe(referenceTreeHash(splitHashes(hashes, n)).toString('hex'));
    }
  });

  eachImpl('n = 0 is SHA-256 of the empty string, n = 1 is the leaf hash', (impl) => {
    expect(impl.merkleRoot(new Uint8Array(0), 0).toString('hex')).toBe(sha256().toString('hex'));
    expect(impl.merkleRoot(hashes, 1).toString('hex')).toBe(sha256(Uint8Array.of(0), hashes.subarray(0, 32)).toString('hex'));
  });

  // Both implementations are compared with the same reference root, computed once per n.
  const referenceRoots = new Map<number, string>();
  const referenceRoot = (n: number): string => {
    let root = referenceRoots.get(n);
    if (root === undefined) {
      root = referenceTreeHash(splitHashes(hashes, n)).toString('hex');
      referenceRoots.set(n, root);
    }
    return root;
  };
  for (const n of [1000, 1023, 1025, 65536]) {
    eachImpl(`equals the recursive reference for n = ${n}`, (impl) => {
      expect(impl.merkleRoot(hashes, n).toString('hex')).toBe(referenceRoot(n));
    });
  }

  eachImpl('RangeError for n beyond the buffer, TypeError for wrong types', (impl) => {
    expect(() => impl.merkleRoot(new Uint8Array(95), 3)).toThrow(RangeError);
    expect(() => impl.merkleRoot(new Uint8Array(96), -1)).toThrow(RangeError);
    expect(() => impl.merkleRoot(new Uint8Array(96), 1.5)).toThrow(RangeError);
    const loose = impl.merkleRoot as (...args: unknown[]) => Buffer;
    expect(() => loose(new Uint32Array(24), 3)).toThrow(TypeError);
    expect(() => loose(new Uint8Array(96), '3')).toThrow(TypeError);
    expect(impl.merkleRoot(new Uint8Array(96), 3).length).toBe(32);
  });
});

describe('blockBody', () => {
  // A block as the sealer holds it: entries inside a larger buffer (contentStart > 0), ends absolute.
  function block(count: number, seed: number): { hashes: Uint8Array; ends: Uint32Array; start: number; contents: Uint8Array } {
    const rand = prng(seed);
    const start = 1 + Math.floor(rand() * 50);
    const ends = new Uint32Array(count + 3);
    let at = start;
    for (let i = 0; i < count; i++) {
      at += Math.floor(rand() * 300);
      ends[i] = at;
    }
    return { hashes: seededBytes(rand, count * 32 + 64), ends, start, contents: seededBytes(rand, at + 17) };
  }

  // The reference: chunk roots, ends and layout spelled out from the format, with the recursive tree.
  function expectedBody(b: ReturnType<typeof block>, count: number, chunk: number): { body: Buffer; root: string } {
    const chunkRoots: Buffer[] = [];
    for (let c = 0; c < count; c += chunk) chunkRoots.push(referenceTreeHash(splitHashes(b.hashes.subarray(c * 32), Math.min(chunk, count - c))));
    const ends = Buffer.alloc(count * 4);
    for (let i = 0; i < count; i++) ends.writeUInt32BE(b.ends[i]! - b.start, 4 * i);
    const body = Buffer.concat([...chunkRoots, b.hashes.subarray(0, count * 32), ends, b.contents.subarray(b.start, b.ends[count - 1])]);
    // The block root is the RFC tree over the chunk roots as nodes: fold them like the tree does.
    const fold = (nodes: Buffer[]): Buffer => {
      if (nodes.length === 1) return nodes[0]!;
      let k = 1;
      while (k * 2 < nodes.length) k *= 2;
      return sha256(Uint8Array.of(1), fold(nodes.slice(0, k)), fold(nodes.slice(k)));
    };
    return { body, root: fold(chunkRoots).toString('hex') };
  }

  const whole = (b: ReturnType<typeof block>, count: number): BlockPiece[] => [
    { hashes: b.hashes, ends: b.ends, count, contentStart: b.start, contents: b.contents },
  ];

  /**
   * The same block cut into pieces at `cuts` (entry indexes), each piece in a buffer of its own
   * at another offset, as backlog segments hold a block: ends absolute in the piece's buffer.
   */
  function cutInto(b: ReturnType<typeof block>, count: number, cuts: readonly number[]): BlockPiece[] {
    const bounds = [0, ...cuts, count];
    return bounds.slice(0, -1).map((i0, p) => {
      const i1 = bounds[p + 1]!;
      const c0 = i0 === 0 ? b.start : b.ends[i0 - 1]!;
      const c1 = b.ends[i1 - 1]!;
      const pad = 7 + 5 * p;
      const contents = new Uint8Array(pad + c1 - c0 + 3).fill(0xab);
      contents.set(b.contents.subarray(c0, c1), pad);
      const ends = Uint32Array.from(b.ends.subarray(i0, i1), (e) => e - c0 + pad);
      return { hashes: b.hashes.slice(i0 * 32, i1 * 32), ends, count: i1 - i0, contentStart: pad, contents };
    });
  }

  for (const [count, chunk] of [
    [1, 256],
    [3, 256],
    [256, 256],
    [257, 256],
    [700, 256],
    [70, 8],
  ] as const) {
    eachImpl(`writes the record body and returns the block root: ${count} entries, chunks of ${chunk}`, (h) => {
      const b = block(count, count * 31 + chunk);
      const { body, root } = expectedBody(b, count, chunk);
      expect(root).toBe(referenceTreeHash(splitHashes(b.hashes, count)).toString('hex'));
      const dst = new Uint8Array(body.length + 2).fill(0xee);
      const got = h.blockBody(whole(b, count), chunk, dst.subarray(1, 1 + body.length));
      expect(got.toString('hex')).toBe(root);
      expect(Buffer.from(dst.subarray(1, 1 + body.length)).equals(body)).toBe(true);
      expect([dst[0], dst[dst.length - 1]]).toEqual([0xee, 0xee]);
    });
  }

  // Cuts inside a chunk, on a chunk boundary, and single-entry pieces.
  for (const [count, chunk, cuts] of [
    [2, 256, [1]],
    [700, 256, [1, 255, 256, 300, 699]],
    [70, 8, [3, 8, 9, 40]],
    [257, 256, [256]],
  ] as const) {
    eachImpl(`writes the same bytes and root from ${cuts.length + 1} pieces as from one: ${count} entries, chunks of ${chunk}`, (h) => {
      const b = block(count, count * 7 + chunk);
      const { body, root } = expectedBody(b, count, chunk);
      const dst = new Uint8Array(body.length);
      expect(h.blockBody(cutInto(b, count, cuts), chunk, dst).toString('hex')).toBe(root);
      expect(Buffer.from(dst).equals(body)).toBe(true);
    });
  }

  type Block = ReturnType<typeof block>;

  /** The block with entries [from, to) made empty: their ends all equal the end before them. */
  function emptied(b: Block, count: number, from: number, to: number): Block {
    const ends = Uint32Array.from(b.ends);
    const base = from === 0 ? b.start : ends[from - 1]!;
    const shift = ends[to - 1]! - base;
    for (let i = from; i < count; i++) ends[i] = i < to ? base : ends[i]! - shift;
    return { ...b, ends };
  }

  // Pieces holding only empty entries (one with a contents buffer of no bytes at all), one entry per
  // piece across a chunk boundary, and a block that is empty from end to end.
  const edges: [string, number, number, (b: Block) => { b: Block; cuts: number[]; change?: (p: BlockPiece, i: number) => BlockPiece }][] = [
    ['a middle piece of empty entries', 40, 8, (b) => ({ b: emptied(b, 40, 10, 20), cuts: [10, 20] })],
    ['a first and a last piece of empty entries', 40, 8, (b) => ({ b: emptied(emptied(b, 40, 0, 5), 40, 35, 40), cuts: [5, 35] })],
    [
      'an empty piece whose contents buffer has no bytes',
      12,
      4,
      (b) => ({
        b: emptied(b, 12, 4, 8),
        cuts: [4, 8],
        change: (p, i) => (i === 1 ? { ...p, contents: new Uint8Array(0), contentStart: 0, ends: new Uint32Array(4) } : p),
      }),
    ],
    ['one entry per piece, across a chunk boundary', 20, 8, (b) => ({ b, cuts: Array.from({ length: 19 }, (_, i) => i + 1) })],
    ['no content bytes at all, in three pieces', 9, 4, (b) => ({ b: emptied(b, 9, 0, 9), cuts: [3, 6] })],
  ];
  for (const [title, count, chunk, make] of edges) {
    eachImpl(`writes the same bytes and root from pieces as the reference: ${title}`, (h) => {
      const { b, cuts, change } = make(block(count, count * 13 + chunk));
      const { body, root } = expectedBody(b, count, chunk);
      const pieces = cutInto(b, count, cuts).map(change ?? ((p) => p));
      const dst = new Uint8Array(body.length + 2).fill(0xee);
      expect(h.blockBody(pieces, chunk, dst.subarray(1, 1 + body.length)).toString('hex')).toBe(root);
      expect(Buffer.from(dst.subarray(1, 1 + body.length)).equals(body)).toBe(true);
      expect([dst[0], dst[dst.length - 1]]).toEqual([0xee, 0xee]);
    });
  }

  it.skipIf(native === null)(`native and fallback agree byte for byte on a block of many pieces${SKIP}`, () => {
    const b = block(1000, 99);
    const pieces = cutInto(b, 1000, [10, 11, 200, 511, 512, 513, 900]);
    const out = [native as NativeAddon, jsAddon].map((h) => {
      const dst = new Uint8Array(expectedBody(b, 1000, 256).body.length);
      return Buffer.concat([h.blockBody(pieces, 256, dst), dst]).toString('hex');
    });
    expect(out[0]).toBe(out[1]);
  });

  eachImpl('refuses bad arguments with a RangeError naming the cause, writing nothing', (h) => {
    const b = block(10, 5);
    const { body } = expectedBody(b, 10, 4);
    const dst = new Uint8Array(body.length).fill(7);
    const piece = (change: Partial<BlockPiece>): BlockPiece[] => [{ ...whole(b, 10)[0]!, ...change }];
    expect(() => h.blockBody(whole(b, 10), 4, dst.subarray(1))).toThrow(/dst has .* the body needs/);
    expect(() => h.blockBody(whole(b, 10), 3, dst)).toThrow(/power of two/);
    expect(() => h.blockBody([], 4, dst)).toThrow(/at least one piece/);
    expect(() => h.blockBody(piece({ count: 0 }), 4, dst)).toThrow(/pieces\[0\]\.count must be at least 1/);
    expect(() => h.blockBody(piece({ hashes: b.hashes.subarray(0, 9 * 32) }), 4, dst)).toThrow(/pieces\[0\]\.hashes: 10 entries need 320 bytes/);
    expect(() => h.blockBody(piece({ contents: b.contents.subarray(0, b.ends[9]! - 1) }), 4, dst)).toThrow(/beyond contents/);
    const bad = Uint32Array.from(b.ends);
    bad[4] = bad[3]! - 1;
    expect(() => h.blockBody(piece({ ends: bad }), 4, dst)).toThrow(/pieces\[0\]\.ends decrease at entry 4/);
    expect(() => h.blockBody(piece({ contentStart: b.ends[0]! + 1 }), 4, dst)).toThrow(/decrease at entry 0/);
    // A bad second piece: nothing of the first is written either.
    expect(() => h.blockBody([...cutInto(b, 10, [4]).slice(0, 1), { ...cutInto(b, 10, [4])[1]!, ends: new Uint32Array(2) }], 4, dst)).toThrow(
      /pieces\[1\]\.ends: 6 entries, it has 2/,
    );
    const loose = h.blockBody as (...args: unknown[]) => Buffer;
    expect(() => loose(piece({ ends: new Int32Array(12) as unknown as Uint32Array }), 4, dst)).toThrow(/pieces\[0\]\.ends must be a Uint32Array/);
    expect(() => loose([7], 4, dst)).toThrow(/pieces\[0\] must be an object/);
    expect(() => loose(whole(b, 10)[0], 4, dst)).toThrow(/pieces must be an array/);
    expect(dst.every((x) => x === 7)).toBe(true);
  });
});

describe('gatherSpans', () => {
  eachImpl('copies every span back to back and returns the bytes written', (h) => {
    const sab = new SharedArrayBuffer(4096);
    const src = new Uint8Array(sab, 16);
    for (let i = 0; i < src.length; i++) src[i] = (i * 7) & 0xff;
    const spans = new Int32Array([5, 10, 0, 0, 100, 3, src.length - 4, 4]);
    const dst = new Uint8Array(40).fill(0xee);
    expect(h.gatherSpans(src, spans, 4, dst, 2)).toBe(17);
    const expected = Buffer.concat([src.subarray(5, 15), src.subarray(100, 103), src.subarray(src.length - 4)]);
    expect(Buffer.from(dst.subarray(2, 19)).equals(expected)).toBe(true);
    expect(dst[1]).toBe(0xee);
    expect(dst[19]).toBe(0xee);
  });

  eachImpl('with ends, writes where each entry ends in dst; refuses ends too short, writing nothing', (h) => {
    const src = Uint8Array.from({ length: 64 }, (_, i) => i);
    const spans = new Int32Array([5, 10, 0, 0, 40, 3]);
    const dst = new Uint8Array(40);
    const ends = new Uint32Array(6).fill(9);
    expect(h.gatherSpans(src, spans, 3, dst, 7, ends, 2)).toBe(13);
    expect([...ends]).toEqual([9, 9, 17, 17, 20, 9]);
    expect(Buffer.from(dst.subarray(7, 20)).equals(Buffer.concat([src.subarray(5, 15), src.subarray(40, 43)]))).toBe(true);
    const untouched = new Uint8Array(40).fill(1);
    const shortEnds = new Uint32Array(4).fill(9);
    expect(() => h.gatherSpans(src, spans, 3, untouched, 0, shortEnds, 2)).toThrow(/3 ends from 2 exceed ends length 4/);
    const loose = h.gatherSpans as (...args: unknown[]) => number;
    expect(() => loose(src, spans, 3, untouched, 0, new Int32Array(6), 0)).toThrow(TypeError);
    expect(untouched.every((b) => b === 1) && shortEnds.every((e) => e === 9)).toBe(true);
  });

  eachImpl('refuses spans outside src or a dst too small, writing nothing', (h) => {
    const src = new Uint8Array(64);
    const dst = new Uint8Array(16).fill(1);
    expect(() => h.gatherSpans(src, new Int32Array([60, 5]), 1, dst, 0)).toThrow(RangeError);
    expect(() => h.gatherSpans(src, new Int32Array([0, 10, 10, 10]), 2, dst, 0)).toThrow(RangeError);
    expect(() => h.gatherSpans(src, new Int32Array([0, 4]), 2, dst, 0)).toThrow(RangeError);
    expect(dst.every((b) => b === 1)).toBe(true);
  });
});

describe('copyBytes', () => {
  eachImpl('copies a range into shared memory at any alignment, and only that range', (h) => {
    const sab = new SharedArrayBuffer(4096);
    const dst = new Uint8Array(sab, 8).fill(0xee);
    // A source at an odd offset into its buffer, to a destination of another alignment: the case TypedArray#set copies byte by byte.
    const src = Uint8Array.from({ length: 1501 }, (_, i) => (i * 13) & 0xff).subarray(3);
    h.copyBytes(src, 5, 1200, dst, 37);
    expect(Buffer.from(dst.subarray(37, 1237)).equals(Buffer.from(src.subarray(5, 1205)))).toBe(true);
    expect(dst[36]).toBe(0xee);
    expect(dst[1237]).toBe(0xee);
    // Overlapping views of one buffer: a memmove.
    h.copyBytes(dst, 37, 100, dst, 57);
    expect(Buffer.from(dst.subarray(57, 157)).equals(Buffer.from(src.subarray(5, 105)))).toBe(true);
    h.copyBytes(src, src.length, 0, dst, dst.length);
  });

  eachImpl('refuses a range outside either side or a wrong argument, writing nothing', (h) => {
    const src = new Uint8Array(64).fill(7);
    const dst = new Uint8Array(32).fill(1);
    expect(() => h.copyBytes(src, 60, 5, dst, 0)).toThrow(/copyBytes: \[60, \+5\) is outside src of length 64/);
    expect(() => h.copyBytes(src, 0, 20, dst, 20)).toThrow(/copyBytes: \[20, \+20\) is outside dst of length 32/);
    const loose = h.copyBytes as (...args: unknown[]) => void;
    expect(() => loose(src, 0, 4, new Int32Array(8), 0)).toThrow(/copyBytes: dst must be a Uint8Array/);
    expect(() => loose(src, -1, 4, dst, 0)).toThrow(RangeError);
    expect(dst.every((b) => b === 1)).toBe(true);
  });
});

describe('setThreadNice', () => {
  /** Sets nice 7 in a fresh worker thread and reads the thread's nice value back from /proc. */
  async function niceInWorker(useNative: boolean): Promise<NiceReport> {
    const data: NiceThreadData = { useNative };
    const worker = new Worker(workerFile(import.meta.url, 'fixtures/nice-thread'), { workerData: data });
    const result = await new Promise<NiceReport>((resolve) => worker.once('message', resolve));
    await worker.terminate();
    return result;
  }

  it.skipIf(native === null)(`native: raises the calling thread's nice value${SKIP}`, async () => {
    expect(await niceInWorker(true)).toEqual({ ok: true, nice: 7 });
  });

  it("js fallback: raises the calling thread's nice value", async () => {
    expect(await niceInWorker(false)).toEqual({ ok: true, nice: 7 });
  });

  eachImpl('refuses values out of range', (h) => {
    expect(() => h.setThreadNice(25)).toThrow(RangeError);
    expect(() => h.setThreadNice(1.5)).toThrow(RangeError);
  });
});

describe('setThreadRealtime', () => {
  const allowed = mayRunRealtime();

  it.skipIf(native === null || !allowed)(
    `native: puts the calling thread under SCHED_RR, the threads it starts stay ordinary, 0 undoes it${SKIP}${allowed ? '' : ' [SKIPPED: needs CAP_SYS_NICE]'}`,
    async () => {
      const data: RealtimeThreadData = { priority: 3, probe: false };
      const worker = new Worker(workerFile(import.meta.url, 'fixtures/realtime-thread'), { workerData: data });
      const report = await new Promise<RealtimeReport>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      await worker.terminate();
      expect(report).toEqual({ refusal: null, own: { policy: 2, priority: 3 }, child: { policy: 0, priority: 0 }, after: { policy: 0, priority: 0 } });
    },
  );

  it('js fallback: says it cannot', () => {
    expect(jsAddon.setThreadRealtime(1)).toMatch(/needs the native addon/);
  });

  eachImpl('refuses priorities out of range', (h) => {
    expect(() => h.setThreadRealtime(100)).toThrow(RangeError);
    expect(() => h.setThreadRealtime(-1)).toThrow(RangeError);
    expect(() => h.setThreadRealtime(1.5)).toThrow(RangeError);
  });
});

describe('nameThread', () => {
  /** Names a fresh worker thread and reads its name, and the main thread's, back from /proc. */
  async function nameInWorker(useNative: boolean, name: string): Promise<NamedThreadReport> {
    const data: NamedThreadData = { useNative, name };
    const worker = new Worker(workerFile(import.meta.url, 'fixtures/named-thread'), { workerData: data });
    const result = await new Promise<NamedThreadReport>((resolve) => worker.once('message', resolve));
    await worker.terminate();
    return result;
  }
  const mainName = readFileSync('/proc/thread-self/comm', 'utf8').trim();

  it.skipIf(native === null)(`native: names the calling thread only, cut to Linux's 15 bytes${SKIP}`, async () => {
    expect(await nameInWorker(true, 'cl-lane-heavy')).toEqual({ ok: true, own: 'cl-lane-heavy', main: mainName });
    expect(await nameInWorker(true, 'a-name-longer-than-fifteen')).toEqual({ ok: true, own: 'a-name-longer-t', main: mainName });
  });

  it("js fallback: names the calling thread only, cut to Linux's 15 bytes", async () => {
    expect(await nameInWorker(false, 'cl-sealer')).toEqual({ ok: true, own: 'cl-sealer', main: mainName });
    expect(await nameInWorker(false, 'a-name-longer-than-fifteen')).toEqual({ ok: true, own: 'a-name-longer-t', main: mainName });
  });

  eachImpl('refuses an empty or non-string name', (h) => {
    expect(() => h.nameThread('')).toThrow(TypeError);
    expect(() => h.nameThread(7 as unknown as string)).toThrow(TypeError);
  });
});

describe('keepFreedMemory', () => {
  // process.report names the glibc the process runs on; there mallopt takes both thresholds.
  const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime !== undefined;

  it.skipIf(native === null || !glibc)(`native: glibc takes both thresholds${SKIP}`, () => {
    expect(native!.keepFreedMemory(32 * 1024 * 1024, 256 * 1024 * 1024)).toBe(true);
  });

  it('js fallback: cannot reach malloc, and says so', () => {
    expect(jsAddon.keepFreedMemory(32 * 1024 * 1024, 256 * 1024 * 1024)).toBe(false);
  });

  eachImpl('refuses thresholds that are not non-negative integers below 2^31', (h) => {
    expect(() => h.keepFreedMemory(-1, 0)).toThrow(RangeError);
    expect(() => h.keepFreedMemory(0, 2 ** 31)).toThrow(RangeError);
    expect(() => h.keepFreedMemory('1' as unknown as number, 0)).toThrow(TypeError);
  });
});

describe('dropFileCache', () => {
  it.skipIf(native === null)(`native: the kernel takes the advice for an open file, and refuses a closed descriptor${SKIP}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'chainlanes-fadvise-'));
    const file = join(dir, 'f');
    writeFileSync(file, Buffer.alloc(64 * 1024, 7));
    const fd = openSync(file, 'r');
    try {
      expect(native!.dropFileCache(fd)).toBe(true);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
    expect(native!.dropFileCache(fd)).toBe(false);
  });

  it('js fallback: cannot advise the kernel, and says so', () => {
    expect(jsAddon.dropFileCache(0)).toBe(false);
  });

  eachImpl('refuses a descriptor that is not a non-negative integer below 2^31', (h) => {
    expect(() => h.dropFileCache(-1)).toThrow(RangeError);
    expect(() => h.dropFileCache(2 ** 31)).toThrow(RangeError);
    expect(() => h.dropFileCache('3' as unknown as number)).toThrow(TypeError);
  });
});

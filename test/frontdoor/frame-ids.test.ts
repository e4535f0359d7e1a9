// Client frame ids and the window of recent ones (src/frontdoor/frame-ids.ts):
// the wire form read and written, what is remembered and for which chain and
// producer, and both bounds (per chain, all chains' bytes) with their evictions.
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { FrameIdWindow, RECORD_OVERHEAD_BYTES } from '../../src/frontdoor/frame-ids.js';
import { encodeFrameId, FRAME_ID_BYTES, FRAME_ID_RULE, readFrameId, type FrameId } from '../../src/protocol/index.js';

const P1 = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
const P2 = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 9]);

function idOf(producer: Uint8Array, n: number): FrameId {
  const read = readFrameId(encodeFrameId(producer, n));
  if (typeof read === 'string') throw new Error(read);
  return read;
}

/** What one remembered frame of `count` entries costs the window. */
const cost = (count: number) => RECORD_OVERHEAD_BYTES + 32 * count;

describe('frame id wire form', () => {
  it('is 18 bytes in front of the entry array, and reads back', () => {
    const frame = Buffer.concat([encodeFrameId(P1, 258), pack(['a', 'b'])]);
    expect([...frame.subarray(0, 2)]).toEqual([0xd8, 0x01]);
    expect(readFrameId(frame)).toEqual({ producer: '0102030405060708', n: 258 });
    // The entry array follows unchanged.
    expect(frame[FRAME_ID_BYTES]).toBe(0x92);
  });

  it('carries n up to 2^53 − 1 exactly and refuses more', () => {
    expect(readFrameId(encodeFrameId(P1, Number.MAX_SAFE_INTEGER))).toMatchObject({ n: Number.MAX_SAFE_INTEGER });
    expect(readFrameId(encodeFrameId(P1, 2 ** 32 + 7))).toMatchObject({ n: 2 ** 32 + 7 });
    const over = Buffer.from(encodeFrameId(P1, 0));
    over.writeUInt32BE(0x200000, 10);
    expect(readFrameId(over)).toMatch(/above 2\^53 − 1/);
    expect(() => encodeFrameId(P1, -1)).toThrow(RangeError);
    expect(() => encodeFrameId(P1.subarray(1), 1)).toThrow(/8 bytes/);
  });

  it('names the rule when a frame starts like an id and is not one', () => {
    expect(readFrameId(Buffer.from([0xd8, 0x02, ...new Array<number>(16).fill(0), 0x90]))).toBe(FRAME_ID_RULE);
    expect(readFrameId(encodeFrameId(P1, 1).subarray(0, 17))).toBe(FRAME_ID_RULE);
  });

  it('reads from a view into a larger buffer (the socket’s message) at its offset', () => {
    const backing = Buffer.concat([Buffer.from([0xff, 0xff, 0xff]), encodeFrameId(P2, 99)]);
    expect(readFrameId(backing.subarray(3))).toEqual({ producer: '0102030405060709', n: 99 });
  });
});

describe('FrameIdWindow', () => {
  it('finds a remembered id only on its chain and for its producer', () => {
    const window = new FrameIdWindow({ perChain: 16, maxBytes: 1 << 20 });
    const record = window.remember(3, idOf(P1, 5), 100, 4)!;
    expect(window.find(3, idOf(P1, 5))).toBe(record);
    expect(record).toMatchObject({ seq: 100, count: 4, hashes: null });
    // The same n from another producer, the same id on another chain, another n: not it.
    expect(window.find(3, idOf(P2, 5))).toBeUndefined();
    expect(window.find(4, idOf(P1, 5))).toBeUndefined();
    expect(window.find(3, idOf(P1, 6))).toBeUndefined();
    // Two producers with the same n are two frames.
    const other = window.remember(3, idOf(P2, 5), 104, 1)!;
    expect(window.find(3, idOf(P2, 5))).toBe(other);
    expect(window.find(3, idOf(P1, 5))).toBe(record);
    expect(window.sizeOf(3)).toBe(2);
  });

  it('keeps the hashes once hashed, copied out of the ring', () => {
    const window = new FrameIdWindow({ perChain: 16, maxBytes: 1 << 20 });
    const record = window.remember(0, idOf(P1, 1), 0, 2)!;
    const ring = new Uint8Array(200).map((_, i) => i);
    record.hashed(ring, 10);
    ring.fill(0);
    expect(record.hashes).toEqual(Buffer.from(Array.from({ length: 64 }, (_, i) => i + 10)));
  });

  it('holds at most perChain ids per chain, forgetting the chain’s oldest, and leaves other chains alone', () => {
    const window = new FrameIdWindow({ perChain: 3, maxBytes: 1 << 20 });
    window.remember(7, idOf(P2, 0), 0, 1);
    for (let n = 0; n < 5; n++) window.remember(1, idOf(P1, n), n, 1);
    expect(window.sizeOf(1)).toBe(3);
    expect([0, 1, 2, 3, 4].map((n) => window.find(1, idOf(P1, n)) !== undefined)).toEqual([false, false, true, true, true]);
    expect(window.find(7, idOf(P2, 0))).toBeDefined();
    expect(window.stats).toMatchObject({ remembered: 4, evicted: 2, bytes: 4 * cost(1) });
  });

  it('holds at most maxBytes in all, forgetting the oldest of all chains first', () => {
    const window = new FrameIdWindow({ perChain: 100, maxBytes: 3 * cost(10) });
    window.remember(1, idOf(P1, 0), 0, 10);
    window.remember(2, idOf(P1, 0), 0, 10);
    window.remember(1, idOf(P1, 1), 10, 10);
    expect(window.stats.bytes).toBe(3 * cost(10));
    // A fourth does not fit: chain 1's first (the oldest of all) goes, not chain 2's.
    window.remember(3, idOf(P1, 0), 0, 10);
    expect(window.find(1, idOf(P1, 0))).toBeUndefined();
    expect(window.find(2, idOf(P1, 0))).toBeDefined();
    expect(window.find(1, idOf(P1, 1))).toBeDefined();
    // A big one takes the room of two.
    window.remember(3, idOf(P1, 1), 10, 10 + Math.ceil(cost(10) / 32));
    expect(window.size).toBe(2);
    expect(window.stats.bytes).toBeLessThanOrEqual(3 * cost(10));
    expect(window.find(2, idOf(P1, 0))).toBeUndefined();
    expect(window.sizeOf(1)).toBe(0);
    expect(window.sizeOf(2)).toBe(0);
  });

  it('past maxBytes strips durable ids of their hashes before it forgets any, and forgets stripped ids first', () => {
    const durable = new Map<number, number>([[1, 0]]);
    const window = new FrameIdWindow({ perChain: 100, maxBytes: 3 * cost(10) }, (slot) => durable.get(slot) ?? 0);
    const hashed = (seq: number) => window.remember(1, idOf(P1, seq / 10), seq, 10)!.hashed(new Uint8Array(320).fill(seq), 0);
    [0, 10, 20].forEach(hashed);
    // Nothing durable yet: the oldest goes, as without a store.
    hashed(30);
    expect(window.find(1, idOf(P1, 0))).toBeUndefined();
    expect(window.stats).toMatchObject({ evicted: 1, stripped: 0 });
    // Seqs below 30 durable: the two oldest give up their hashes and stay, each costing the overhead alone.
    durable.set(1, 30);
    hashed(40);
    const stripped = window.find(1, idOf(P1, 1))!;
    expect(stripped).toMatchObject({ stripped: true, hashes: null, seq: 10, count: 10, bytes: RECORD_OVERHEAD_BYTES });
    expect(window.find(1, idOf(P1, 2))).toMatchObject({ stripped: true, hashes: null });
    expect(window.find(1, idOf(P1, 3))!.hashes).not.toBeNull();
    expect(window.stats).toMatchObject({ evicted: 1, stripped: 2, remembered: 4, bytes: 2 * RECORD_OVERHEAD_BYTES + 2 * cost(10) });
    // A late `hashed` does not bring hashes back to a stripped id.
    stripped.hashed(new Uint8Array(320), 0);
    expect(stripped.hashes).toBeNull();
    // The oldest with hashes (seq 30) is not durable: stripped ids are forgotten first, oldest first.
    hashed(50);
    expect(window.find(1, idOf(P1, 1))).toBeUndefined();
    expect(window.find(1, idOf(P1, 2))).toBeUndefined();
    expect(window.find(1, idOf(P1, 3))!.hashes).not.toBeNull();
    expect(window.stats).toMatchObject({ evicted: 3, stripped: 2, remembered: 3, bytes: 3 * cost(10) });
  });

  it('stays within both bounds under many chains and producers', () => {
    const perChain = 8;
    const maxBytes = 50 * cost(4);
    const window = new FrameIdWindow({ perChain, maxBytes });
    const producers = Array.from({ length: 5 }, (_, p) => Uint8Array.from([p, 0, 0, 0, 0, 0, 0, 0]));
    for (let i = 0; i < 10_000; i++) {
      const slot = i % 37;
      window.remember(slot, idOf(producers[i % 5]!, i), i, 1 + (i % 4));
      expect(window.stats.bytes).toBeLessThanOrEqual(maxBytes);
      expect(window.sizeOf(slot)).toBeLessThanOrEqual(perChain);
    }
    expect(window.stats.remembered).toBe(window.size);
    // The newest is always there.
    expect(window.find(9_999 % 37, idOf(producers[9_999 % 5]!, 9_999))).toBeDefined();
  });

  it('keeps nothing for an evicted frame hashed late, and does not remember a frame larger than the whole window', () => {
    const window = new FrameIdWindow({ perChain: 1, maxBytes: cost(4) });
    const first = window.remember(0, idOf(P1, 0), 0, 2)!;
    window.remember(0, idOf(P1, 1), 2, 2);
    expect(first.live).toBe(false);
    first.hashed(new Uint8Array(64), 0);
    expect(first.hashes).toBeNull();
    expect(window.remember(0, idOf(P1, 2), 4, 5)).toBeNull();
    expect(window.find(0, idOf(P1, 1))).toBeDefined();
    expect(window.stats.bytes).toBe(cost(2));
  });

  it('hands each admitted id to the block its first seq is cut into, once, and nothing for a chain without ids', () => {
    const window = new FrameIdWindow({ perChain: 2, maxBytes: 1 << 20 });
    window.remember(0, idOf(P1, 0), 0, 3);
    window.remember(0, idOf(P1, 1), 3, 6);
    window.remember(0, idOf(P2, 0), 11, 1);
    window.remember(1, idOf(P1, 0), 0, 1);
    // The window forgets the chain's oldest past perChain; every id still goes to its seal.
    expect(window.sizeOf(0)).toBe(2);
    expect(window.takeForBlock(2, 100)).toBeUndefined();
    // Blocks of chain 0 cut at 4, 8 and 12: the 6-entry frame goes with the block holding its first seq.
    expect(window.takeForBlock(0, 4)).toEqual([
      { seq: 0, producer: '0102030405060708', n: 0, count: 3 },
      { seq: 3, producer: '0102030405060708', n: 1, count: 6 },
    ]);
    expect(window.takeForBlock(0, 8)).toBeUndefined();
    expect(window.takeForBlock(0, 12)).toEqual([{ seq: 11, producer: '0102030405060709', n: 0, count: 1 }]);
    expect(window.takeForBlock(0, 100)).toBeUndefined();
    expect(window.takeForBlock(1, 1)).toHaveLength(1);
  });

  it('is rebuilt from stored ids with their hashes: a repeat of one is answered, and the bounds hold', () => {
    const window = new FrameIdWindow({ perChain: 2, maxBytes: 1 << 20 });
    const stored = (n: number, seq: number, count: number) => ({ seq, producer: '0102030405060708', n, count, hashes: Buffer.alloc(32 * count, n + 1) });
    window.restore(5, [stored(0, 0, 1), stored(1, 1, 2), stored(2, 3, 1)]);
    expect(window.sizeOf(5)).toBe(2);
    expect(window.find(5, idOf(P1, 0))).toBeUndefined();
    const found = window.find(5, idOf(P1, 1))!;
    expect([found.seq, found.count]).toEqual([1, 2]);
    expect(found.hashes).toEqual(Buffer.alloc(64, 2));
    // Restored ids are the store's already: none waits for a seal.
    expect(window.takeForBlock(5, 100)).toBeUndefined();

    // Every chain at start: the store is asked for perChain ids within what is left of maxBytes.
    const all = new FrameIdWindow({ perChain: 3, maxBytes: 200 });
    const asked: [string, number, number][] = [];
    all.restoreChains(
      [
        { slot: 1, name: 'a' },
        { slot: 2, name: 'b' },
        { slot: 3, name: 'c' },
      ],
      (name, limit, maxBytes) => {
        asked.push([name, limit, maxBytes]);
        return [stored(0, 0, 3)];
      },
    );
    expect(asked).toEqual([
      ['a', 3, 200],
      ['b', 3, 104],
      ['c', 3, 8],
    ]);
  });

  describe('forgetFrom (a truncation took the chain back to a seq)', () => {
    it('forgets the chain’s ids at or after the seq and its uncut ones, keeps older ones and other chains, and counts exactly what went', () => {
      const window = new FrameIdWindow({ perChain: 16, maxBytes: 1 << 20 });
      const a = window.remember(3, idOf(P1, 0), 0, 2)!;
      const b = window.remember(3, idOf(P1, 1), 2, 3)!;
      const c = window.remember(3, idOf(P2, 0), 5, 1)!;
      window.remember(3, idOf(P1, 2), 6, 4);
      const e = window.remember(4, idOf(P1, 0), 5, 2)!;
      c.hashed(Buffer.alloc(32, 9), 0);
      const before = { ...window.stats };

      window.forgetFrom(3, 5);
      expect(window.find(3, idOf(P2, 0))).toBeUndefined();
      expect(window.find(3, idOf(P1, 2))).toBeUndefined();
      expect(window.find(3, idOf(P1, 0))).toBe(a);
      expect(window.find(3, idOf(P1, 1))).toBe(b);
      expect(window.find(4, idOf(P1, 0))).toBe(e);
      expect([window.sizeOf(3), window.sizeOf(4), window.size]).toEqual([2, 1, 3]);
      expect(window.stats).toEqual({ ...before, remembered: before.remembered - 2, bytes: before.bytes - cost(1) - cost(4) });
      // A forgotten frame keeps nothing, even hashed late.
      expect([c.live, c.hashes]).toEqual([false, null]);
      c.hashed(Buffer.alloc(32, 1), 0);
      expect(c.hashes).toBeNull();
      // The uncut ids at or after the seq are gone: their entries are not in any block any more.
      expect(window.takeForBlock(3, 100)).toEqual([
        { seq: 0, producer: '0102030405060708', n: 0, count: 2 },
        { seq: 2, producer: '0102030405060708', n: 1, count: 3 },
      ]);
      expect(window.takeForBlock(4, 100)).toEqual([{ seq: 5, producer: '0102030405060708', n: 0, count: 2 }]);
    });

    it('lets a frame sent again be remembered anew at the freed seq, and keeps the chain’s list whole for the next truncation', () => {
      const window = new FrameIdWindow({ perChain: 16, maxBytes: 1 << 20 });
      window.remember(3, idOf(P1, 0), 0, 2);
      window.remember(3, idOf(P1, 1), 2, 3);
      const gone = window.remember(3, idOf(P2, 0), 5, 1)!;
      window.forgetFrom(3, 5);
      const again = window.remember(3, idOf(P2, 0), 5, 1)!;
      expect(again).not.toBe(gone);
      expect(window.find(3, idOf(P2, 0))).toBe(again);
      window.remember(3, idOf(P2, 1), 6, 1);
      // Nothing at or after 9: nothing goes.
      window.forgetFrom(3, 9);
      expect(window.sizeOf(3)).toBe(4);
      window.forgetFrom(3, 2);
      expect(window.sizeOf(3)).toBe(1);
      expect(window.find(3, idOf(P1, 0))).toBeDefined();
      expect(window.find(3, idOf(P2, 0))).toBeUndefined();
      expect(window.stats).toMatchObject({ remembered: 1, bytes: cost(2) });
      expect(window.takeForBlock(3, 100)).toEqual([{ seq: 0, producer: '0102030405060708', n: 0, count: 2 }]);
    });

    it('takes back a stripped id at its own size, and leaves nothing of a chain forgotten from its first seq', () => {
      // Room for two ids with hashes, or one with and two stripped: the third strips the first (durable).
      const window = new FrameIdWindow({ perChain: 16, maxBytes: cost(1) * 3 - 32 }, () => 100);
      window.remember(2, idOf(P1, 0), 0, 1)!.hashed(Buffer.alloc(32), 0);
      window.remember(2, idOf(P1, 1), 1, 1)!.hashed(Buffer.alloc(32), 0);
      window.remember(2, idOf(P1, 2), 2, 1);
      expect(window.stats).toMatchObject({ remembered: 3, stripped: 1, evicted: 0, bytes: cost(1) * 3 - 32 });
      expect(window.find(2, idOf(P1, 0))?.stripped).toBe(true);
      window.forgetFrom(2, 0);
      expect(window.stats).toMatchObject({ remembered: 0, bytes: 0, evicted: 0 });
      expect([window.size, window.sizeOf(2)]).toEqual([0, 0]);
      expect(window.takeForBlock(2, 100)).toBeUndefined();
      // The window is whole: a new id is remembered and bounded as before.
      window.remember(2, idOf(P1, 3), 0, 1);
      expect(window.stats).toMatchObject({ remembered: 1, bytes: cost(1) });
    });
  });
});

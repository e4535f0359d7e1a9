// The sealer's backlog: entries copied out of rings, blocks built from them.
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { FrameReader, RingProducer, RingView, forEachRecord } from '../../src/ring/index.js';
import { hashRange } from '../../src/lanes/hash-range.js';
import { jsAddon } from '../../src/native/index.js';
import { PendingEntries, SealArena } from '../../src/sealer/pending-entries.js';
import { sha256Hex } from '../helpers/index.js';
import { blockRoot, encodeEntryBlockHeader } from '../../src/ledger/index.js';
import { decodeBlockRecord, writeBlockRecordHead } from '../../src/ledger/records.js';

const limits = { maxEntryBytes: 1 << 16, maxEntriesPerFrame: 1 << 16 };
const content = (seq: number): string => `entry ${seq} ${'x'.repeat(seq % 50)}`;

/** Pushes frames of the given seq ranges into a fresh ring, hashes them, and returns the ring. */
function ringWith(frames: [number, number][], slot = 0): RingView {
  const view = RingView.allocate(1 << 20);
  const producer = new RingProducer(view);
  const reader = new FrameReader(limits);
  const spans = new Int32Array(2 * limits.maxEntriesPerFrame);
  for (const [first, count] of frames) {
    const bytes = pack(Array.from({ length: count }, (_, i) => content(first + i)));
    expect(reader.scan(bytes, 0, bytes.length, spans)).toBe(count);
    producer.push(bytes, count, slot, first, spans);
  }
  hashRange(view, 0, view.loadHead(), jsAddon, null);
  view.storeHashed(view.loadHead());
  return view;
}

function drain(pending: PendingEntries, view: RingView): void {
  forEachRecord(view, view.loadReleased(), view.loadHashed(), (at) => expect(pending.copyRecord(view, at)).toBe(true));
}

/** Builds the block's record, writes a head as the ledger would, and reads every entry back from it. */
function expectBlock(pending: PendingEntries, arena: SealArena, firstSeq: number, endSeq: number): void {
  const count = endSeq - firstSeq;
  const { record, root } = pending.buildBlock(0, firstSeq, endSeq, arena);
  const header = encodeEntryBlockHeader({ chainId: Buffer.alloc(32), height: 0, prevHash: Buffer.alloc(32), root, firstSeq, count, sealedAt: 0 });
  writeBlockRecordHead(record, header, 0);
  const block = decodeBlockRecord(record);
  expect(block.header.count).toBe(count);
  expect(root.equals(blockRoot(block.entryHashes, count))).toBe(true);
  for (let seq = firstSeq; seq < endSeq; seq++) {
    const i = seq - firstSeq;
    const [start, end] = block.span(i);
    expect(block.contents.subarray(start, end).toString()).toBe(content(seq));
    expect(block.entryHashes.subarray(i * 32, i * 32 + 32).toString('hex')).toBe(sha256Hex(content(seq)));
  }
}

describe('pending entries', () => {
  it('builds blocks that split frames, from the seq it was told, and drops what was sealed', () => {
    const pending = new PendingEntries();
    pending.register(0, 100);
    drain(
      pending,
      ringWith([
        [100, 5],
        [105, 7],
        [112, 3],
      ]),
    );
    expect(pending.covers(0, 100, 115)).toBe(true);
    expect(pending.covers(0, 100, 116)).toBe(false);
    const arena = new SealArena();
    expectBlock(pending, arena, 100, 108);
    expectBlock(pending, arena, 108, 115);
    const before = pending.bytes;
    pending.release(0, 108);
    expect(pending.bytes).toBeLessThan(before);
    expect(pending.covers(0, 100, 108)).toBe(false);
    expectBlock(pending, arena, 108, 115);
    pending.release(0, 115);
    expect(pending.bytes).toBe(0);
  });

  it('holds frames that arrive ahead of a gap until the gap is filled (a chain that changed lane)', () => {
    const pending = new PendingEntries();
    pending.register(0, 0);
    drain(
      pending,
      ringWith([
        [10, 4],
        [14, 2],
      ]),
    );
    expect(pending.covers(0, 0, 1)).toBe(false);
    expect(pending.bytes).toBeGreaterThan(0);
    drain(
      pending,
      ringWith([
        [0, 6],
        [6, 4],
      ]),
    );
    expect(pending.covers(0, 0, 16)).toBe(true);
    expectBlock(pending, new SealArena(), 0, 16);
  });

  it('restarts an empty chain at the seq a truncation took it back to, and leaves one holding entries as it is', () => {
    const pending = new PendingEntries();
    pending.register(0, 100);
    drain(pending, ringWith([[100, 5]]));
    expect(pending.rewind(0, 90)).toBe(false);
    expectBlock(pending, new SealArena(), 100, 105);
    pending.release(0, 105);
    // Empty now: the truncation's head (seq 90) is where its entries start again; a later `register` of a lower seq would not move it.
    expect(pending.rewind(0, 90)).toBe(true);
    pending.register(0, 80);
    drain(pending, ringWith([[90, 3]]));
    expectBlock(pending, new SealArena(), 90, 93);
    expect(pending.rewind(7, 0)).toBe(true);
    expect(pending.known(7)).toBe(false);
  });

  it('refuses records of chains it was not told about, and seqs it already has', () => {
    const pending = new PendingEntries();
    const view = ringWith([[0, 3]], 7);
    forEachRecord(view, 0, view.loadHashed(), (at) => expect(pending.copyRecord(view, at)).toBe(false));
    pending.register(7, 0);
    forEachRecord(view, 0, view.loadHashed(), (at) => expect(pending.copyRecord(view, at)).toBe(true));
    forEachRecord(view, 0, view.loadHashed(), (at) => expect(() => pending.copyRecord(view, at)).toThrow(/arrived twice/));
  });

  it('keeps every byte of blocks that span segments, through many seals', () => {
    const pending = new PendingEntries();
    pending.register(0, 0);
    const arena = new SealArena();
    let next = 0;
    let sealed = 0;
    for (let round = 0; round < 40; round++) {
      const frames: [number, number][] = [];
      for (let f = 0; f < 1 + (round % 5); f++) {
        const count = 1 + ((round * 7 + f) % 300);
        frames.push([next, count]);
        next += count;
      }
      drain(pending, ringWith(frames));
      const end = sealed + Math.floor((next - sealed) * 0.6);
      if (end > sealed) {
        expectBlock(pending, arena, sealed, end);
        arena.reset();
        pending.release(0, end);
        sealed = end;
      }
    }
    expectBlock(pending, arena, sealed, next);
  });

  it('builds a block from its pieces in three segments, and from inside one', () => {
    const pending = new PendingEntries();
    pending.register(0, 0);
    // 300 entries need a 32 KiB class (64 content bytes per entry slot): one frame per segment here.
    drain(
      pending,
      ringWith([
        [0, 300],
        [300, 300],
        [600, 300],
      ]),
    );
    const arena = new SealArena();
    // Across three segments, inside one, one entry either side of a bound; then blocks that start and
    // end exactly on the segments' bounds (no piece of no entries at either end).
    for (const [first, end] of [
      [10, 890],
      [320, 580],
      [299, 301],
      [0, 300],
      [300, 900],
      [300, 301],
      [599, 600],
    ] as const) {
      expectBlock(pending, arena, first, end);
      arena.reset();
    }
  });

  it('gives durable segments back to the pool and takes them again, within its bound', () => {
    const pending = new PendingEntries();
    pending.register(0, 0);
    drain(
      pending,
      ringWith([
        [0, 300],
        [300, 300],
      ]),
    );
    expect(pending.idleBytes).toBe(0);
    pending.release(0, 450);
    // The first segment is all durable; the second still holds 150 entries.
    const idle = pending.idleBytes;
    expect(idle).toBeGreaterThan(32 * 1024);
    pending.release(0, 600);
    expect(pending.bytes).toBe(0);
    expect(pending.idleBytes).toBe(2 * idle);
    drain(pending, ringWith([[600, 300]]));
    expect(pending.idleBytes).toBe(idle);
    expectBlock(pending, new SealArena(), 600, 900);

    const unpooled = new PendingEntries({ maxIdleBytes: 0 });
    unpooled.register(0, 0);
    drain(unpooled, ringWith([[0, 300]]));
    unpooled.release(0, 300);
    expect(unpooled.idleBytes).toBe(0);
    expect(unpooled.bytes).toBe(0);
  });
});

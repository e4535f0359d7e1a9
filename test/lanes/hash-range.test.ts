// A lane's work: hash each entry where admission's walk found it, never walking the frame again.
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { FrameReader, RingProducer, RingView } from '../../src/ring/index.js';
import { hashRange } from '../../src/lanes/hash-range.js';
import { hashing, jsAddon } from '../../src/native/index.js';
import { sha256Hex } from '../helpers/index.js';

const limits = { maxEntryBytes: 1 << 16, maxEntriesPerFrame: 1 << 10 };

function pushFrames(view: RingView, frames: (string | Uint8Array)[][]): number[] {
  const producer = new RingProducer(view);
  const reader = new FrameReader(limits);
  const spans = new Int32Array(2 * limits.maxEntriesPerFrame);
  return frames.map((entries, i) => {
    const bytes = pack(entries);
    expect(reader.scan(bytes, 0, bytes.length, spans)).toBe(entries.length);
    return view.offsetOf(producer.push(bytes, entries.length, i, 100 * i, spans));
  });
}

function hashesAt(view: RingView, at: number): string[] {
  const start = view.hashesStart(at);
  return Array.from({ length: view.entryCount(at) }, (_, i) => Buffer.from(view.u8.subarray(start + 32 * i, start + 32 * (i + 1))).toString('hex'));
}

describe('hashRange', () => {
  for (const [name, hasher] of [
    ['native', hashing],
    ['js fallback', jsAddon],
  ] as const) {
    it(`${name}: hashes every entry's content (str and bin, empty and large) from the spans in the record`, () => {
      const view = RingView.allocate(1 << 16);
      const big = new Uint8Array(4464).fill(9);
      const frames: (string | Uint8Array)[][] = [['a', '', 'ünïcode'], [Uint8Array.of(1, 2, 3), big], ['x'.repeat(300)]];
      const records = pushFrames(view, frames);
      const visited: [number, number, number][] = [];
      const hashed = hashRange(view, 0, view.loadHead(), hasher, (slot, entries, bytes) => visited.push([slot, entries, bytes]));
      expect(hashed).toBe(6);
      records.forEach((at, i) => expect(hashesAt(view, at)).toEqual(frames[i]!.map((e) => sha256Hex(typeof e === 'string' ? Buffer.from(e, 'utf8') : e))));
      expect(visited.map(([slot, entries]) => [slot, entries])).toEqual([
        [0, 3],
        [1, 2],
        [2, 1],
      ]);
    });
  }

  it('fails loudly when a span no longer lies inside its own frame (ring memory overwritten)', () => {
    const view = RingView.allocate(1 << 12);
    const [first, second] = pushFrames(view, [['abc', 'def'], ['ghi']]);
    const spans = view.spansStart(second!) >>> 2;
    const saved = view.i32[spans]!;
    // Pointing into the frame before it: the bytes exist, but they are another frame's.
    view.i32[spans] = view.frameStart(first!);
    expect(() => hashRange(view, 0, view.loadHead(), hashing, null)).toThrow(/sha256Spans: span 0 \[\d+, \+3\) is not in order inside/);
    view.i32[spans] = saved;
    view.i32[spans + 1] = 1000;
    expect(() => hashRange(view, 0, view.loadHead(), hashing, null)).toThrow(/sha256Spans: span 0 \[\d+, \+1000\) is not in order inside/);
  });
});

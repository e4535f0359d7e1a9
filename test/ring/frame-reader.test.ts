import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { FrameReader } from '../../src/ring/index.js';

const limits = { maxEntryBytes: 1000, maxEntriesPerFrame: 100 };

function scan(bytes: Uint8Array, spans: Int32Array | null = null): { count: number; reader: FrameReader } {
  const reader = new FrameReader(limits);
  return { count: reader.scan(bytes, 0, bytes.length, spans), reader };
}

describe('frame reader', () => {
  it('finds every entry of every bin and str width, and writes their spans', () => {
    const entries = [Buffer.alloc(0), Buffer.alloc(300, 1), 'a', 'b'.repeat(40), 'c'.repeat(300), Buffer.alloc(20, 2)];
    const bytes = pack(entries);
    const spans = new Int32Array(entries.length * 2);
    const { count } = scan(bytes, spans);
    expect(count).toBe(entries.length);
    entries.forEach((e, i) => {
      const content = Buffer.from(bytes.subarray(spans[2 * i]!, spans[2 * i]! + spans[2 * i + 1]!));
      expect(content.equals(Buffer.from(e))).toBe(true);
    });
  });

  it('reads array16 and array32 headers', () => {
    const many = Array.from({ length: 20 }, (_, i) => `e${i}`);
    expect(scan(pack(many)).count).toBe(20);
    const array32 = Buffer.concat([Buffer.from([0xdd, 0, 0, 0, 2]), pack('x').subarray(0), pack('y')]);
    expect(scan(array32).count).toBe(2);
  });

  it.each([
    [Buffer.alloc(0), 'bad_frame', /empty frame/],
    [pack(5), 'bad_frame', /integer, expected an array/],
    [pack(null), 'bad_frame', /nil/],
    [pack(['ok', 1.5]), 'bad_frame', /entry 1 is a msgpack float/],
    [pack(['ok', true]), 'bad_frame', /entry 1 is a msgpack boolean/],
    [pack([['nested']]), 'bad_frame', /entry 0 is a msgpack array/],
    [Buffer.from([0x92, 0xa1, 0x61]), 'bad_frame', /ends inside entry 1/],
    [Buffer.from([0x91, 0xc5, 0x01]), 'bad_frame', /ends inside entry 0/],
    [Buffer.from([0xdc, 0x00]), 'bad_frame', /truncated/],
    [Buffer.from([0x91, 0xa1, 0x61, 0x00]), 'bad_frame', /1 bytes after the last/],
    [pack([Buffer.alloc(1001)]), 'too_large', /entry 0 has 1001 bytes/],
    [pack(Array.from({ length: 101 }, () => 'x')), 'too_large', /101 entries/],
  ])('rejects %# with %s', (bytes, code, message) => {
    const { count, reader } = scan(bytes);
    expect(count).toBe(-1);
    expect(reader.code).toBe(code);
    expect(reader.message).toMatch(message);
  });
});

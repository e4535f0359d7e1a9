// The hand-written `accepted` reply: exactly the msgpack map protocol.md §4.4 describes, at every size of its numbers.
import { describe, expect, it } from 'vitest';
import { Unpackr } from 'msgpackr';
import { encodeAccepted } from '../../src/frontdoor/replies.js';

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

describe('encodeAccepted', () => {
  // Each number at the edges of msgpack's integer forms; hash counts at the edges of bin8/16/32.
  const numbers = [0, 0x7f, 0x80, 0xffff, 0x1_0000, 0xffff_ffff, 2 ** 32, 2 ** 53 - 1];
  const counts = [1, 7, 8, 9, 2047, 2048];

  it('decodes as {type, frame, seq, count, hashes}, copied from shared memory at an offset, with no byte to spare', () => {
    const ring = new Uint8Array(new SharedArrayBuffer(3000 * 32));
    for (let i = 0; i < ring.length; i++) ring[i] = (i * 31 + 7) & 0xff;
    for (const count of counts) {
      for (const n of numbers) {
        const at = 5 + (n % 13);
        const reply = encodeAccepted(n, numbers[(numbers.indexOf(n) + 3) % numbers.length]!, count, ring, at);
        // One map and nothing after it: the reply is exactly as long as what it holds.
        const values = unpackr.unpackMultiple(reply) as { type: string; frame: number; seq: number; count: number; hashes: Uint8Array }[];
        expect(values).toHaveLength(1);
        const decoded = values[0]!;
        expect(decoded.type).toBe('accepted');
        expect(decoded.frame).toBe(n);
        expect(decoded.seq).toBe(numbers[(numbers.indexOf(n) + 3) % numbers.length]);
        expect(decoded.count).toBe(count);
        expect(Buffer.from(decoded.hashes).equals(Buffer.from(ring.subarray(at, at + count * 32)))).toBe(true);
      }
    }
  });
});

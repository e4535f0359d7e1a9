// The disk's own limit the bench reports committed bytes against (bench/disk.ts).
import { describe, expect, it } from 'vitest';
import { committedBytesPerSec, measureDisk } from '../../bench/disk.js';
import { DEFAULT_CONFIG } from '../../src/config/index.js';

describe('disk limit', () => {
  it('counts an entry as its content plus its hash and content end', () => {
    expect(committedBytesPerSec(1000, 200)).toBe(1000 * (200 + 32 + 4));
  });

  it('writes seals of one block interval of the given rate, each synced, and reports a rate', () => {
    const rate = 2_000_000;
    const limit = measureDisk(rate, 3);
    expect(limit.sealBytes).toBe(Math.round((rate * DEFAULT_CONFIG.ledger.blockIntervalMs) / 1000));
    expect(limit.seals).toBe(3);
    expect(limit.bytesPerSec).toBeGreaterThan(0);
    expect(Number.isFinite(limit.bytesPerSec)).toBe(true);
  });
});

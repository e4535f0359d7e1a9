// The disk's own limit for what the gateway commits: a sequential write of one
// seal's bytes followed by fdatasync, repeated, in the folder the targets keep
// their stores in (os.tmpdir()). The committed rate of a gateway is then
// reported as a fraction of it (issue #10): near 1 the disk binds, far below
// it the CPU does.
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../src/config/index.js';
import { HASH_BYTES } from '../src/protocol/index.js';

/** What a block record holds per entry besides the content: its hash and its content end (u32). */
const RECORD_BYTES_PER_ENTRY = HASH_BYTES + 4;

export interface DiskLimit {
  /** Bytes written per seal: one block interval of the committed rate. */
  sealBytes: number;
  seals: number;
  /** Sequential write + fdatasync, bytes per second of wall time. */
  bytesPerSec: number;
}

/** Bytes a gateway writes per second for `committedPerSec` entries of `entrySize` bytes (record bodies only). */
export function committedBytesPerSec(committedPerSec: number, entrySize: number): number {
  return committedPerSec * (entrySize + RECORD_BYTES_PER_ENTRY);
}

/** Writes `seals` seals of the size the gateway wrote at `bytesPerSec`, each followed by fdatasync. */
export function measureDisk(bytesPerSec: number, seals = 10): DiskLimit {
  const sealBytes = Math.max(4096, Math.round((bytesPerSec * DEFAULT_CONFIG.ledger.blockIntervalMs) / 1000));
  const dir = mkdtempSync(join(tmpdir(), 'chainlanes-bench-disk-'));
  const fd = openSync(join(dir, 'segment'), 'a');
  const bytes = randomFillSync(Buffer.allocUnsafe(sealBytes));
  try {
    const start = process.hrtime.bigint();
    for (let i = 0; i < seals; i++) {
      for (let at = 0; at < sealBytes;) at += writeSync(fd, bytes, at, sealBytes - at);
      fdatasyncSync(fd);
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { sealBytes, seals, bytesPerSec: (sealBytes * seals) / seconds };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

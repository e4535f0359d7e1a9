import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SealBlockInput } from '../../src/ledger/index.js';

/** Entry `seq` of `chainName`: distinct, every fifth one empty (zero-length content is legal). */
export function entryContent(chainName: string, seq: number): Buffer {
  if (seq % 5 === 4) return Buffer.alloc(0);
  return Buffer.from(`${chainName}#${seq}:${'x'.repeat(seq % 23)}`, 'utf8');
}

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** What a lane hands the sealer for `count` entries of `chainName` from `firstSeq`. */
export function makeBlock(chainName: string, firstSeq: number, count: number, content = entryContent): SealBlockInput {
  const parts = Array.from({ length: count }, (_, i) => content(chainName, firstSeq + i));
  const contentEnds = new Uint32Array(count);
  let end = 0;
  parts.forEach((part, i) => {
    end += part.length;
    contentEnds[i] = end;
  });
  return {
    chainName,
    firstSeq,
    count,
    entryHashes: Buffer.concat(parts.map(sha256)),
    contents: Buffer.concat(parts),
    contentEnds,
  };
}

export async function withTempDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'chainlanes-ledger-'));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Flips bits of one byte in place. */
export function flipByte(bytes: Uint8Array, at: number, mask = 0x01): void {
  if (at < 0 || at >= bytes.length) throw new RangeError(`flipByte: ${at} outside ${bytes.length} bytes`);
  bytes.set([(bytes[at] ?? 0) ^ mask], at);
}

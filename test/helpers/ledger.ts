// Blocks as a lane hands them to the sealer. No vitest import: the ledger's
// thread and process fixtures (test/ledger/fixtures/, built into dist/) import
// this file directly rather than through index.ts.
import { open } from 'lmdb';
import type { SealBlockInput } from '../../src/ledger/index.js';
import { chainIdOf } from '../../src/ledger/headers.js';
import { chainKey } from '../../src/ledger/records.js';
import { sha256 } from './hash.js';

/** Entry `seq` of `chainName`: distinct, every fifth one empty (zero-length content is legal). */
export function entryContent(chainName: string, seq: number): Buffer {
  if (seq % 5 === 4) return Buffer.alloc(0);
  return Buffer.from(`${chainName}#${seq}:${'x'.repeat(seq % 23)}`, 'utf8');
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
    entryHashes: Buffer.concat(parts.map((part) => sha256(part))),
    contents: Buffer.concat(parts),
    contentEnds,
  };
}

/** Rewrites one stored block record through a raw lmdb handle on the same directory, as an attacker or a bad disk would. */
export async function corruptBlock(dir: string, chainName: string, height: number, change: (record: Buffer) => void): Promise<void> {
  const root = open(dir, { noSubdir: false, maxDbs: 32 });
  const blocks = root.openDB<Buffer, Buffer>('ledger.blocks', { keyEncoding: 'binary', encoding: 'binary' });
  const key = chainKey(chainIdOf(chainName), height);
  const record = Buffer.from(blocks.get(key) ?? Buffer.alloc(0));
  change(record);
  blocks.putSync(key, record);
  await root.close();
}

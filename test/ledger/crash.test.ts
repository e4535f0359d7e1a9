import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { verifyEntry } from '../../src/client/verify.js';
import { Ledger, verifyStore } from '../../src/ledger/index.js';
import { workerFile } from '../../src/paths.js';
import { linesThenKill, tempDir } from '../helpers/index.js';

// A process rather than a thread (kill -9 takes a whole process), built the same way as thread fixtures.
const SEALER = fileURLToPath(workerFile(import.meta.url, 'fixtures/crash-sealer'));

/** Runs the sealer until it reported `atLeast` seals, then kill -9; returns the last height it reported. */
async function sealThenKill(dir: string, atLeast: number): Promise<number> {
  const lines = await linesThenKill(SEALER, [dir], atLeast);
  return Number(lines.at(-1)?.split(' ')[1] ?? -1);
}

describe('kill -9 while sealing', () => {
  it('keeps every seal that was reported durable, and the store stays whole', async () => {
    const dir = tempDir('chainlanes-ledger-');
    const firstRun = await sealThenKill(dir, 20);
    const secondRun = await sealThenKill(dir, 20);
    expect(secondRun).toBeGreaterThan(firstRun);

    expect((await verifyStore(dir)).ok).toBe(true);
    const ledger = await Ledger.open(dir, { readOnly: true });
    const heads = ledger.heads();
    expect(heads.directory.nextHeight).toBeGreaterThan(secondRun);
    for (const chain of heads.chains) {
      expect(chain.nextSeq).toBe(chain.nextHeight * 50);
      const lastProof = ledger.entryProof(chain.chainName, secondRun * 50 + 49);
      expect(lastProof && verifyEntry(lastProof, { chain: chain.chainName })).toEqual({ ok: true });
    }
    await ledger.close();
  });
});

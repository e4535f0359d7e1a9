import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { verifyEntry } from '../../src/client/verify.js';
import { Ledger, verifyStore } from '../../src/ledger/index.js';
import { workerFile } from '../../src/paths.js';
import type { SealedMessage, SealingThreadData } from './fixtures/sealing-thread.js';
import { registerCleanup, tempDir } from '../helpers/index.js';

const CHAINS = ['bank-1', 'bank-2', 'shop-9'];
const INTERVALS = 12;
const PER_BLOCK = 40;

describe('a sealer worker_thread and a reading main thread', () => {
  it('share one data directory: every committed entry is readable and verifies at once', async () => {
    const dir = tempDir('chainlanes-ledger-');
    // The main thread opens first, as the gateway's HTTP side would: if that
    // made the environment read-only, the worker's seals would fail.
    const reader = await Ledger.open(dir, { readOnly: true });
    await expect(reader.seal({ blocks: [], sealedAt: 0 })).rejects.toThrow(/read-only/);

    let idleReads = 0;
    const poll = setInterval(() => {
      reader.chains();
      reader.anchors(0, 5);
      idleReads++;
    }, 1);
    const sealed: SealedMessage[] = [];
    const checked: string[] = [];
    try {
      await runSealer({ dir, chains: CHAINS, intervals: INTERVALS, perBlock: PER_BLOCK }, (message) => {
        sealed.push(message);
        // Straight from the "committed" notice, with no await: the commit must already be visible.
        for (const block of message.blocks) {
          for (let seq = block.firstSeq; seq < block.firstSeq + block.count; seq++) {
            const proof = reader.entryProof(block.chainName, seq);
            if (proof === null) throw new Error(`${block.chainName} ${seq}: not readable after commit`);
            const result = verifyEntry(proof, { chain: block.chainName, seq });
            if (!result.ok) throw new Error(`${block.chainName} ${seq}: ${result.reason}`);
            if (proof.blockHash !== block.hash) throw new Error(`${block.chainName} ${seq}: block hash differs`);
          }
          checked.push(`${block.chainName}@${block.height}`);
        }
      });
    } finally {
      clearInterval(poll);
    }

    expect(sealed.map((m) => m.directory)).toEqual(Array.from({ length: INTERVALS }, (_, i) => i));
    expect(checked.length).toBe(CHAINS.length * INTERVALS);
    expect(idleReads).toBeGreaterThan(0);
    const heads = reader.heads();
    expect(heads.directory.nextHeight).toBe(INTERVALS);
    expect(heads.chains.map((h) => [h.chainName, h.nextHeight, h.nextSeq]).sort()).toEqual(CHAINS.map((c) => [c, INTERVALS, INTERVALS * PER_BLOCK]));
    expect(reader.anchors(0, 1000).length).toBe(INTERVALS);
    await reader.close();
    expect(await verifyStore(dir)).toEqual({
      ok: true,
      chains: 3,
      blocks: CHAINS.length * INTERVALS,
      entries: CHAINS.length * INTERVALS * PER_BLOCK,
      directories: INTERVALS,
      log: { logged: INTERVALS, heads: 0 },
    });
  });
});

function runSealer(data: SealingThreadData, onSealed: (message: SealedMessage) => void): Promise<void> {
  const worker = new Worker(workerFile(import.meta.url, 'fixtures/sealing-thread'), { workerData: data });
  registerCleanup('sealer worker', () => worker.terminate());
  return new Promise((resolve, reject) => {
    let failed = false;
    const fail = (error: unknown): void => {
      failed = true;
      reject(error instanceof Error ? error : new Error(String(error)));
      void worker.terminate();
    };
    worker.on('message', (message: SealedMessage | { type: 'done' }) => {
      if (failed) return;
      if (message.type === 'done') return resolve();
      try {
        onSealed(message);
      } catch (error) {
        fail(error);
      }
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!failed && code !== 0) fail(new Error(`sealer worker exited with ${code}`));
    });
  });
}

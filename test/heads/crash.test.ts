// kill -9 while sealing with signed heads: a head is signed inside its seal's
// transaction, so whatever instant the process dies at, the store holds a head
// exactly for the seals it holds, and every head reported before the kill is
// consistent with every head signed after the restart.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { verifyConsistency, verifyHead, type SignedHead } from '../../src/client/index.js';
import { HeadSignatureCheck } from '../../src/heads/index.js';
import { Ledger, verifyStore } from '../../src/ledger/index.js';
import { workerFile } from '../../src/paths.js';
import { linesThenKill, prng, tempDir } from '../helpers/index.js';

const SEALER = fileURLToPath(workerFile(import.meta.url, 'fixtures/signing-sealer'));

/** Runs the signing sealer until it reported `atLeast` heads, then kill -9 (wherever its next seal is by then); the heads it reported durable. */
async function sealThenKill(dir: string, atLeast: number): Promise<SignedHead[]> {
  return (await linesThenKill(SEALER, [dir], atLeast)).map((line) => {
    const [, size, time, root, signature] = line.split(' ');
    return { size: Number(size), time: Number(time), root: root!, signature: signature! };
  });
}

describe('kill -9 between seals and heads', () => {
  it('never leaves a head that is not consistent with the next', async () => {
    const dir = tempDir('chainlanes-heads-crash-');
    const random = prng(6962);
    const reported: SignedHead[] = [];
    for (let cycle = 0; cycle < 4; cycle++) {
      reported.push(...(await sealThenKill(dir, 5 + Math.floor(random() * 20))));
      // The store after the kill: every head in it signed by its key and with the log's root at its size.
      const check = new HeadSignatureCheck();
      const report = await verifyStore(dir, { checks: [check] });
      expect(report).toMatchObject({ ok: true });
      expect(report.log!.heads).toBe(report.directories);
      expect(report.log!.logged).toBe(report.directories);
      expect(check.summary()).toMatch(new RegExp(`signed heads: ${report.directories}, each signed by the store's key`));
      const ledger = await Ledger.open(dir, { readOnly: true });
      try {
        const latest = ledger.signedHead()!;
        // Each head reported durable before a kill is a prefix of the store's latest head, by the store's own proof.
        for (const head of reported) {
          expect(head.size).toBeLessThanOrEqual(latest.size);
          const proof = ledger.logConsistency(head.size, latest.size);
          expect(verifyConsistency(head, latest, proof.path), `${head.size} → ${latest.size}`).toEqual({ ok: true });
        }
      } finally {
        await ledger.close();
      }
    }
    // Across four kills, sizes only grew, one seal at a time, and each reported head is signed.
    expect(reported.length).toBeGreaterThanOrEqual(20);
    const ledger = await Ledger.open(dir, { readOnly: true });
    const publicKey = ledger.environment
      .openDB<Buffer, Buffer>('heads.keys', { keyEncoding: 'binary', encoding: 'binary' })
      .get(Buffer.from('public'))!
      .toString('hex');
    await ledger.close();
    for (const head of reported) expect(verifyHead(head, publicKey)).toEqual({ ok: true });
    for (let i = 1; i < reported.length; i++) expect(reported[i]!.size).toBeGreaterThan(reported[i - 1]!.size);
  });
});

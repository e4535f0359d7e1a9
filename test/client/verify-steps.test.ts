// verifyEntrySteps with WebCrypto's SHA-256 (as the dashboard runs it), against
// a real gateway's proof: the same answer as verifyEntry, each step reported.
import { describe, expect, it } from 'vitest';
import { StreamClient, startGateway } from '../helpers/index.js';
import { verifyEntry, verifyEntrySteps, type EntryProof, type VerifyStep } from '../../src/client/index.js';

const webCrypto = async (data: Uint8Array): Promise<Uint8Array> => new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', data));

describe('verifyEntrySteps', () => {
  it('walks a real proof from the content to the directory hash with WebCrypto, and stops at the first broken step', async () => {
    const gw = await startGateway({ config: { ledger: { blockIntervalMs: 50 } } });
    const c = await StreamClient.open(gw.port, 'steps');
    c.send(['a', 'b', 'c']);
    await c.waitCommitted((cs) => cs.length > 0);
    const proof = (await (await gw.http('/v1/chains/steps/entries/2')).json()) as EntryProof;
    const steps: VerifyStep[] = [];
    expect(await verifyEntrySteps(proof, webCrypto, (s) => steps.push(s), { chain: 'steps', seq: 2 })).toEqual({ ok: true });
    expect(steps.map((s) => s.value)).toEqual([proof.hash, proof.chainId, proof.root, proof.blockHash, proof.directory!.root, proof.directory!.hash]);
    expect(verifyEntry(proof)).toEqual({ ok: true });

    const tampered = structuredClone(proof);
    tampered.path[0] = tampered.path[0]!.replace(/^./, (ch) => (ch === '0' ? '1' : '0'));
    const after: VerifyStep[] = [];
    const result = await verifyEntrySteps(tampered, webCrypto, (s) => after.push(s));
    expect(result).toEqual({ ok: false, reason: 'audit path does not reproduce the block root' });
    expect(after).toHaveLength(2);
    expect(verifyEntry(tampered)).toEqual(result);
    c.close();
  });
});

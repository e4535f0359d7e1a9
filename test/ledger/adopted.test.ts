// Blocks adopted from another gateway (a fleet's handoff): stored with their
// original record bytes and the directory proof the sealing gateway made,
// served with that proof naming the gateway, continued by local seals, and
// checked by `verify` across the boundary. Tampering of any kind is refused
// before anything is stored.
import { describe, expect, it } from 'vitest';
import { verifyEntry, type EntryProof } from '../../src/client/verify.js';
import { AdoptionError, Ledger, probeStore, verifyStore, type ExportedBlock } from '../../src/ledger/index.js';
import { makeBlock, tempDir } from '../helpers/index.js';

const T0 = 1_700_000_000_000;
const A = { id: 'gw-a', key: 'aa'.repeat(32) };
const B = { id: 'gw-b', key: 'bb'.repeat(32) };

async function ledgerWith(seals: [string, number, number][][]): Promise<{ dir: string; ledger: Ledger }> {
  const dir = tempDir('chainlanes-adopt-');
  const ledger = await Ledger.open(dir);
  let at = T0;
  for (const seal of seals) await ledger.seal({ blocks: seal.map(([chain, first, count]) => makeBlock(chain, first, count)), sealedAt: (at += 1000) });
  return { dir, ledger };
}

function all(ledger: Ledger, chain: string, from: number, self: typeof A): ExportedBlock[] {
  const out: ExportedBlock[] = [];
  let next: number | null = from;
  while (next !== null) {
    const page = ledger.exportBlocks(chain, next, 64, self); // tiny pages: one block each
    out.push(...page.blocks);
    next = page.next;
  }
  return out;
}

describe('adopted blocks', () => {
  it("pass the gateway's start-up check as a chain's last blocks (a restart right after a handoff or on a standby)", async () => {
    const a = await ledgerWith([[['bank', 0, 5]], [['bank', 5, 3]]]);
    const b = await ledgerWith([[['local', 0, 2]]]);
    await b.ledger.adopt('bank', all(a.ledger, 'bank', 0, A));
    await b.ledger.close();
    await expect(probeStore(b.dir)).resolves.toBeUndefined();
    await a.ledger.close();
  });

  it("are stored with their sealing gateway's directory proofs, served naming it, continued locally, and verify", async () => {
    const a = await ledgerWith([
      [
        ['bank', 0, 5],
        ['other', 0, 2],
      ],
      [['bank', 5, 3]],
      [
        ['bank', 8, 4],
        ['other', 2, 1],
      ],
    ]);
    const b = await ledgerWith([[['local', 0, 2]]]);
    const exported = all(a.ledger, 'bank', 0, A);
    expect(exported).toHaveLength(3);
    const head = await b.ledger.adopt('bank', exported);
    expect(head).toMatchObject({ nextHeight: 3, nextSeq: 12 });
    expect(head.lastBlockHash.toString('hex')).toBe(a.ledger.chain('bank')!.lastBlockHash);
    // Served from B with A's directory proof, naming A: it verifies as it did on A.
    for (const seq of [0, 6, 11]) {
      const proof = b.ledger.entryProof('bank', seq) as EntryProof;
      expect(proof.directory?.gateway).toEqual(A);
      expect(proof.directory?.hash).toBe((a.ledger.entryProof('bank', seq) as EntryProof).directory?.hash);
      expect(verifyEntry(proof)).toEqual({ ok: true });
    }
    expect(b.ledger.block('bank', 1)).toMatchObject({ directory: 1, gateway: A });
    // B continues the chain in its own directory.
    const sealed = await b.ledger.seal({ blocks: [makeBlock('bank', 12, 2)], sealedAt: T0 + 10_000 });
    expect(sealed.blocks[0]).toMatchObject({ height: 3, firstSeq: 12 });
    expect(b.ledger.block('bank', 3)?.prevHash).toBe(head.lastBlockHash.toString('hex'));
    expect(verifyEntry(b.ledger.entryProof('bank', 13) as EntryProof)).toEqual({ ok: true });
    await b.ledger.close();
    const report = await verifyStore(b.dir);
    expect(report).toMatchObject({ ok: true, chains: 2, blocks: 5, adopted: 3, entries: 16 });
    // A restart resumes where the adopted blocks and the local one left the chain.
    const reopened = await Ledger.open(b.dir);
    expect(reopened.heads().chains.find((c) => c.chainName === 'bank')).toMatchObject({ nextHeight: 4, nextSeq: 14 });
    await reopened.close();
    await a.ledger.close();
  });

  it('come back to their first gateway: A → B → A, the walk crosses local, adopted, local', async () => {
    const a = await ledgerWith([[['ping', 0, 4]], [['ping', 4, 2]]]);
    const b = await Ledger.open(tempDir('chainlanes-adopt-'));
    await b.adopt('ping', all(a.ledger, 'ping', 0, A));
    await b.seal({ blocks: [makeBlock('ping', 6, 3)], sealedAt: T0 + 5000 });
    await b.seal({ blocks: [makeBlock('ping', 9, 1)], sealedAt: T0 + 6000 });
    // Back to A, which holds heights 0–1 already: it takes 2 and 3, whose proofs name B.
    const back = all(b, 'ping', 2, B);
    expect(back.map((x) => x.proof.gateway.id)).toEqual(['gw-b', 'gw-b']);
    await a.ledger.adopt('ping', back);
    await a.ledger.seal({ blocks: [makeBlock('ping', 10, 2)], sealedAt: T0 + 9000 });
    for (const seq of [1, 7, 11]) expect(verifyEntry(a.ledger.entryProof('ping', seq) as EntryProof)).toEqual({ ok: true });
    expect((a.ledger.entryProof('ping', 7) as EntryProof).directory?.gateway).toEqual(B);
    expect((a.ledger.entryProof('ping', 11) as EntryProof).directory?.gateway).toBeUndefined();
    await a.ledger.close();
    await b.close();
    expect(await verifyStore(a.dir)).toMatchObject({ ok: true, blocks: 5, adopted: 2, entries: 12 });
  });

  it('refuse a block that does not link, a changed entry, a forged directory proof, and store nothing of the batch', async () => {
    const a = await ledgerWith([[['bank', 0, 5]], [['bank', 5, 3]]]);
    const exported = all(a.ledger, 'bank', 0, A);
    const b = await Ledger.open(tempDir('chainlanes-adopt-'));
    const refused = async (blocks: ExportedBlock[], why: RegExp): Promise<void> => {
      await expect(b.adopt('bank', blocks)).rejects.toThrow(AdoptionError);
      await expect(b.adopt('bank', blocks)).rejects.toThrow(why);
      expect(b.chain('bank')).toBeNull();
    };
    await refused([exported[1]!], /block 0: its header says height 1/);
    await refused([exported[0]!, exported[0]!], /block 1: its header says height 0/);
    const changed = Buffer.from(exported[1]!.record);
    changed[changed.length - 1]! ^= 1; // the last content byte
    await refused([exported[0]!, { ...exported[1]!, record: changed }], /block 1: seq 7: its entry hash is not SHA-256 of its content/);
    const path = [...exported[1]!.proof.directory.path];
    const forged = {
      ...exported[1]!,
      proof: { ...exported[1]!.proof, directory: { ...exported[1]!.proof.directory, index: 0, count: 2, path: ['00'.repeat(32)] } },
    };
    await refused([exported[0]!, forged], /block 1: directory proof: height, root or count differ from its header/);
    const other = { ...exported[1]!, proof: { ...exported[1]!.proof, directory: { ...exported[0]!.proof.directory, path } } };
    await refused([exported[0]!, other], /block 1: directory proof: its path does not place the block under the directory root/);
    await b.adopt('bank', exported);
    await expect(b.adopt('bank', exported)).rejects.toThrow(/block 2: its header says height 0/);
    await b.close();
    await a.ledger.close();
  });
});

// The sealer's `replicate` command (Sealer.replicateSeals → Ledger.replicateSeals
// on the sealer thread): a standby that runs a real front door (lanes, sealer)
// stores an owner's shipped seals in order with its own seals, both chains'
// reads and proofs work from its front door's store, a refused first seal
// comes back as a ReplicaError with nothing stored, and a seal refused after
// another in a batch handed over comes back beside the height of those before
// it, while the standby goes on sealing.
// And client frame ids end to end between two real front doors: admitted on
// the owner, written by its sealer with their blocks, shipped with the seals,
// stored by the standby's sealer, and a window rebuilt from the standby's
// store (as a takeover will) answers them with the owner's hashes.
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { FRAME_ID_ROW_BYTES, Ledger, LedgerReaders, ReplicaError, type ShippedSeal } from '../../src/ledger/index.js';
import { FrameIdWindow } from '../../src/frontdoor/index.js';
import { DIRECTORY_HEADER, encodeFrameId } from '../../src/protocol/index.js';
import { admitted, RecordingOwner, startFrontDoor } from '../helpers/front-door.js';
import { makeBlock, tempDir } from '../helpers/index.js';

const OWNER = { id: 'gw-owner', key: 'ab'.repeat(32) };

/** A copy of `seal` in memory of its own, as the stream gives it (Sealer.replicateSeals' `handOver` takes it away). */
function own(seal: ShippedSeal): ShippedSeal {
  return {
    ...seal,
    directory: new Uint8Array(seal.directory),
    head: seal.head === null ? null : new Uint8Array(seal.head),
    frameIds: new Uint8Array(seal.frameIds),
    blocks: seal.blocks.map((b) => ({ chain: b.chain, record: new Uint8Array(b.record) })),
  };
}

/** `seal` with its directory's link to the one before it broken. */
function unlinked(seal: ShippedSeal): ShippedSeal {
  const directory = Buffer.from(seal.directory);
  const prevHashAt = 1 + DIRECTORY_HEADER.prevHash; // a version byte, then the header
  directory[prevHashAt] = directory[prevHashAt]! ^ 1;
  return { ...seal, directory };
}

describe('Sealer.replicateSeals', () => {
  it('stores shipped seals between its own seals, refuses a tampered one with nothing stored, and stores a batch up to a tampered one', async () => {
    const owner = await Ledger.open(tempDir('chainlanes-replicate-owner-'));
    let at = 1_700_000_000_000;
    await owner.seal({ blocks: [makeBlock('shipped', 0, 4), makeBlock('other', 0, 2)], sealedAt: (at += 1000) });
    await owner.seal({ blocks: [makeBlock('shipped', 4, 3)], sealedAt: (at += 1000) });
    await owner.seal({ blocks: [makeBlock('other', 2, 5)], sealedAt: (at += 1000) });
    const seals = [0, 1, 2].map((h) => owner.shippedSeal(h)!);

    const door = await startFrontDoor();
    const writer = new RecordingOwner();
    admitted(door.admission.admit('local', pack(['l0', 'l1']), writer, 0));
    const first = door.sealer.replicateSeals(OWNER, [seals[0]!]);
    await door.sealAll();
    expect(await first).toEqual({ acked: 0 });

    const refusal = await door.sealer.replicateSeals(OWNER, [unlinked(seals[1]!)]).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ReplicaError);
    expect((refusal as Error).message).toMatch(/^seal of gateway "gw-owner" at directory 1: its directory header does not link/);
    expect(door.ledger.replicaPosition(OWNER.id).acked).toBe(0);
    expect(door.ledger.chain('shipped')).toMatchObject({ nextSeq: 4 });

    admitted(door.admission.admit('local', pack(['l2']), writer, 1));
    const batch = [own(seals[1]!), unlinked(own(seals[2]!))];
    const rest = door.sealer.replicateSeals(OWNER, batch, true);
    await door.sealAll();
    const stored = await rest;
    expect(stored.acked).toBe(1);
    expect(stored.refused).toBeInstanceOf(ReplicaError);
    expect(stored.refused?.message).toMatch(/^seal of gateway "gw-owner" at directory 2: its directory header does not link/);
    // Handed over: the thread took the memory, the caller's views of it are empty.
    expect(batch.map((seal) => seal.blocks[0]!.record.byteLength)).toEqual([0, 0]);
    expect(await door.sealer.replicateSeals(OWNER, [seals[2]!])).toEqual({ acked: 2 });

    // The standby's own chain went on being sealed in its own directory; the owner's are read as the owner serves them.
    expect(door.ledger.chain('local')).toMatchObject({ nextSeq: 3 });
    expect(door.ledger.replicaPosition(OWNER.id)).toMatchObject({ acked: 2, nextHeight: 3 });
    for (const [chain, entries] of [
      ['shipped', 7],
      ['other', 7],
    ] as const) {
      expect(door.ledger.chain(chain)).toEqual(owner.chain(chain));
      for (let seq = 0; seq < entries; seq++) {
        const { directory, ...proof } = door.ledger.entryProof(chain, seq)!;
        const { directory: ownerDirectory, ...ownerProof } = owner.entryProof(chain, seq)!;
        expect(proof).toEqual(ownerProof);
        expect(directory).toEqual({ ...ownerDirectory, gateway: OWNER });
      }
    }
    await owner.close();
  });
});

describe('client frame ids through a real owner and standby', () => {
  it('go from admission to the owner’s seals, are shipped with them, and rebuild the window on the standby', async () => {
    const P = Uint8Array.from([0xc1, 0x1e, 0x47, 0, 0, 0, 0, 9]);
    const owner = await startFrontDoor({ limits: { maxBlockEntries: 4 } });
    const writer = new RecordingOwner();
    const frames = [
      [0, ['a0', 'a1', 'a2']],
      [1, ['b0', 'b1', 'b2', 'b3', 'b4', 'b5']],
      [2, ['c0']],
    ] as const;
    frames.forEach(([n, entries], f) => admitted(owner.admission.admit('ided', Buffer.concat([encodeFrameId(P, n), pack(entries)]), writer, f)));
    admitted(owner.admission.admit('ided', pack(['plain']), writer, 3));
    await owner.sealAll();
    expect(writer.accepted.map((a) => [a.seq, a.count])).toEqual([
      [0, 3],
      [3, 6],
      [9, 1],
      [10, 1],
    ]);

    // Shipped as a shipper reads them: by the owner's reader threads.
    const readers = new LedgerReaders(owner.dataDir, 1);
    const seals: ShippedSeal[] = [];
    try {
      for (let height = 0; ; height++) {
        const { seal } = await readers.seal(height);
        if (seal === null) break;
        seals.push(seal);
      }
    } finally {
      await readers.close();
    }
    expect(seals.reduce((ids, seal) => ids + seal.frameIds.length / FRAME_ID_ROW_BYTES, 0)).toBe(3);

    const standby = await startFrontDoor();
    for (const seal of seals) await standby.sealer.replicateSeals(OWNER, [seal]);
    expect(standby.ledger.recentFrameIds('ided', 10, 1 << 20)).toEqual(owner.ledger.recentFrameIds('ided', 10, 1 << 20));

    // A takeover's window: rebuilt from the standby's store, it knows each id with the hashes its first accepted gave.
    const window = new FrameIdWindow({ perChain: 10, maxBytes: 1 << 20 });
    window.restoreChains([{ slot: 0, name: 'ided' }], (name, limit, maxBytes) => standby.ledger.recentFrameIds(name, limit, maxBytes));
    frames.forEach(([n], f) => {
      const found = window.find(0, { producer: 'c11e470000000009', n })!;
      expect([found.seq, found.count]).toEqual([writer.accepted[f]!.seq, writer.accepted[f]!.count]);
      expect(hexHashes(found.hashes!)).toEqual(writer.accepted[f]!.hashes);
    });
  });
});

function hexHashes(bytes: Buffer): string[] {
  return Array.from({ length: bytes.length / 32 }, (_, i) => bytes.toString('hex', i * 32, (i + 1) * 32));
}

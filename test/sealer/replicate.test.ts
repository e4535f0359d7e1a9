// The sealer's `replicate` command (Sealer.replicate → Ledger.replicate on the
// sealer thread): a standby that runs a real front door (lanes, sealer) stores
// an owner's shipped seals in order with its own seals, both chains' reads
// and proofs work from its front door's store, and a refused seal comes back
// as a ReplicaError with nothing stored while the standby goes on sealing.
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { Ledger, ReplicaError, type ShippedSeal } from '../../src/ledger/index.js';
import { Rejection, Repeat, type PendingFrame } from '../../src/frontdoor/index.js';
import { DIRECTORY_HEADER } from '../../src/protocol/index.js';
import { RecordingOwner, startFrontDoor } from '../helpers/front-door.js';
import { makeBlock, tempDir } from '../helpers/index.js';

const OWNER = { id: 'gw-owner', key: 'ab'.repeat(32) };

function admitted(result: PendingFrame | Rejection | Repeat): PendingFrame {
  if (result instanceof Rejection || result instanceof Repeat) throw new Error(`not admitted: ${JSON.stringify(result)}`);
  return result;
}

describe('Sealer.replicate', () => {
  it('stores shipped seals between its own seals, and refuses a tampered one with nothing stored', async () => {
    const owner = await Ledger.open(tempDir('chainlanes-replicate-owner-'));
    let at = 1_700_000_000_000;
    await owner.seal({ blocks: [makeBlock('shipped', 0, 4), makeBlock('other', 0, 2)], sealedAt: (at += 1000) });
    await owner.seal({ blocks: [makeBlock('shipped', 4, 3)], sealedAt: (at += 1000) });
    await owner.seal({ blocks: [makeBlock('other', 2, 5)], sealedAt: (at += 1000) });
    const seals = [0, 1, 2].map((h) => owner.shippedSeal(h)!);

    const door = await startFrontDoor();
    const writer = new RecordingOwner();
    admitted(door.admission.admit('local', pack(['l0', 'l1']), writer, 0));
    const first = door.sealer.replicate(OWNER, seals[0]!);
    await door.sealAll();
    expect(await first).toEqual({ acked: 0 });

    const directory = Buffer.from(seals[1]!.directory);
    const prevHashAt = 1 + DIRECTORY_HEADER.prevHash; // a version byte, then the header
    directory[prevHashAt] = directory[prevHashAt]! ^ 1;
    const tampered: ShippedSeal = { ...seals[1]!, directory };
    const refusal = await door.sealer.replicate(OWNER, tampered).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ReplicaError);
    expect((refusal as Error).message).toMatch(/^seal of gateway "gw-owner" at directory 1: its directory header does not link/);
    expect(door.ledger.replicaPosition(OWNER.id).acked).toBe(0);
    expect(door.ledger.chain('shipped')).toMatchObject({ nextSeq: 4 });

    admitted(door.admission.admit('local', pack(['l2']), writer, 1));
    const rest = Promise.all(seals.slice(1).map((seal) => door.sealer.replicate(OWNER, seal)));
    await door.sealAll();
    expect(await rest).toEqual([{ acked: 1 }, { acked: 2 }]);

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

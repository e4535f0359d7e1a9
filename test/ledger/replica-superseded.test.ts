// Superseded seals (docs/replicas.md parts 3 and 6) on real stores on disk:
// an owner g1 whose standby g2 took its chains over at directory 2, went on
// sealing them, and g1 truncated its own directories 3–5 on its return; g1
// took the chains back (adopting what g2 sealed) and sealed directory 6 on
// top. Its seals 3–5 now ship with their truncation mark and no blocks: g2
// (at position 2) and a new standby g3 (at −1) accept them and then the
// normal seal 6 that links to them; verifyStore passes on every store and
// reports them; each tampering is refused naming its cause, storing nothing.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Ledger, verifyStore, type SealBlockInput, type ShippedSeal } from '../../src/ledger/index.js';
import { verifyEntry } from '../../src/client/index.js';
import { headSigner, rawPublicKey } from '../../src/heads/index.js';
import { DIRECTORY_HEADER } from '../../src/protocol/index.js';
import { openTables } from '../../src/ledger/tables.js';
import { heightKey } from '../../src/ledger/records.js';
import { ownerKeyOf } from '../../src/ledger/replica-store.js';
import { makeBlock, registerCleanup, tempDir } from '../helpers/index.js';

const G1 = { id: 'g1', key: 'ab'.repeat(32) };
const G2 = { id: 'g2', key: 'cd'.repeat(32) };
const TAKEOVER = { by: 'g2', token: 900, at: 1_700_000_100_000 };
const PRODUCER = 'c11e470000000003';
const keys = generateKeyPairSync('ed25519');
const der = keys.privateKey.export({ format: 'der', type: 'pkcs8' });
const OWNER = { ...G1, headKey: rawPublicKey(keys.privateKey).toString('hex') };
/** Where the entries of each chain end once g1 sealed directory 6. */
const SEALED = { bank: 13, other: 8, third: 2 } as const;

async function open(prefix: string, signed = false): Promise<{ dir: string; ledger: Ledger }> {
  const dir = tempDir(prefix);
  const ledger = await Ledger.open(dir, signed ? { signHead: headSigner(der) } : {});
  registerCleanup(`ledger ${dir}`, () => ledger.close());
  return { dir, ledger };
}

const seal = (ledger: Ledger, blocks: SealBlockInput[], sealedAt: number) => ledger.seal({ blocks, sealedAt });

interface Scene {
  owner: { dir: string; ledger: Ledger };
  standby: { dir: string; ledger: Ledger };
  /** g1's seals 3–5 as they were shipped before the truncation, with their blocks. */
  before: ShippedSeal[];
}

/**
 * g1 seals 0–5, g2 replicates 0–2, takes over and seals bank and other on;
 * g1 truncates after 2, adopts what g2 sealed, and seals directory 6.
 */
async function scene(): Promise<Scene> {
  const owner = await open('chainlanes-superseded-g1-', true);
  const standby = await open('chainlanes-superseded-g2-');
  const g1 = owner.ledger;
  let at = 1_700_000_000_000;
  const seals: SealBlockInput[][] = [
    [makeBlock('bank', 0, 4), makeBlock('other', 0, 2)],
    [makeBlock('bank', 4, 3), makeBlock('third', 0, 1)],
    [makeBlock('other', 2, 3)],
    [{ ...makeBlock('bank', 7, 2), frameIds: [{ seq: 7, producer: PRODUCER, n: 0, count: 2 }] }, makeBlock('other', 5, 1)],
    [makeBlock('bank', 9, 3)],
    [makeBlock('third', 1, 2), makeBlock('other', 6, 2)],
  ];
  for (const blocks of seals) await seal(g1, blocks, (at += 1000));
  for (let height = 0; height <= 2; height++) await standby.ledger.replicate(OWNER, g1.shippedSeal(height)!);
  const before = [3, 4, 5].map((height) => g1.shippedSeal(height)!);
  // g2 took the chains over at 2 and went on with them.
  await seal(standby.ledger, [makeBlock('bank', 7, 3), makeBlock('other', 5, 2)], (at += 1000));
  await seal(standby.ledger, [makeBlock('bank', 10, 1)], (at += 1000));
  // g1 back: its tail truncated, the chains taken back (adopting g2's blocks), sealed on.
  expect((await g1.truncateUnreplicated({ after: 2, ...TAKEOVER })).directories).toBe(3);
  for (const chain of ['bank', 'other']) await g1.adopt(chain, standby.ledger.exportBlocks(chain, 2, 1 << 30, G2).blocks);
  await seal(g1, [makeBlock('bank', 11, 2), makeBlock('other', 7, 1), makeBlock('third', 1, 1)], (at += 1000));
  return { owner, standby, before };
}

/**
 * Every entry of every chain reads back with a proof the client's check
 * accepts; on a standby nothing after them is there (g1 itself names its
 * superseded third seq 2, a seq it has not written again).
 */
function expectReads(ledger: Ledger, standby = true): void {
  for (const [chain, end] of Object.entries(SEALED)) {
    for (let seq = 0; seq < end; seq++) expect(verifyEntry(ledger.entryProof(chain, seq)!, { chain, seq }), `${chain} ${seq}`).toEqual({ ok: true });
    if (standby) expect(ledger.entryProof(chain, end)).toBeNull();
  }
}

const SUPERSEDED_3_TO_5 = { ...TAKEOVER, directories: { from: 3, to: 5, count: 3 } };

describe('superseded seals', () => {
  it('ship with their mark and no blocks; a standby at its acked height takes them, then the normal seal after them', async () => {
    const { owner, standby } = await scene();
    const shipped = [3, 4, 5, 6].map((height) => owner.ledger.shippedSeal(height)!);
    expect(shipped.map((s) => [s.blocks.length, s.frameIds.length, s.superseded ?? null])).toEqual([
      [0, 0, TAKEOVER],
      [0, 0, TAKEOVER],
      [0, 0, TAKEOVER],
      [3, 0, null],
    ]);
    expect(shipped.every((s) => s.head !== null)).toBe(true);
    for (const [i, s] of shipped.entries()) expect(await standby.ledger.replicate(OWNER, s)).toEqual({ acked: 3 + i });
    // A superseded seal sent again (its `durable` lost) is answered, not refused.
    expect(await standby.ledger.replicate(OWNER, shipped[3]!)).toEqual({ acked: 6 });
    expect(standby.ledger.replicaPosition('g1').acked).toBe(6);
    expect(standby.ledger.replicaDirectory('g1', 4)).toMatchObject({ superseded: TAKEOVER, head: { size: 5 } });
    expect(standby.ledger.replicaDirectory('g1', 6)?.superseded).toBeNull();
    // The heights g1's superseded directories list hold the blocks that went on (g2's own).
    expect(standby.ledger.block('bank', 2)).toMatchObject({ height: 2, firstSeq: 7, count: 3 });
    expectReads(standby.ledger);
    expectReads(owner.ledger, false);
    await standby.ledger.close();
    await owner.ledger.close();

    const atStandby = await verifyStore(standby.dir);
    expect(atStandby).toMatchObject({ ok: true, chains: 3, entries: 13 + 8 + 2 });
    expect(atStandby.replicated).toEqual([{ owner: 'g1', directories: 7, superseded: [{ ...SUPERSEDED_3_TO_5, blocks: 5 }] }]);
    const atOwner = await verifyStore(owner.dir);
    expect(atOwner).toMatchObject({ ok: true, directories: 7, superseded: [{ ...SUPERSEDED_3_TO_5, blocks: 5 }] });
    expect(atOwner.replicated).toBeUndefined();
  });

  it('a new standby (position −1) takes every seal from 0, the chains’ older blocks pulled from the owner’s export', async () => {
    const { owner } = await scene();
    const fresh = await open('chainlanes-superseded-g3-');
    for (let height = 0; height <= 5; height++) await fresh.ledger.replicate(OWNER, owner.ledger.shippedSeal(height)!);
    const sixth = owner.ledger.shippedSeal(6)!;
    // Seal 6 lists blocks above what the superseded ones left here: refused until they are pulled (pullOlderBlocks' job).
    await expect(fresh.ledger.replicate(OWNER, sixth)).rejects.toThrow(/at directory 6: .*its header says height 4/);
    for (const chain of ['bank', 'other']) {
      const from = fresh.ledger.chain(chain)!.nextHeight;
      const blocks = owner.ledger.exportBlocks(chain, from, 1 << 30, G1).blocks.filter((b) => b.proof.gateway.id === 'g2');
      expect(blocks.length, chain).toBeGreaterThan(0);
      await fresh.ledger.adopt(chain, blocks);
    }
    expect(await fresh.ledger.replicate(OWNER, sixth)).toEqual({ acked: 6 });
    expectReads(fresh.ledger);
    await fresh.ledger.close();
    const report = await verifyStore(fresh.dir);
    expect(report).toMatchObject({ ok: true, entries: 13 + 8 + 2 });
    expect(report.replicated).toEqual([{ owner: 'g1', directories: 7, superseded: [{ ...SUPERSEDED_3_TO_5, blocks: 5 }] }]);
  });

  it('refuses a tampered superseded seal naming the cause, and stores nothing of it', async () => {
    const { owner, standby, before } = await scene();
    const g2 = standby.ledger;
    const third = owner.ledger.shippedSeal(3)!;
    const refused = async (seal: ShippedSeal, cause: RegExp): Promise<void> => {
      await expect(g2.replicate(OWNER, seal)).rejects.toThrow(cause);
      expect(g2.replicaPosition('g1').acked).toBe(2);
      expect(g2.replicaDirectory('g1', 3)).toBeNull();
    };
    const flipped = (at: number): ShippedSeal => {
      const directory = Buffer.from(third.directory);
      directory[at] = directory[at]! ^ 1;
      return { ...third, directory };
    };
    await refused(flipped(1 + DIRECTORY_HEADER.prevHash), /at directory 3: its directory header does not link to the directory before it/);
    // The last byte of the record is the last listed block hash's.
    await refused(flipped(third.directory.length - 1), /at directory 3: its directory record's list does not reproduce the directory header's root/);
    await refused(
      { ...third, blocks: before[0]!.blocks },
      /at directory 3: it is marked superseded \(its blocks removed at token 900\), and 2 blocks came with it/,
    );
    expect(before[0]!.frameIds.length).toBeGreaterThan(0);
    await refused({ ...third, frameIds: before[0]!.frameIds }, /at directory 3: it is marked superseded .*, and frame ids came with it/);
    await refused({ ...before[0]!, superseded: TAKEOVER }, /at directory 3: it is marked superseded .*, and 2 blocks came with it/);
    await refused({ ...third, superseded: { ...TAKEOVER, token: -1 } }, /at directory 3: its truncation mark: "token" must be the takeover's fencing token/);
    await refused({ ...third, superseded: null as never }, /at directory 3: its truncation mark is not \{by, token, at\}/);
    await refused(owner.ledger.shippedSeal(4)!, /at directory 3: its directory header says height 4/);
    // A superseded seal without its mark is a seal whose blocks did not come.
    const { superseded: _mark, ...unmarked } = third;
    await refused(unmarked, /at directory 3: its directory lists 2 blocks, and 0 came/);

    // The real ones pass; a mark on a seal that has its blocks is refused there too.
    for (const height of [3, 4, 5]) await g2.replicate(OWNER, owner.ledger.shippedSeal(height)!);
    const sixth = owner.ledger.shippedSeal(6)!;
    await expect(g2.replicate(OWNER, { ...sixth, superseded: TAKEOVER })).rejects.toThrow(
      /at directory 6: it is marked superseded .*, and 3 blocks came with it/,
    );
    expect(g2.replicaPosition('g1').acked).toBe(5);
    expect(await g2.replicate(OWNER, sixth)).toEqual({ acked: 6 });
    await g2.close();
    expect(await verifyStore(standby.dir)).toMatchObject({ ok: true });
  });

  it('verify breaks on a replicated directory that does not hold: a mark of a directory not held, a replicated block gone, a broken link', async () => {
    const { owner, standby } = await scene();
    for (let height = 3; height <= 6; height++) await standby.ledger.replicate(OWNER, owner.ledger.shippedSeal(height)!);
    await standby.ledger.close();
    await owner.ledger.close();
    const key = (height: number) => Buffer.concat([ownerKeyOf('g1'), heightKey(height)]);
    /** One change to the standby's tables, the break verify names, and the change undone. */
    type Tables = ReturnType<typeof openTables>;
    const breaks = async (change: (tables: Tables) => (tables: Tables) => void, cause: RegExp): Promise<void> => {
      let tables = openTables(standby.dir);
      const undo = change(tables);
      await tables.root.close();
      expect((await verifyStore(standby.dir)).firstBreak).toMatch(cause);
      tables = openTables(standby.dir);
      undo(tables);
      await tables.root.close();
      expect(await verifyStore(standby.dir)).toMatchObject({ ok: true });
    };
    await breaks((t) => {
      t.replicaSuperseded.putSync(key(9), Buffer.from(JSON.stringify(TAKEOVER)));
      return (u) => u.replicaSuperseded.removeSync(key(9));
    }, /store holds 4 superseded marks of replicated directories, expected 3/);
    await breaks((t) => {
      const mark = t.replicaSuperseded.get(key(4))!;
      t.replicaSuperseded.removeSync(key(4));
      // Unmarked, directory 4's listed block must be here, and the height holds g2's block instead.
      return (u) => u.replicaSuperseded.putSync(key(4), mark);
    }, /gateway "g1"'s replicated directory 4: lists block 3 of chain [0-9a-f]+, which is not the one stored here/);
    await breaks((t) => {
      const row = t.replicaDirectories.get(key(5))!;
      const tampered = Buffer.from(row);
      tampered[1 + DIRECTORY_HEADER.prevHash] = tampered[1 + DIRECTORY_HEADER.prevHash]! ^ 1;
      t.replicaDirectories.putSync(key(5), tampered);
      return (u) => u.replicaDirectories.putSync(key(5), row);
    }, /gateway "g1"'s replicated directory 5: prev link broken/);
  });
});

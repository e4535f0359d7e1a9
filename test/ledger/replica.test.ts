// The standby's check of shipped seals (src/ledger/replica.ts): an owner's
// real store seals; its seals, shipped byte for byte, pass in order and give
// each block the very directory proof the owner serves; every kind of
// tampering, a skipped seal and a reordering are refused, naming the fault.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkShippedSeal,
  FRAME_ID_ROW_BYTES,
  Ledger,
  LedgerReaders,
  ReplicaError,
  type DirectoryPosition,
  type ReplicaOwner,
  type SealBlockInput,
  type ShippedSeal,
  signedHeadView,
  verifyStore,
} from '../../src/ledger/index.js';
import { headSigner, rawPublicKey } from '../../src/heads/index.js';
import type { ChainPosition } from '../../src/ledger/adopted.js';
import { zeroHash } from '../../src/ledger/hash.js';
import { blockRoot } from '../../src/ledger/merkle.js';
import { DIRECTORY_HEADER } from '../../src/protocol/index.js';
import { makeBlock, tempDir } from '../helpers/index.js';

const OWNER = { id: 'gw-owner', key: 'ab'.repeat(32) };
const CHAINS = ['bank', 'other', 'third'];
const START: DirectoryPosition = { nextHeight: 0, lastHash: zeroHash() };
const fresh = (): ChainPosition => ({ nextHeight: 0, nextSeq: 0, lastBlockHash: zeroHash() });

/** An owner's store with four seals, one of them holding two blocks of one chain. */
async function owner(): Promise<Ledger> {
  const ledger = await Ledger.open(tempDir('chainlanes-replica-'));
  let at = 1_700_000_000_000;
  const seals: [string, number, number][][] = [
    [
      ['bank', 0, 5],
      ['other', 0, 2],
    ],
    [
      ['bank', 5, 3],
      ['bank', 8, 4],
      ['third', 0, 1],
    ],
    [['other', 2, 6]],
    [
      ['third', 1, 2],
      ['bank', 12, 1],
    ],
  ];
  for (const seal of seals) await ledger.seal({ blocks: seal.map(([chain, first, count]) => makeBlock(chain, first, count)), sealedAt: (at += 1000) });
  return ledger;
}

/** The owner's seals as it ships them (Ledger.shippedSeal), with the directory proof its export gives each block. */
function shipped(ledger: Ledger): { seal: ShippedSeal; proofs: unknown[] }[] {
  const proofs = new Map<number, { index: number; proof: unknown }[]>();
  for (const chain of CHAINS) {
    for (const block of ledger.exportBlocks(chain, 0, 1 << 30, OWNER).blocks) {
      const d = block.proof.directory;
      proofs.set(d.height, [...(proofs.get(d.height) ?? []), { index: d.index, proof: block.proof }]);
    }
  }
  const out: { seal: ShippedSeal; proofs: unknown[] }[] = [];
  for (let height = 0; height <= ledger.sealedHeight(); height++) {
    const ordered = (proofs.get(height) ?? []).sort((a, b) => a.index - b.index).map((p) => p.proof);
    out.push({ seal: ledger.shippedSeal(height)!, proofs: ordered });
  }
  return out;
}

/** Checks the seals in order as a standby would, keeping each chain's position. */
function replay(seals: ShippedSeal[]): DirectoryPosition {
  const chains = new Map<string, ChainPosition>();
  let at = START;
  for (const seal of seals) {
    const checked = checkShippedSeal(OWNER, at, seal, (chain) => chains.get(chain) ?? fresh(), blockRoot);
    for (const block of checked.blocks) {
      const { height, firstSeq, count } = block.record.header;
      chains.set(block.chain, { nextHeight: height + 1, nextSeq: firstSeq + count, lastBlockHash: block.blockHash });
    }
    at = checked.next;
  }
  return at;
}

function refusal(seals: ShippedSeal[]): string {
  try {
    replay(seals);
  } catch (error) {
    expect(error).toBeInstanceOf(ReplicaError);
    return (error as Error).message;
  }
  throw new Error('the seals were not refused');
}

function flip(bytes: Uint8Array, at: number): void {
  bytes[at] = bytes[at]! ^ 1;
}

const copy = (seal: ShippedSeal): ShippedSeal => ({
  directory: Buffer.from(seal.directory),
  head: seal.head === null ? null : Buffer.from(seal.head),
  blocks: seal.blocks.map((b) => ({ chain: b.chain, record: Buffer.from(b.record) })),
  frameIds: Buffer.from(seal.frameIds),
});

/** Offsets in a directory record: a version byte, then the header. */
const RECORD_PREV_HASH = 1 + DIRECTORY_HEADER.prevHash;
const RECORD_ROOT = 1 + DIRECTORY_HEADER.root;

describe('shipped seals', () => {
  it('pass in order, each block getting the directory proof its owner serves', async () => {
    const ledger = await owner();
    const seals = shipped(ledger);
    expect(seals.map((s) => s.seal.blocks.length)).toEqual([2, 3, 1, 2]);
    const chains = new Map<string, ChainPosition>();
    let at = START;
    for (const { seal, proofs } of seals) {
      const checked = checkShippedSeal(OWNER, at, seal, (chain) => chains.get(chain) ?? fresh(), blockRoot);
      expect(checked.blocks.map((b) => b.proof)).toEqual(proofs);
      // Stored as adopted: the record but for its directory-height field.
      checked.blocks.forEach((b, i) => expect(b.stored.subarray(0, 10)).toEqual(Buffer.from(seal.blocks[i]!.record).subarray(0, 10)));
      for (const b of checked.blocks) {
        const { height, firstSeq, count } = b.record.header;
        chains.set(b.chain, { nextHeight: height + 1, nextSeq: firstSeq + count, lastBlockHash: b.blockHash });
      }
      at = checked.next;
    }
    expect(at.nextHeight).toBe(4);
    expect(chains.get('bank')).toMatchObject({ nextHeight: 4, nextSeq: 13 });
  });

  it('refuses a skipped seal, a broken directory link, a missing or reordered block, tampered entries or root, and a wrong chain name', async () => {
    const seals = shipped(await owner()).map((s) => s.seal);
    expect(refusal([seals[1]!])).toMatch(/directory header says height 1/);

    const relinked = seals.map(copy);
    flip(relinked[1]!.directory, RECORD_PREV_HASH);
    expect(refusal(relinked)).toMatch(/directory 1: its directory header does not link/);

    const missing = seals.map(copy);
    missing[1]!.blocks.pop();
    expect(refusal(missing)).toMatch(/lists 3 blocks, and 2 came/);

    const reordered = seals.map(copy);
    reordered[0]!.blocks.reverse();
    expect(refusal(reordered)).toMatch(/block 1 is out of the directory's order/);

    const content = seals.map(copy);
    const record = content[2]!.blocks[0]!.record;
    flip(record, record.length - 1); // the last entry's content
    expect(refusal(content)).toMatch(/chain "other" block 1: seq 7: its entry hash is not SHA-256 of its content/);

    const rooted = seals.map(copy);
    flip(rooted[3]!.directory, RECORD_ROOT);
    expect(refusal(rooted)).toMatch(/directory 3: its blocks do not reproduce the directory header's root/);

    const renamed = seals.map(copy);
    renamed[2]!.blocks[0]!.chain = 'bank';
    expect(refusal(renamed)).toMatch(/its header names another chain/);

    // And the untouched seals still pass after all that copying.
    expect(replay(seals).nextHeight).toBe(4);
  });
});

// Ledger.replicate: a real owner store, heads signed, frames with ids; each
// seal read for shipping by the owner's reader threads, replicated into a
// second store on disk; then the standby's reads and proofs are the owner's.
describe('Ledger.replicate', () => {
  const PRODUCER = 'c11e470000000001';
  const keys = generateKeyPairSync('ed25519');
  const headKey = rawPublicKey(keys.privateKey).toString('hex');
  const der = keys.privateKey.export({ format: 'der', type: 'pkcs8' });
  const owned: Ledger[] = [];
  afterAll(async () => {
    for (const ledger of owned) await ledger.close();
  });

  /** The owner: four seals as above, heads signed in each, and frame ids on some blocks. */
  async function signingOwner(): Promise<{ dir: string; ledger: Ledger }> {
    const dir = tempDir('chainlanes-replica-owner-');
    const ledger = await Ledger.open(dir, { signHead: headSigner(der) });
    owned.push(ledger);
    let at = 1_700_000_000_000;
    const ids = (seq: number, n: number, count: number) => ({ seq, producer: PRODUCER, n, count });
    const seals: SealBlockInput[][] = [
      [{ ...makeBlock('bank', 0, 5), frameIds: [ids(0, 0, 2), ids(2, 1, 3)] }, makeBlock('other', 0, 2)],
      [makeBlock('bank', 5, 3), { ...makeBlock('bank', 8, 4), frameIds: [ids(8, 2, 4)] }, makeBlock('third', 0, 1)],
      [{ ...makeBlock('other', 2, 6), frameIds: [ids(2, 0, 6)] }],
      [makeBlock('third', 1, 2), { ...makeBlock('bank', 12, 1), frameIds: [ids(12, 3, 1)] }],
    ];
    for (const seal of seals) await ledger.seal({ blocks: seal, sealedAt: (at += 1000) });
    return { dir, ledger };
  }

  async function standby(dir = tempDir('chainlanes-replica-standby-')): Promise<{ dir: string; ledger: Ledger }> {
    const ledger = await Ledger.open(dir);
    owned.push(ledger);
    return { dir, ledger };
  }

  /** Every seal of the owner, read by its reader threads as a shipper reads them. */
  async function shipAll(dir: string): Promise<ShippedSeal[]> {
    const readers = new LedgerReaders(dir, 1);
    try {
      const seals: ShippedSeal[] = [];
      for (let height = 0; ; height++) {
        const answer = await readers.seal(height);
        expect(answer.sealedHeight).toBe(3);
        if (answer.seal === null) return seals;
        seals.push(answer.seal);
      }
    } finally {
      await readers.close();
    }
  }

  const ownerOf = { ...OWNER, headKey };

  it('stores every seal: reads and proofs of every block equal the owner’s, the ids and directories are kept, and a restart keeps the position', async () => {
    const owner = await signingOwner();
    const seals = await shipAll(owner.dir);
    expect(seals).toHaveLength(4);
    expect(seals.every((s) => s.head !== null)).toBe(true);
    expect(seals.map((s) => s.frameIds.length / FRAME_ID_ROW_BYTES)).toEqual([2, 1, 1, 1]);
    const first = await standby();
    expect(first.ledger.replicaPosition(OWNER.id)).toEqual({ acked: -1, nextHeight: 0, lastHash: zeroHash() });
    for (const [height, seal] of seals.entries()) expect(await first.ledger.replicate(ownerOf, seal)).toEqual({ acked: height });

    const sealed = owner.ledger.heads().directory;
    expect(first.ledger.replicaPosition(OWNER.id)).toEqual({ acked: 3, nextHeight: 4, lastHash: sealed.lastHash });
    for (const chain of CHAINS) {
      const head = owner.ledger.chain(chain)!;
      expect(first.ledger.chain(chain)).toEqual(head);
      for (let seq = 0; seq < head.nextSeq; seq++) {
        const { directory, ...proof } = first.ledger.entryProof(chain, seq)!;
        const { directory: ownerDirectory, ...ownerProof } = owner.ledger.entryProof(chain, seq)!;
        expect(proof).toEqual(ownerProof);
        expect(directory).toEqual({ ...ownerDirectory, gateway: OWNER });
      }
      for (let height = 0; height < head.nextHeight; height++) {
        expect(first.ledger.block(chain, height)).toEqual({ ...owner.ledger.block(chain, height), gateway: OWNER });
      }
    }
    // The owner's directory records and heads, byte for byte.
    for (const [height, seal] of seals.entries()) {
      const kept = first.ledger.replicaDirectory(OWNER.id, height)!;
      expect(kept.record).toEqual(Buffer.from(seal.directory));
      expect(signedHeadView(kept.head!)).toEqual(owner.ledger.signedHead(height + 1));
    }
    // The ids, as the owner has them: a window rebuilt on the standby after a takeover is the owner's.
    expect(first.ledger.recentFrameIds('bank', 10, 1 << 20)).toEqual(owner.ledger.recentFrameIds('bank', 10, 1 << 20));
    expect(first.ledger.recentFrameIds('other', 10, 1 << 20).map((id) => id.n)).toEqual([0]);

    // The standby's store passes `chainlanes verify --data`: every replicated block checks as an adopted one.
    expect(await verifyStore(first.dir)).toMatchObject({ ok: true, chains: 3, blocks: 8, adopted: 8, directories: 0 });

    // Restarted: the position survives, and the next seal of a new store would have to follow it.
    await first.ledger.close();
    const again = await standby(first.dir);
    expect(again.ledger.replicaPosition(OWNER.id)).toEqual({ acked: 3, nextHeight: 4, lastHash: sealed.lastHash });
    // The last seal again (a shipper whose `durable` was lost sends it again): made durable, not stored twice.
    const rows = storeRows(again.ledger);
    expect(await again.ledger.replicate(ownerOf, seals[3]!)).toEqual({ acked: 3 });
    expect(storeRows(again.ledger)).toEqual(rows);
    // Any older one is refused: it does not continue the owner's directory chain.
    await expect(again.ledger.replicate(ownerOf, seals[2]!)).rejects.toThrow(/at directory 4: its directory header says height 2/);
    // And the last one of another store of the same id is no repeat.
    await expect(again.ledger.replicate({ ...ownerOf, key: 'cd'.repeat(32) }, seals[3]!)).rejects.toThrow(/the owner's store is cdcdcdcd/);
  });

  it('stores a batch of seals as one by one; a tampered seal in it stops the batch there: those before it stored, its refusal returned, nothing of it', async () => {
    const owner = await signingOwner();
    const seals = await shipAll(owner.dir);
    const oneByOne = await standby();
    for (const seal of seals) await oneByOne.ledger.replicate(ownerOf, seal);
    const batched = await standby();
    expect(await batched.ledger.replicateSeals(ownerOf, seals)).toEqual({ acked: 3 });
    expect(storeRows(batched.ledger)).toEqual(storeRows(oneByOne.ledger));
    expect(await verifyStore(batched.dir)).toMatchObject({ ok: true, blocks: 8, adopted: 8 });

    const stopped = await standby();
    const tampered = copy(seals[2]!);
    flip(tampered.blocks[0]!.record, tampered.blocks[0]!.record.length - 1);
    const result = await stopped.ledger.replicateSeals(ownerOf, [seals[0]!, seals[1]!, tampered, seals[3]!]);
    expect(result.acked).toBe(1);
    expect(result.refused).toBeInstanceOf(ReplicaError);
    expect(result.refused?.message).toMatch(/^seal of gateway "gw-owner" at directory 2: .*its entry hash is not SHA-256 of its content/);
    expect(stopped.ledger.replicaPosition(OWNER.id).acked).toBe(1);
    // The rest, sent again (the repeat of seal 1 first, as a shipper whose `durable` was lost does): made durable, then stored.
    expect(await stopped.ledger.replicateSeals(ownerOf, [seals[1]!, seals[2]!, seals[3]!])).toEqual({ acked: 3 });
    expect(storeRows(stopped.ledger)).toEqual(storeRows(oneByOne.ledger));
    // A batch whose first seal is refused stores nothing and rejects.
    const empty = await standby();
    await expect(empty.ledger.replicateSeals(ownerOf, [seals[1]!, seals[2]!])).rejects.toThrow(/at directory 0: its directory header says height 1/);
    expect(empty.ledger.replicaPosition(OWNER.id).acked).toBe(-1);
  });

  it('refuses each tampering, naming the owner, the height and the cause, and stores nothing of it', async () => {
    const owner = await signingOwner();
    const seals = await shipAll(owner.dir);
    const { ledger } = await standby();
    await ledger.replicate(ownerOf, seals[0]!);
    const before = storeRows(ledger);

    const refused = async (seal: ShippedSeal, cause: RegExp, who: ReplicaOwner = ownerOf) => {
      const error = await ledger.replicate(who, seal).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ReplicaError);
      expect((error as Error).message).toMatch(/^seal of gateway "gw-owner" at directory 1: /);
      expect((error as Error).message).toMatch(cause);
      expect(storeRows(ledger)).toEqual(before);
    };
    const tampered = (edit: (seal: ShippedSeal) => void): ShippedSeal => {
      const seal = copy(seals[1]!);
      edit(seal);
      return seal;
    };
    await refused(
      tampered((s) => flip(s.blocks[0]!.record, s.blocks[0]!.record.length - 1)),
      /its entry hash is not SHA-256 of its content/,
    );
    await refused(
      tampered((s) => flip(s.directory, RECORD_PREV_HASH)),
      /its directory header does not link to the directory before it/,
    );
    await refused(seals[2]!, /its directory header says height 2/);
    await refused(
      tampered((s) => flip(s.head!, 8 + 32 + 5)),
      /its signed head does not verify under the key of gateway "gw-owner"'s heads/,
    );
    await refused(
      tampered((s) => flip(s.head!, 8)),
      /its signed head's root is not the root of the owner's directory log of size 2/,
    );
    const otherKey = rawPublicKey(generateKeyPairSync('ed25519').privateKey).toString('hex');
    await refused(seals[1]!, /its heads so far were signed by/, { ...OWNER, headKey: otherKey });
    await refused(seals[1]!, /the owner's store is cdcdcdcdcdcdcdcd…, and this standby holds the seals of its store abababababababab…/, {
      ...ownerOf,
      key: 'cd'.repeat(32),
    });
    // Not a seal's shape (what the network sent is decoded by msgpack, anything may come).
    await refused(
      { ...seals[1]!, blocks: [{ chain: 'bank', record: 'x' }] } as unknown as ShippedSeal,
      /its block 0 is not \{chain: a chain name, record: bytes\}/,
    );
    await refused({ ...seals[1]!, head: 7 } as unknown as ShippedSeal, /its signed head is neither bytes nor null/);
    await refused({ ...seals[1]!, books: {} } as unknown as ShippedSeal, /its credit books are not a list/);
    await refused(
      { ...seals[1]!, books: [{ chain: 'bank', book: 'x' }] } as unknown as ShippedSeal,
      /its credit book 0 is not \{chain: a chain name, book: bytes\}/,
    );
    // Frame ids: more ids than entries, an id outside the seal's blocks, a ragged row.
    const row = Buffer.from(seals[1]!.frameIds);
    await refused(
      tampered((s) => (s.frameIds = Buffer.concat(Array.from({ length: 13 }, (_, i) => rowAt(row, 20 + i))))),
      /13 frame ids came for 8 entries/,
    );
    await refused(
      tampered((s) => (s.frameIds = rowAt(row, 100))),
      /frame id row 0 \(seq 100\) names no entry of this seal's blocks/,
    );
    await refused(
      tampered((s) => (s.frameIds = row.subarray(0, row.length - 1))),
      /the frame ids are 59 bytes, not a multiple of 60/,
    );

    // The untouched seals still go in, in order, after every refusal; the credit books they carry are kept, the latest per chain.
    const book = (text: string) => ({ chain: 'bank', book: Buffer.from(text) });
    expect(ledger.replicaBook(OWNER.id, 'bank')).toBeNull();
    await ledger.replicate(ownerOf, { ...seals[1]!, books: [book('at 1')] });
    expect(ledger.replicaBook(OWNER.id, 'bank')?.toString()).toBe('at 1');
    await ledger.replicate(ownerOf, seals[2]!);
    expect(ledger.replicaBook(OWNER.id, 'bank')?.toString()).toBe('at 1');
    await ledger.replicate(ownerOf, { ...seals[3]!, books: [book('at 3')] });
    expect(ledger.replicaBook(OWNER.id, 'bank')?.toString()).toBe('at 3');
    expect(ledger.replicaBook('another-owner', 'bank')).toBeNull();
    expect(ledger.replicaPosition(OWNER.id).acked).toBe(3);
  });
});

/** The frame id row `row` moved to `seq` (its chain kept). */
function rowAt(row: Buffer, seq: number): Buffer {
  const moved = Buffer.from(row.subarray(0, FRAME_ID_ROW_BYTES));
  moved.writeBigUInt64BE(BigInt(seq), 32);
  return moved;
}

/** Everything the store holds that a replicated seal writes: chains, blocks, proofs, ids, the owner's directories and position. */
function storeRows(ledger: Ledger): unknown {
  return {
    chains: ledger.chains(),
    position: ledger.replicaPosition(OWNER.id),
    directories: [0, 1, 2, 3].map((h) => ledger.replicaDirectory(OWNER.id, h)?.record.length ?? null),
    ids: CHAINS.map((chain) => ledger.recentFrameIds(chain, 100, 1 << 20).length),
    blocks: CHAINS.map((chain) => [0, 1, 2, 3].map((h) => ledger.block(chain, h)?.hash ?? null)),
  };
}

// Standby replicas under partitions (issue #22, docs/replicas.md parts 4 and
// 5), with real gateways as hosts of a lab of network namespaces: each on an
// "etcd" network (etcd in a host of its own) and a "data" network (clients,
// and the replica stream between the gateways, which reach each other at
// their advertised addresses there). Taking a host's link down is the
// partition. After every case each store verifies, and no seq was given
// twice: every seq anyone was told was committed is on the surviving owner,
// with the hash the client was first given for it.
import { describe, expect, it } from 'vitest';
import { verifyEntry, type EntryProof } from '../../src/client/index.js';
import { EtcdClient, FleetKeys } from '../../src/fleet/index.js';
import { newKey } from '../../src/credits/index.js';
import {
  expectStoresVerify,
  FleetWriter,
  registerCleanup,
  replyHashes,
  startEtcd,
  startFleetGateway,
  startLab,
  type FleetGateway,
  type Lab,
  type Reply,
} from '../helpers/index.js';

interface ReplicaLab {
  lab: Lab;
  root: EtcdClient;
  keys: FleetKeys;
  g1: FleetGateway;
  g2: FleetGateway;
}

/** g1 and g2 with `fleet.replicas: 1`, each the other's standby, on machines of their own. */
async function replicaLab(whenStandbyLost: Record<'g1' | 'g2', 'wait' | 'alone'>): Promise<ReplicaLab> {
  const lab = startLab({ networks: ['etcd', 'data'], hosts: { e1: ['etcd'], g1: ['etcd', 'data'], g2: ['etcd', 'data'] }, root: ['etcd', 'data'] });
  const etcd = await startEtcd({ members: 1, lab: { lab, hosts: ['e1'], network: 'etcd' } });
  const prefix = `/replica-lab-${lab.tag}/`;
  const adminKey = newKey();
  const [g1, g2] = await Promise.all(
    (['g1', 'g2'] as const).map((id) =>
      startFleetGateway({
        etcd: etcd.endpoints,
        prefix,
        id,
        adminKey,
        lab: { lab, host: id, network: 'data' },
        fleet: { replicas: 1, machine: `m-${id}`, whenStandbyLost: whenStandbyLost[id], standbyLostAfterMs: 2_000 },
      }),
    ),
  );
  const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 1_000, maxResponseBytes: 1 << 22 });
  registerCleanup('root etcd client', () => root.close());
  await shipping(g1!, 'g2');
  await shipping(g2!, 'g1');
  return { lab, root, keys: new FleetKeys(prefix), g1: g1!, g2: g2! };
}

type Replica = { standby?: string; stream?: string; state?: string; behind?: number };

async function replicaOf(gw: FleetGateway): Promise<Replica | undefined> {
  return (await gw.json<{ fleet?: { replica?: Replica } }>('/healthz')).fleet?.replica;
}

/** `owner` ships to `standby` (its /healthz says so). */
async function shipping(owner: FleetGateway, standby: string): Promise<void> {
  await expect.poll(async () => replicaOf(owner), { timeout: 30_000, interval: 100 }).toMatchObject({ standby, stream: 'shipping' });
}

/** Each seq's entry hash (hex) from `accepted` replies. */
function hashesOf(replies: readonly Reply[]): Map<number, string> {
  const hashes = new Map<number, string>();
  for (const r of replies) if (r.type === 'accepted') replyHashes(r).forEach((hash, i) => hashes.set((r.seq as number) + i, hash));
  return hashes;
}

const MINTED = 1_000_000;

describe('standby replicas under partitions (real gateways in network namespaces)', () => {
  it('the owner cut off from etcd: it stops admitting, its standby takes the chain over with everything committed; back, the old owner is a follower and the new owner’s standby', async () => {
    const f = await replicaLab({ g1: 'wait', g2: 'alone' });
    const { g1, g2 } = f;
    const owner = await g1.account('owner');
    // Priced: a credit an entry. The chain's book goes with its seals, and the standby opens the chain from it.
    await g1.chain('ledger', owner, { writePerEntry: 1 });
    await g1.mint('ledger', owner, owner, MINTED);
    const w1 = await FleetWriter.open(g1, 'ledger', owner.key);
    let stop = false;
    const writing = w1.writeUntil('on g1', () => stop);
    await expect.poll(() => w1.committedUpTo(), { timeout: 20_000 }).toBeGreaterThan(20);

    const cutAt = Date.now();
    f.lab.cut('g1', 'etcd');
    const ownerOf = async (): Promise<string | undefined> => {
      const kv = (await f.root.range(f.keys.chain('ledger'))).kvs[0];
      return kv === undefined ? undefined : (JSON.parse(kv.value.toString()) as { gateway: string }).gateway;
    };
    await expect.poll(ownerOf, { timeout: 40_000, interval: 100 }).toBe('g2');
    const takenAt = Date.now();
    stop = true;
    await writing;
    // g1 fenced itself (busy, naming why) and admitted nothing after, before the chain was g2's.
    const fenced = w1.replies.find((r) => r.at >= cutAt && r.type === 'error');
    expect(fenced).toMatchObject({ code: 'busy', message: expect.stringMatching(/cut off from etcd/) });
    expect(fenced!.at).toBeLessThan(takenAt);
    expect(w1.replies.filter((r) => r.type === 'accepted' && r.at > fenced!.at)).toEqual([]);
    const committedOnG1 = w1.committedUpTo();
    const acceptedOnG1 = w1.accepted().length;

    // The book g2 opened the chain with: every entry g1 reported committed paid for; at most what g1 accepted.
    let balance = MINTED;
    await expect.poll(async () => (balance = await g2.balance('ledger', owner)), { timeout: 30_000 }).toBeLessThanOrEqual(MINTED - (committedOnG1 + 1));
    expect(balance).toBeGreaterThanOrEqual(MINTED - acceptedOnG1);

    // g2 serves the chain and goes on after every seq g1 reported committed; alone, and says so (its standby is gone).
    let w2: FleetWriter | null = null;
    let refused = '';
    await expect
      .poll(
        async () => {
          w2 ??= await FleetWriter.open(g2, 'ledger', owner.key).catch((error: unknown) => ((refused = String(error)), null));
          return (await w2?.write('on g2 first'))?.type ?? `no stream yet: ${refused}`;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe('accepted');
    const first = w2!.accepted()[0]!;
    expect(first.seq as number).toBeGreaterThan(committedOnG1);
    for (let i = 0; i < 10; i++) expect((await w2!.write(`on g2 ${i}`))?.type).toBe('accepted');
    await expect.poll(() => w2!.committedUpTo(), { timeout: 20_000 }).toBeGreaterThanOrEqual(first.seq as number);
    expect(w2!.stream.committed[0]).toMatchObject({ alone: true });
    expect(await g2.balance('ledger', owner)).toBe(balance - 11);

    // Every seq g1 reported committed reads back from g2, with a proof and the hash g1 gave.
    const hashes = hashesOf(w1.replies);
    for (let seq = 0; seq <= committedOnG1; seq++) {
      const read = await g2.call<EntryProof>('GET', `/v1/chains/ledger/entries/${seq}`, owner.key);
      expect(read.status, `seq ${seq}`).toBe(200);
      expect(verifyEntry(read.body, { chain: 'ledger', seq, hash: hashes.get(seq)! }), `seq ${seq}`).toEqual({ ok: true });
    }

    // Back on the network: g1 rejoins as a follower (the takeover record read and removed), stands by for g2, and g2
    // is back in step: committed without `alone`. g1 never admits the chain again.
    f.lab.heal('g1', 'etcd');
    await expect.poll(async () => (await f.root.range(`${f.keys.prefix}takeover/g1`)).kvs.length, { timeout: 30_000, interval: 250 }).toBe(0);
    await shipping(g2, 'g1');
    await expect
      .poll(
        async () => {
          const reply = await w2!.write('in step');
          await expect.poll(() => w2!.committedUpTo(), { timeout: 10_000 }).toBeGreaterThanOrEqual(reply!.seq as number);
          return w2!.stream.committed.at(-1)!.alone;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBeUndefined();
    const again = await FleetWriter.open(g1, 'ledger', owner.key).catch((error: unknown) => String(error));
    if (typeof again !== 'string') expect((await again.write('on g1 again'))?.code).toBe('moved');
    else expect(again).toMatch(/421|Unexpected server response/);
    expect(await ownerOf()).toBe('g2');
    await expectStoresVerify([g1, g2]);
  }, 180_000);
  it('the standby cut off from its owner (`wait`): nothing accepted after the cut is committed, the owner answers busy naming it once lost, nobody takes over; healed, every frame held is committed', async () => {
    const f = await replicaLab({ g1: 'wait', g2: 'wait' });
    const { g1, g2 } = f;
    const owner = await g1.account('owner');
    await g1.chain('ledger', owner);
    const w1 = await FleetWriter.open(g1, 'ledger', owner.key);
    for (let i = 0; i < 10; i++) expect((await w1.write(`before ${i}`))?.type).toBe('accepted');
    await expect.poll(() => w1.committedUpTo(), { timeout: 20_000 }).toBe(9);

    // The standby stays on the etcd network (a live member): only the path between the two is cut.
    f.lab.cut('g2', 'data');
    let stop = false;
    const writing = w1.writeUntil('during the cut', () => stop);
    await expect.poll(() => w1.replies.some((r) => r.type === 'error'), { timeout: 30_000 }).toBe(true);
    stop = true;
    await writing;
    const refused = w1.replies.find((r) => r.type === 'error')!;
    expect(refused).toMatchObject({ code: 'busy', message: expect.stringMatching(/standby "g2" lost .*fleet\.whenStandbyLost: wait/) });
    const during = w1.accepted().slice(10);
    expect(during.length).toBeGreaterThan(0);
    // Never committed without the standby: every frame after the cut is held.
    expect(w1.committedUpTo()).toBe(9);
    expect(await replicaOf(g1)).toMatchObject({ standby: 'g2', state: 'lost' });
    // Never two owners: g1's lease lives, so g2 takes nothing over.
    const owners = await f.root.range(f.keys.chain('ledger'));
    expect((JSON.parse(owners.kvs[0]!.value.toString()) as { gateway: string }).gateway).toBe('g1');
    expect((await f.root.range(f.keys.takeover('g1'))).kvs).toHaveLength(0);

    // Healed: g2 catches up, every frame held is committed (not alone), and frames are accepted again.
    f.lab.heal('g2', 'data');
    const last = during.at(-1)!;
    await expect.poll(() => w1.committedUpTo(), { timeout: 30_000 }).toBe((last.seq as number) + (last.count as number) - 1);
    expect(w1.stream.committed.filter((c) => c.alone !== undefined)).toEqual([]);
    await expect.poll(async () => (await w1.write('after the cut'))?.type, { timeout: 20_000, interval: 100 }).toBe('accepted');
    await expectStoresVerify([g1, g2]);
  }, 120_000);
});

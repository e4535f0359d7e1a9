// Naming standbys against a real etcd (docs/replicas.md part 2): three
// gateways on three machines each get a standby on another machine; a
// standby that leaves frees its owner, who gets a new one; two claimers of
// one owner race and exactly one wins; a gateway never stands by for one on
// its own machine; a gateway whose lease is gone claims nothing.
import { describe, expect, it } from 'vitest';
import { decodeStandby, readStatus, releaseStandby, type FleetNode } from '../../src/fleet/index.js';
import { startEtcd, type EtcdCluster } from '../helpers/index.js';
import { startFleetNode } from '../helpers/fleet.js';

let prefixes = 0;

function node(etcd: EtcdCluster, prefix: string, id: string, machine: string, extra: Record<string, unknown> = {}): Promise<FleetNode> {
  return startFleetNode(etcd, prefix, id, { replicas: 1, machine, ...extra });
}

/** Waits (polling, no fixed sleep) until `condition` holds, or fails naming it. */
async function until(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const pairsOf = (n: FleetNode) => n.standbys!.pairs().map(({ owner, standby }) => `${owner}<-${standby}`);

/**
 * Every owner has a standby, each gateway stands by for one, and all agree. Waited for, not just "three pairs":
 * a gateway moving to its ring-next owner stands by for two for a moment before it gives one up.
 */
const settled = (nodes: FleetNode[]) => () =>
  nodes.every((n) => n.standbys!.pairs().length === nodes.length && n.standbys!.standingBy().length === 1 && pairsOf(n).join() === pairsOf(nodes[0]!).join());

describe('standby naming', () => {
  it('three gateways on three machines: each gets a standby on another machine, none stands by twice, and all agree', async () => {
    const etcd = await startEtcd();
    const prefix = `/standby-${++prefixes}/`;
    const nodes = await Promise.all([node(etcd, prefix, 'g1', 'm1'), node(etcd, prefix, 'g2', 'm2'), node(etcd, prefix, 'g3', 'm3')]);
    await until('three pairs everywhere, settled', settled(nodes));
    // Who started first may have claimed out of ring order, but each owner has one standby, none stands by twice (maxStandbyFor 1), none for itself.
    const pairs = nodes[0]!.standbys!.pairs();
    for (const n of nodes) expect(pairsOf(n)).toEqual(pairsOf(nodes[0]!));
    expect(new Set(pairs.map((p) => p.standby)).size).toBe(3);
    for (const p of pairs) expect(p.standby).not.toBe(p.owner);
    // The owner learns its standby from the mirror; the record names the standby's machine and is on the standby's lease.
    for (const n of nodes) {
      const mine = n.standbys!.standbyOf(n.member.id)!;
      expect(mine.machine).toBe(`m${mine.standby.slice(1)}`);
      const standby = nodes.find((o) => o.member.id === mine.standby)!;
      expect(n.standbys!.table.get(n.member.id)!.lease).toBe(standby.member.lease);
      expect(standby.standbys!.standingBy()).toEqual([n.member.id]);
    }
    // etcd holds exactly these records.
    const kvs = (await nodes[0]!.client.rangeAll(`${prefix}standby/`)).kvs.filter((kv) => kv.key !== `${prefix}standby/`);
    expect(kvs.map((kv) => `${kv.key.slice(prefix.length + 8)}<-${(decodeStandby(kv.value) as { standby: string }).standby}`).sort()).toEqual(
      pairsOf(nodes[0]!),
    );
    // `chainlanes fleet status` reads the same pairs.
    const status = await readStatus(nodes[0]!.client, nodes[0]!.keys);
    expect(status.standbys.map((p) => `${p.owner}<-${p.standby}`)).toEqual(pairsOf(nodes[0]!));
    expect(status.standbys.every((p) => p.machine === `m${p.standby.slice(1)}`)).toBe(true);
  });

  it('a gateway that joins after two others stood by for each other still gets one: the full gateway whose ring-next it is moves to it', async () => {
    const etcd = await startEtcd();
    const prefix = `/standby-${++prefixes}/`;
    const early = [await node(etcd, prefix, 'g2', 'm2'), await node(etcd, prefix, 'g3', 'm3')];
    await until('g2 and g3 stand by for each other', () => early[0]!.standbys!.pairs().length === 2);
    expect(pairsOf(early[0]!)).toEqual(['g2<-g3', 'g3<-g2']);
    const late = await node(etcd, prefix, 'g1', 'm1');
    const nodes = [late, ...early];
    // g3's ring-next is g1: it claims g1 and gives up g2, for which g1 (with room; its ring-next) stands by.
    await until('every owner has a standby, settled', settled(nodes));
    expect(pairsOf(late)).toEqual(['g1<-g3', 'g2<-g1', 'g3<-g2']);
  });

  it('a gateway added later gets a standby too; a standby that leaves frees its owner, who gets a new one; the gone standby’s claims vanish with its lease', async () => {
    const etcd = await startEtcd();
    const prefix = `/standby-${++prefixes}/`;
    const first = await Promise.all([node(etcd, prefix, 'g1', 'm1'), node(etcd, prefix, 'g2', 'm2'), node(etcd, prefix, 'g3', 'm3')]);
    await until('three pairs, settled', settled(first));
    const spare = await node(etcd, prefix, 'g4', 'm4');
    const all = [...first, spare];
    // g4 is g3's ring-next: g3 moves to it, and the owner g3 gave up (if not g4's ring-next already) gets g4, which had room.
    await until('four pairs, settled', settled(all));
    const owner = first[0]!; // g1
    const leaving = all.find((n) => n.member.id === owner.standbys!.standbyOf('g1')!.standby)!;
    expect(leaving.standbys!.standingBy()).toEqual(['g1']);
    await leaving.stop(); // revokes its lease: its standby records go with it
    // The gone gateway's own standby takes its chains over (src/replicas, not run by a bare FleetNode) and then
    // releases standby/{gone}, as the takeover does: from then it has room.
    const gone = leaving.member.id;
    const itsStandby = owner.standbys!.table.get(gone)!;
    await releaseStandby(owner.client, owner.keys, gone, itsStandby.createRevision);
    const staying = all.filter((n) => n !== leaving);
    await until('every staying owner has a staying standby, none stands by for two', () =>
      staying.every((n) => {
        const mine = owner.standbys!.standbyOf(n.member.id);
        const live = n.standbys!.standingBy().filter((o) => o !== leaving.member.id);
        return mine !== null && mine.standby !== leaving.member.id && live.length === 1;
      }),
    );
    const now = owner.standbys!.standbyOf('g1')!;
    expect(now.standby).not.toBe(leaving.member.id);
    expect(now.machine).toBe(`m${now.standby.slice(1)}`);
    expect(owner.standbys!.pairs().some((p) => p.standby === leaving.member.id)).toBe(false);
  });

  it('two claimers race for one owner: exactly one wins, and the loser learns who', async () => {
    const etcd = await startEtcd();
    const prefix = `/standby-${++prefixes}/`;
    // maxStandbyFor 1 and g2/g3 started before the owner: both want g1 once it joins. Their automatic naming is stopped to race by hand.
    const [a, b] = await Promise.all([node(etcd, prefix, 'g2', 'm2'), node(etcd, prefix, 'g3', 'm3')]);
    a.standbys!.stop();
    b.standbys!.stop();
    const owner = await node(etcd, prefix, 'g1', 'm1');
    owner.standbys!.stop();
    await until('both see g1', () => a.members.get('g1') !== undefined && b.members.get('g1') !== undefined);
    const [x, y] = await Promise.all([a.standbys!.claim('g1'), b.standbys!.claim('g1')]);
    expect([x.won, y.won].sort()).toEqual([false, true]);
    const winner = x.won === true ? 'g2' : 'g3';
    const loser = x.won === true ? y : x;
    expect(loser).toMatchObject({ won: false, standby: winner, why: `gateway "${winner}" stands by for it` });
    await until('the owner learns its standby', () => owner.standbys!.standbyOf('g1')?.standby === winner);
    // A claim again by the winner is idempotent.
    expect(await (winner === 'g2' ? a : b).standbys!.claim('g1')).toEqual({ won: true });
  });

  it('never a standby on the owner’s own machine; no claim for a gone owner; none without a lease', async () => {
    const etcd = await startEtcd();
    const prefix = `/standby-${++prefixes}/`;
    const [a, b] = await Promise.all([node(etcd, prefix, 'g1', 'shared'), node(etcd, prefix, 'g2', 'shared')]);
    await until('both see each other', () => a.members.entries.size === 2 && b.members.entries.size === 2);
    expect(a.standbys!.candidates()).toEqual([]);
    expect(await a.standbys!.claim('g2')).toMatchObject({ won: false, why: 'gateway "g2" is on this machine (shared)' });
    expect(await a.standbys!.claim('nobody')).toMatchObject({ won: false, why: 'gateway "nobody" is not a live member' });
    const c = await node(etcd, prefix, 'g3', 'other');
    await until('g3 named for one of them, and one of them for g3', () => a.standbys!.pairs().length === 2);
    expect(a.standbys!.pairs().every((p) => p.standby === 'g3' || p.owner === 'g3')).toBe(true);
    // A gateway that left claims nothing (its lease is gone).
    await c.stop();
    expect(await c.standbys!.claim('g1')).toMatchObject({ won: null });
    await until('the pairs with g3 vanish', () => a.standbys!.pairs().every((p) => p.standby !== 'g3'));
  });
});

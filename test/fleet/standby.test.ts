// Naming standbys against a real etcd (docs/replicas.md part 2): three
// gateways on three machines each get a standby on another machine; a
// standby that leaves frees its owner, who gets a new one; two claimers of
// one owner race and exactly one wins; a gateway never stands by for one on
// its own machine; a gateway whose lease is gone claims nothing.
import { describe, expect, it } from 'vitest';
import { decodeStandby, readStatus, type FleetNode } from '../../src/fleet/index.js';
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

describe('standby naming', () => {
  it('three gateways on three machines: each gets a standby on another machine, none stands by twice, and all agree', async () => {
    const etcd = await startEtcd();
    const prefix = `/standby-${++prefixes}/`;
    const nodes = await Promise.all([node(etcd, prefix, 'g1', 'm1'), node(etcd, prefix, 'g2', 'm2'), node(etcd, prefix, 'g3', 'm3')]);
    await until('three pairs everywhere', () => nodes.every((n) => n.standbys!.pairs().length === 3));
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

  it('a standby that leaves frees its owner, who gets a new standby (a gateway that had room); the gone standby’s other claims vanish with its lease', async () => {
    const etcd = await startEtcd();
    const prefix = `/standby-${++prefixes}/`;
    const first = await Promise.all([node(etcd, prefix, 'g1', 'm1'), node(etcd, prefix, 'g2', 'm2'), node(etcd, prefix, 'g3', 'm3')]);
    await until('three pairs', () => first[0]!.standbys!.pairs().length === 3);
    const spare = await node(etcd, prefix, 'g4', 'm4');
    await until('the spare has the table', () => spare.standbys!.pairs().length === 3);
    // A member added later rebalances nothing: g4 stands by for no one.
    expect(spare.standbys!.standingBy()).toEqual([]);
    const owner = first[0]!; // g1
    const leaving = first.find((n) => n.member.id === owner.standbys!.standbyOf('g1')!.standby)!;
    const leftFor = leaving.standbys!.standingBy();
    expect(leftFor).toEqual(['g1']);
    await leaving.stop(); // revokes its lease: its standby records go with it
    await until('g1 has a new standby', () => {
      const s = owner.standbys!.standbyOf('g1');
      return s !== null && s.standby !== leaving.member.id;
    });
    // Only the spare had room (the others stand by for one owner each already).
    expect(owner.standbys!.standbyOf('g1')!.standby).toBe('g4');
    expect(owner.standbys!.standbyOf('g1')!.machine).toBe('m4');
    await until('g4 knows', () => spare.standbys!.standingBy().join() === 'g1');
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

// Split brain, attacked: fleet members in network namespaces of their own,
// a 3-member etcd cluster in three more, and the owner's link to the etcd
// network taken down. The owner must fence itself by its own clock before
// etcd lets anyone else take its chain, and when it returns it must not admit
// the chain again: it catches up with ownership first.
import { describe, expect, it } from 'vitest';
import { EtcdClient, FleetKeys, transferChain } from '../../src/fleet/index.js';
import { registerCleanup, startEtcd, startLab, startMemberProcess, type MemberReport } from '../helpers/index.js';

const isVerdict = (kind: string) => (r: MemberReport): boolean => r.event === 'verdict' && r.kind === kind;

describe('fencing by the member\'s own clock', () => {
  it('an owner cut off from etcd stops admitting before a forced move can commit, and after the partition it stays off the chain', async () => {
    const lab = startLab({
      networks: ['etcd'],
      hosts: { e1: ['etcd'], e2: ['etcd'], e3: ['etcd'], g1: ['etcd'], g2: ['etcd'] },
      root: ['etcd'],
    });
    const etcd = await startEtcd({ members: 3, lab: { lab, hosts: ['e1', 'e2', 'e3'], network: 'etcd' } });
    const prefix = `/fence-${lab.tag}/`;
    const keys = new FleetKeys(prefix);
    const common = { endpoints: etcd.endpoints, prefix, ttlSeconds: 2, marginMs: 300, chain: 'alpha' };
    const g1 = startMemberProcess({ ...common, id: 'g1', url: 'http://g1.test:9001', claim: true }, { lab, host: 'g1' });
    const g2 = startMemberProcess({ ...common, id: 'g2', url: 'http://g2.test:9001', claim: false }, { lab, host: 'g2' });
    const owned = await g1.waitFor(isVerdict('admit'));
    await g2.waitFor((r) => r.event === 'verdict' && r.summary === 'moved g1 http://g1.test:9001');

    const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 1_000, maxResponseBytes: 1 << 20 });
    registerCleanup('root etcd client', () => root.close());
    const token = Number(String(owned.summary).split(' ')[1]);

    const cutAt = Date.now();
    lab.cut('g1', 'etcd');
    // The forced move is tried again and again from the first moment: etcd refuses it while g1's member key lives.
    const refusals: string[] = [];
    let committedAfter = 0;
    await expect.poll(async () => {
      const sentAt = Date.now();
      const outcome = await transferChain(root, keys, 'alpha', { from: 'g1', to: 'g2', token, force: true });
      if (outcome.moved) {
        committedAfter = sentAt;
        return true;
      }
      refusals.push(outcome.why);
      return false;
    }, { timeout: 20_000, interval: 50 }).toBe(true);
    expect(refusals[0]).toMatch(/gateway "g1" is still a live member: move it by handoff, not by force/);

    // g1 said it stopped admitting (busy, naming the cause) before the forced move was even sent.
    const fenced = await g1.waitFor((r) => r.event === 'verdict' && r.at >= cutAt && r.kind !== 'admit');
    expect(fenced.kind).toBe('busy');
    expect(fenced.message).toMatch(/cut off from etcd/);
    expect(fenced.at).toBeLessThan(committedAfter);
    const g2Admits = await g2.waitFor(isVerdict('admit'));
    expect(g2Admits.at).toBeGreaterThan(fenced.at);

    // Back on the network: a new lease, then the table catches up and names g2; g1 never admits alpha again.
    lab.heal('g1', 'etcd');
    await g1.waitFor((r) => r.event === 'verdict' && r.summary === 'moved g2 http://g2.test:9001');
    const rejoined = g1.reports.find((r) => r.event === 'fleet-joined' && r.at > cutAt);
    expect(rejoined?.revision).toBeGreaterThan(token);
    expect(g1.reports.filter((r) => r.event === 'verdict' && r.kind === 'admit' && r.at > cutAt)).toEqual([]);
  }, 60_000);

  it('a member cut off for less than its TTL resumes by itself on the same lease', async () => {
    const lab = startLab({ networks: ['etcd'], hosts: { e1: ['etcd'], g1: ['etcd'] }, root: ['etcd'] });
    const etcd = await startEtcd({ lab: { lab, hosts: ['e1'], network: 'etcd' } });
    const prefix = `/resume-${lab.tag}/`;
    const g1 = startMemberProcess({ endpoints: etcd.endpoints, prefix, id: 'g1', url: 'http://g1.test:9001', ttlSeconds: 6, marginMs: 2500, chain: 'beta', claim: true }, { lab, host: 'g1' });
    const admitted = await g1.waitFor(isVerdict('admit'));
    const cutAt = Date.now();
    lab.cut('g1', 'etcd');
    // Cut off long enough for keep-alives to fail and the member to fence itself (TTL 6 s − 2.5 s margin after the last ack; etcd keeps the lease for the whole 6 s).
    await g1.waitFor((r) => r.event === 'verdict' && r.at > cutAt && r.kind === 'busy', 15_000);
    lab.heal('g1', 'etcd');
    const back = await g1.waitFor((r) => r.event === 'verdict' && r.at > cutAt && r.kind === 'admit', 15_000);
    // Same lease, same chain, same token: etcd never expired anything.
    expect(back.summary).toBe(admitted.summary);
    expect(g1.reports.filter((r) => r.event === 'fleet-joined')).toHaveLength(1);
    expect(g1.reports.filter((r) => r.event === 'fleet-member' && r.state === 'live').at(-1)?.cause).toBe('keep-alive acknowledged again');
  }, 60_000);
});

// Split brain, attacked: fleet members in network namespaces of their own,
// a 3-member etcd cluster in three more, and the owner's link to the etcd
// network taken down. The owner must fence itself by its own clock before
// etcd lets anyone else take its chain, and when it returns it must not admit
// the chain again: it catches up with ownership first.
import { describe, expect, it } from 'vitest';
import { EtcdClient, FleetKeys, transferChain } from '../../src/fleet/index.js';
import { registerCleanup, startEtcd, startLab, startMemberProcess, type MemberReport } from '../helpers/index.js';

const isVerdict =
  (kind: string) =>
  (r: MemberReport): boolean =>
    r.event === 'verdict' && r.kind === kind;

describe("fencing by the member's own clock", () => {
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
    await expect
      .poll(
        async () => {
          const sentAt = Date.now();
          const outcome = await transferChain(root, keys, 'alpha', { from: 'g1', to: 'g2', token, force: true });
          if (outcome.moved) {
            committedAfter = sentAt;
            return true;
          }
          refusals.push(outcome.why);
          return false;
        },
        { timeout: 20_000, interval: 50 },
      )
      .toBe(true);
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
    const g1 = startMemberProcess(
      { endpoints: etcd.endpoints, prefix, id: 'g1', url: 'http://g1.test:9001', ttlSeconds: 6, marginMs: 2500, chain: 'beta', claim: true },
      { lab, host: 'g1' },
    );
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
  }, 60_000);
});

describe('a handoff racing a partition', () => {
  it('the owner cut off in mid-handoff never admits the chain again once the transfer committed, whatever its deadline says', async () => {
    const lab = startLab({ networks: ['etcd'], hosts: { e1: ['etcd'], g1: ['etcd'], g2: ['etcd'] }, root: ['etcd'] });
    const etcd = await startEtcd({ lab: { lab, hosts: ['e1'], network: 'etcd' } });
    const prefix = `/race-${lab.tag}/`;
    const common = { endpoints: etcd.endpoints, prefix, ttlSeconds: 4, marginMs: 500, chain: 'alpha' };
    const g1 = startMemberProcess({ ...common, id: 'g1', url: 'http://g1.test:9001', claim: true }, { lab, host: 'g1' });
    const g2 = startMemberProcess({ ...common, id: 'g2', url: 'http://g2.test:9001', claim: false }, { lab, host: 'g2' });
    await g1.waitFor(isVerdict('admit'));
    await g2.waitFor((r) => r.event === 'verdict' && r.summary === 'moved g1 http://g1.test:9001');
    await g1.waitFor((r) => r.event === 'ready');
    g1.send('handoff g2');
    const begun = await g1.waitFor((r) => r.event === 'handoff');
    expect(typeof begun.result).toBe('number');
    await g1.waitFor((r) => r.event === 'verdict' && r.at >= begun.at && r.summary === 'moved g2 http://g2.test:9001');

    lab.cut('g1', 'etcd');
    const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 1_000, maxResponseBytes: 1 << 20 });
    registerCleanup('root etcd client', () => root.close());
    expect(await transferChain(root, new FleetKeys(prefix), 'alpha', { from: 'g1', to: 'g2', token: begun.result as number })).toMatchObject({ moved: true });
    await g2.waitFor((r) => r.event === 'verdict' && r.kind === 'admit');
    // g1's handoff deadline (3 s) passes while it cannot reach etcd: it cannot reclaim, so it keeps the chain stopped.
    await g1.waitFor((r) => r.event === 'verdict' && r.kind === 'busy' && r.at > begun.at, 15_000);
    lab.heal('g1', 'etcd');
    await g1.waitFor((r) => r.event === 'fleet-handoff' && r.end === 'handed-off', 20_000);
    await expect.poll(() => g1.reports.filter((r) => r.event === 'verdict').at(-1)?.summary, { timeout: 15_000 }).toBe('moved g2 http://g2.test:9001');
    expect(g1.reports.filter((r) => r.event === 'verdict' && r.kind === 'admit' && r.at > begun.at)).toEqual([]);
  }, 60_000);

  it("a coordinator that never commits: the owner's deadline reclaims the chain on a new token, and the late transfer is refused", async () => {
    const etcd = await startEtcd();
    const prefix = '/deadline/';
    const common = { endpoints: etcd.endpoints, prefix, ttlSeconds: 4, marginMs: 500, chain: 'beta' };
    const g1 = startMemberProcess({ ...common, id: 'g1', url: 'http://g1.test:9001', claim: true });
    startMemberProcess({ ...common, id: 'g2', url: 'http://g2.test:9001', claim: false });
    await g1.waitFor((r) => r.event === 'ready');
    g1.send('handoff g2');
    const begun = await g1.waitFor((r) => r.event === 'handoff');
    const resumed = await g1.waitFor((r) => r.event === 'fleet-handoff' && r.end === 'resumed', 15_000);
    expect(resumed.detail).toMatch(/handoff aborted \(not committed within 3000 ms\); reclaimed at token \d+/);
    const again = await g1.waitFor((r) => r.event === 'verdict' && r.kind === 'admit' && r.at > begun.at);
    expect(Number(String(again.summary).split(' ')[1])).toBeGreaterThan(begun.result as number);
    const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 1_000, maxResponseBytes: 1 << 20 });
    registerCleanup('root etcd client', () => root.close());
    expect(await transferChain(root, new FleetKeys(prefix), 'beta', { from: 'g1', to: 'g2', token: begun.result as number })).toMatchObject({
      moved: false,
      owner: 'g1',
    });
  }, 60_000);
});

describe('an etcd member killed in the middle of a handoff', () => {
  it('changes nothing: the transfer commits through the survivors and both gateways agree on one owner', async () => {
    const etcd = await startEtcd({ members: 3 });
    const prefix = '/killed/';
    const common = { endpoints: etcd.endpoints, prefix, ttlSeconds: 4, marginMs: 500, chain: 'gamma' };
    const g1 = startMemberProcess({ ...common, id: 'g1', url: 'http://g1.test:9001', claim: true });
    const g2 = startMemberProcess({ ...common, id: 'g2', url: 'http://g2.test:9001', claim: false });
    await g1.waitFor((r) => r.event === 'ready');
    await g2.waitFor((r) => r.event === 'verdict' && r.summary === 'moved g1 http://g1.test:9001');
    g1.send('handoff g2');
    const begun = await g1.waitFor((r) => r.event === 'handoff');
    const leader = await etcd.leader();
    expect(leader).toBeGreaterThanOrEqual(0);
    await etcd.kill(leader);
    const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 1_000, maxResponseBytes: 1 << 20 });
    registerCleanup('root etcd client', () => root.close());
    const keys = new FleetKeys(prefix);
    // The survivors elect a leader within about a second; until then the transfer is retried (it is conditional: safe).
    let outcome: Awaited<ReturnType<typeof transferChain>> | undefined;
    await expect
      .poll(
        async () => {
          try {
            outcome = await transferChain(root, keys, 'gamma', { from: 'g1', to: 'g2', token: begun.result as number });
            return true;
          } catch {
            return false;
          }
        },
        { timeout: 15_000, interval: 100 },
      )
      .toBe(true);
    expect(outcome).toMatchObject({ moved: true });
    await g2.waitFor((r) => r.event === 'verdict' && r.kind === 'admit', 15_000);
    await g1.waitFor((r) => r.event === 'fleet-handoff' && r.end === 'handed-off', 15_000);
    expect(g1.reports.filter((r) => r.event === 'verdict' && r.kind === 'admit' && r.at > begun.at)).toEqual([]);
    const held = (await root.range(`${prefix}chains/gamma`)).kvs[0]!;
    expect(JSON.parse(held.value.toString()).gateway).toBe('g2');
  }, 60_000);
});

// Split brain, attacked, with real gateways: each gateway is a host of a lab
// of network namespaces, on an "etcd" network (a 3-member etcd cluster in
// three more hosts) and a "data" network (the test's clients); taking a
// gateway's link to the etcd network down cuts it off from etcd while its
// clients still reach it. After every case each chain's blocks verify
// (`chainlanes verify --data` on every store) and no seq was given twice:
// every `accepted` from any gateway is collected and the seq ranges must
// tile 0…n without overlap.
import { describe, expect, it } from 'vitest';
import { EtcdClient, FleetKeys, HttpGatewayApi, moveChain, transferChain, type GatewayApi, type HandoffHead } from '../../src/fleet/index.js';
import { newKey } from '../../src/credits/index.js';
import {
  expectStoresVerify,
  FleetWriter,
  registerCleanup,
  startEtcd,
  startFleetGateway,
  startLab,
  type EtcdCluster,
  type FleetGateway,
  type Lab,
  type Reply,
} from '../helpers/index.js';

interface FleetLab {
  lab: Lab;
  etcd: EtcdCluster;
  keys: FleetKeys;
  prefix: string;
  root: EtcdClient;
  adminKey: string;
  gateways: FleetGateway[];
}

async function fleetLab(ids: string[], extra: { config?: Record<string, unknown>; fleet?: Record<string, unknown>; open?: boolean } = {}): Promise<FleetLab> {
  const hosts: Record<string, string[]> = { e1: ['etcd'], e2: ['etcd'], e3: ['etcd'] };
  for (const id of ids) hosts[id] = ['etcd', 'data'];
  const lab = startLab({ networks: ['etcd', 'data'], hosts, root: ['etcd', 'data'] });
  const etcd = await startEtcd({ members: 3, lab: { lab, hosts: ['e1', 'e2', 'e3'], network: 'etcd' } });
  const prefix = `/split-${lab.tag}/`;
  const adminKey = newKey();
  const config = { ...extra.config, ...(extra.open === true ? { auth: { insecureOpen: true } } : {}) };
  const gateways = await Promise.all(
    ids.map((id) =>
      startFleetGateway({
        etcd: etcd.endpoints,
        prefix,
        id,
        adminKey: extra.open === true ? '' : adminKey,
        lab: { lab, host: id, network: 'data' },
        config,
        fleet: extra.fleet,
      }),
    ),
  );
  for (const gw of gateways)
    await expect
      .poll(async () => (await gw.json<{ fleet?: { member: string; members: number } }>('/healthz')).fleet, { timeout: 20_000 })
      .toMatchObject({ member: 'live', members: ids.length });
  const root = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 1_000, maxResponseBytes: 1 << 22 });
  registerCleanup('root etcd client', () => root.close());
  return { lab, etcd, keys: new FleetKeys(prefix), prefix, root, adminKey, gateways };
}

/** Every seq range accepted, from any gateway: they tile 0…n without overlap (no seq given twice, none skipped). */
function expectSeqsOnce(accepted: Reply[]): number {
  const ranges = accepted
    .filter((r) => r.type === 'accepted')
    .map((r) => [r.seq as number, (r.seq as number) + (r.count as number)] as const)
    .sort((a, b) => a[0] - b[0]);
  let next = 0;
  for (const [from, to] of ranges) {
    expect(from, `a seq range starting at ${from} where ${next} comes next`).toBe(next);
    next = to;
  }
  return next;
}

const owned = async (root: EtcdClient, keys: FleetKeys, chain: string): Promise<string | null> => {
  const kv = (await root.range(keys.chain(chain))).kvs[0];
  return kv === undefined ? null : (JSON.parse(kv.value.toString()) as { gateway: string }).gateway;
};

describe('split brain, attacked (real gateways in network namespaces, 3-member etcd)', () => {
  it('the owner cut off from etcd stops admitting (busy, naming the cause) before a forced handoff elsewhere commits; it keeps serving reads; back, it never admits the chain again', async () => {
    const f = await fleetLab(['g1', 'g2']);
    const [g1, g2] = f.gateways as [FleetGateway, FleetGateway];
    const owner = await g1.account('owner');
    await g1.chain('alpha', owner);
    const w1 = await FleetWriter.open(g1, 'alpha', owner.key);
    let stop = false;
    const writing = w1.writeUntil('on g1', () => stop);
    await expect.poll(() => w1.replies.filter((r) => r.type === 'accepted').length, { timeout: 20_000 }).toBeGreaterThan(20);

    const cutAt = Date.now();
    f.lab.cut('g1', 'etcd');
    // The forced move is tried from the first moment; it is refused while g1's member key lives (its lease has not expired in etcd).
    const api = new HttpGatewayApi(f.adminKey, 30_000);
    const refusals: string[] = [];
    let committedAt = 0;
    await expect
      .poll(
        async () => {
          const tried = Date.now();
          const outcome = await moveChain(f.root, f.keys, api, 'alpha', 'g2', { force: true, fromUrl: g1.url });
          if (outcome.moved) committedAt = tried;
          else refusals.push(`${outcome.step}: ${outcome.why}`);
          return outcome.moved;
        },
        { timeout: 40_000, interval: 100 },
      )
      .toBe(true);
    stop = true;
    await writing;
    expect(refusals[0]).toMatch(/lookup: gateway "g1" is still a live member/);

    // g1 fenced itself by its own clock — busy, naming the cause — before the forced move was even tried for the last time.
    const fenced = w1.replies.find((r) => r.at >= cutAt && r.type === 'error');
    expect(fenced).toMatchObject({ code: 'busy', message: expect.stringMatching(/cut off from etcd/) });
    expect(fenced!.at).toBeLessThan(committedAt);
    const lastAccepted = w1.replies.filter((r) => r.type === 'accepted').at(-1)!;
    expect(lastAccepted.at).toBeLessThan(fenced!.at + 1);
    // Cut off from etcd, it still serves reads of what it holds.
    expect((await g1.call('GET', '/v1/chains/alpha/entries/0', owner.key)).status).toBe(200);

    // g2 goes on where g1 stopped.
    const w2 = await FleetWriter.open(g2, 'alpha', owner.key);
    for (let i = 0; i < 20; i++) expect((await w2.write(`on g2 ${i}`))?.type).toBe('accepted');
    // Back on the network: g1 rejoins, learns the move, and sends writers to g2; it never admitted alpha after the fence.
    f.lab.heal('g1', 'etcd');
    await expect
      .poll(
        async () => {
          const w = await FleetWriter.open(g1, 'alpha', owner.key).catch(() => null);
          return (await w?.write('after the partition'))?.code ?? 'refused at the upgrade';
        },
        { timeout: 30_000, interval: 250 },
      )
      .toMatch(/moved|refused at the upgrade/);
    expect(await g1.call('GET', '/v1/chains/alpha/entries/0', owner.key)).toMatchObject({ status: 421, body: { error: { code: 'moved', location: g2.url } } });
    expect(await owned(f.root, f.keys, 'alpha')).toBe('g2');
    const all = [...w1.replies, ...w2.replies];
    expect(all.filter((r) => r.gateway === 'g1' && r.type === 'accepted' && r.at > fenced!.at)).toEqual([]);
    const n = expectSeqsOnce(all);
    expect(n).toBe(all.filter((r) => r.type === 'accepted').length);
    await expectStoresVerify(f.gateways);
  }, 180_000);

  it('a handoff racing a partition ends with exactly one owner, whichever way it goes', async () => {
    const f = await fleetLab(['g1', 'g2'], { fleet: { handoffDeadlineMs: 3_000 } });
    const [g1, g2] = f.gateways as [FleetGateway, FleetGateway];
    const owner = await g1.account('owner');
    const api = new HttpGatewayApi(f.adminKey, 30_000);
    const accepted = new Map<string, Reply[]>();
    for (const chain of ['committed', 'abandoned']) {
      await g1.chain(chain, owner);
      const w = await FleetWriter.open(g1, chain, owner.key);
      for (let i = 0; i < 30; i++) expect((await w.write(`${chain} ${i}`))?.type).toBe('accepted');
      accepted.set(chain, [...w.replies]);
    }
    // 1: the owner hands "committed" over and is cut off from etcd at once; the coordinator adopts on g2 and commits without it.
    const head = await api.handoff(g1.url, 'committed', 'g2');
    f.lab.cut('g1', 'etcd');
    await api.adopt(g2.url, 'committed', 'g1', head, g1.url);
    expect(await transferChain(f.root, f.keys, 'committed', { from: 'g1', to: 'g2', token: head.token })).toMatchObject({ moved: true });
    // 2: the owner hands "abandoned" over, the new gateway adopts it, and the coordinator vanishes before committing.
    f.lab.heal('g1', 'etcd');
    await expect.poll(async () => (await g1.json<{ fleet: { member: string } }>('/healthz')).fleet.member, { timeout: 30_000 }).toBe('live');
    const abandoned: HandoffHead = await api.handoff(g1.url, 'abandoned', 'g2');
    f.lab.cut('g1', 'etcd');
    await api.adopt(g2.url, 'abandoned', 'g1', abandoned, g1.url);
    // g1's deadline (3 s) passes while it is cut off (its fence, 3.5 s, comes after): it cannot reclaim, so it keeps the chain stopped.
    await expect.poll(async () => (await g1.json<{ fleet: { member: string } }>('/healthz')).fleet.member, { timeout: 30_000 }).toBe('fenced');
    const stopped = await FleetWriter.open(g1, 'abandoned', owner.key);
    expect(await stopped.write('while cut off')).toMatchObject({ type: 'error', code: 'busy' });
    // Back, it reclaims the chain: the transfer that never came can no longer commit.
    f.lab.heal('g1', 'etcd');

    // Exactly one owner of each, and only that one admits it.
    await expect.poll(() => owned(f.root, f.keys, 'abandoned'), { timeout: 30_000 }).toBe('g1');
    expect(await owned(f.root, f.keys, 'committed')).toBe('g2');
    const admits = async (gw: FleetGateway, chain: string): Promise<string> => {
      const w = await FleetWriter.open(gw, chain, owner.key).catch(() => null);
      if (w === null) return 'refused at the upgrade';
      const reply = await w.write(`${chain} on ${gw.id}`);
      if (reply?.type === 'accepted') accepted.get(chain)!.push(reply);
      return reply?.type === 'accepted' ? 'admits' : String(reply?.code);
    };
    await expect.poll(() => admits(g1, 'abandoned'), { timeout: 20_000, interval: 250 }).toBe('admits');
    await expect.poll(() => admits(g2, 'committed'), { timeout: 20_000, interval: 250 }).toBe('admits');
    await expect.poll(() => admits(g1, 'committed'), { timeout: 20_000, interval: 250 }).toMatch(/moved|refused at the upgrade/);
    await expect.poll(() => admits(g2, 'abandoned'), { timeout: 20_000, interval: 250 }).toMatch(/moved|refused at the upgrade/);
    for (const replies of accepted.values()) expect(expectSeqsOnce(replies)).toBe(replies.length);
    await expectStoresVerify(f.gateways);
  }, 180_000);

  it('two clients creating the same new chains through two gateways at once get one chain each, on one gateway', async () => {
    const f = await fleetLab(['g1', 'g2'], { open: true });
    const [g1, g2] = f.gateways as [FleetGateway, FleetGateway];
    const names = Array.from({ length: 20 }, (_, i) => `race-${i}`);
    const outcomes = await Promise.all(
      names.map(async (chain) => {
        const [a, b] = await Promise.all([FleetWriter.open(g1, chain), FleetWriter.open(g2, chain)]);
        // Both first frames at once: each gateway's claim races the other's in etcd.
        await Promise.all([a.write(`${chain} from g1 #0`), b.write(`${chain} from g2 #0`)]);
        for (let i = 1; i < 5; i++) await Promise.all([a.write(`${chain} from g1 #${i}`), b.write(`${chain} from g2 #${i}`)]);
        return { chain, replies: [...a.replies, ...b.replies], closes: [a.stream.closeCode, b.stream.closeCode] };
      }),
    );
    for (const { chain, replies } of outcomes) {
      const winners = new Set(replies.filter((r) => r.type === 'accepted').map((r) => r.gateway));
      expect([...winners], chain).toHaveLength(1);
      const winner = [...winners][0]!;
      expect(await owned(f.root, f.keys, chain)).toBe(winner);
      // The loser admitted nothing: its first frame got `moved` naming the winner, and it read nothing more (closed 4001).
      const lost = replies.filter((r) => r.gateway !== winner);
      expect(lost, chain).toEqual([expect.objectContaining({ type: 'error', code: 'moved', location: (winner === 'g1' ? g1 : g2).url })]);
      expect(expectSeqsOnce(replies), chain).toBe(5);
    }
    expect(outcomes.every((o) => o.closes.includes(4001))).toBe(true);
    await expectStoresVerify(f.gateways);
  }, 180_000);

  it('an etcd member killed in the middle of a handoff changes nothing: one owner, and only it admits', async () => {
    const f = await fleetLab(['g1', 'g2']);
    const [g1, g2] = f.gateways as [FleetGateway, FleetGateway];
    const owner = await g1.account('owner');
    await g1.chain('gamma', owner);
    const w1 = await FleetWriter.open(g1, 'gamma', owner.key);
    const writing = w1.writeUntil('on g1', () => false);
    await expect.poll(() => w1.replies.filter((r) => r.type === 'accepted').length, { timeout: 20_000 }).toBeGreaterThan(20);
    // The coordinator kills etcd's leader between the adopt and the commit.
    const http = new HttpGatewayApi(f.adminKey, 30_000);
    let killed = -1;
    const api: GatewayApi = {
      prepare: (...args) => http.prepare(...args),
      handoff: (...args) => http.handoff(...args),
      abort: (...args) => http.abort(...args),
      adopt: async (...args) => {
        await http.adopt(...args);
        killed = await f.etcd.leader();
        await f.etcd.kill(killed);
      },
    };
    // A handoff that fails before its adopt step (a prepare or handoff call timed out on a loaded machine) leaves g1
    // the owner and kills nothing: that is not this test's case, so it is tried again (at most three times).
    const missed: string[] = [];
    let outcome = await moveChain(f.root, f.keys, api, 'gamma', 'g2');
    while (killed < 0 && !outcome.moved && missed.length < 2) {
      missed.push(`${outcome.step}: ${outcome.why}`);
      outcome = await moveChain(f.root, f.keys, api, 'gamma', 'g2');
    }
    expect(killed, `the handoff never reached its adopt step: ${missed.join('; ')}`).toBeGreaterThanOrEqual(0);
    // Whichever way it went, etcd names one owner, and that one admits while the other refuses.
    const ownerNow = await owned(f.root, f.keys, 'gamma');
    expect(ownerNow).toBe(outcome.moved ? 'g2' : 'g1');
    const [winner, loser] = ownerNow === 'g2' ? [g2, g1] : [g1, g2];
    if (winner === g2) await writing; // g1's stream got `moved` and closed 4001
    const w2 = await FleetWriter.open(winner, 'gamma', owner.key);
    await expect.poll(async () => (await w2.write('after the move'))?.type, { timeout: 20_000, interval: 250 }).toBe('accepted');
    const other = await FleetWriter.open(loser, 'gamma', owner.key).catch(() => null);
    expect(other === null || (await other.write('on the loser'))?.code === 'moved').toBe(true);
    const all = [...w1.replies, ...w2.replies, ...(other?.replies ?? [])];
    expectSeqsOnce(all);
    w1.stream.close();
    await expectStoresVerify(f.gateways);
  }, 180_000);
});

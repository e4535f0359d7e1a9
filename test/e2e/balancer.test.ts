// The balancer end to end: capacity in GET /v1/lanes, the lane table over
// HTTP, pins that hold under a flood and across a restart, placement under an
// overload (capacity declared small, so a few hundred entries/s overload a
// lane), fair shares, the operator guard, and the decisions list.
import { describe, expect, it } from 'vitest';
import { networkInterfaces } from 'node:os';
import { StreamClient, sleep, startCreditGateway, startGateway, type ChildGateway, type Reply } from '../helpers/index.js';

interface LaneView {
  name: string;
  chains: string[];
  capacity: { entriesPerSec: number; bytesPerSec: number; correction: number };
  demand: { entriesPerSec: number; bytesPerSec: number; load: number };
  headroom: { limit: number; room: number };
  placement: { chain: string; why: string }[];
}
interface Decision {
  id: number;
  at: number;
  kind: string;
  reason: string;
  chain?: string;
  from?: string;
  to?: string;
  numbers: Record<string, unknown>;
}

const lanes = async (gw: ChildGateway): Promise<LaneView[]> => (await gw.json<{ lanes: LaneView[] }>('/v1/lanes')).lanes;
const events = async (gw: ChildGateway): Promise<Decision[]> => (await gw.json<{ events: Decision[] }>('/v1/lanes/events?limit=1000')).events;
const laneOfChain = async (gw: ChildGateway, chain: string): Promise<string> => (await gw.json(`/v1/chains/${chain}`)).lane as string;

type Answer = { status: number; body: Record<string, unknown> & { error: { code: string; message: string } } };

async function put(gw: ChildGateway, path: string, body: unknown, method = 'PUT'): Promise<Answer> {
  const res = await gw.http(path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

/** Sends `entriesPerSec` in frames of `perFrame` for `ms`, or until `done()`; returns frames sent. */
async function pace(client: StreamClient, entriesPerSec: number, perFrame: number, ms: number, tag = 'e', done = (): boolean => false): Promise<number> {
  const framesPerSec = entriesPerSec / perFrame;
  const until = Date.now() + ms;
  let frames = 0;
  const started = Date.now();
  while (Date.now() < until && !done()) {
    const due = Math.floor(((Date.now() - started) / 1000) * framesPerSec);
    while (frames < due) {
      client.send(Array.from({ length: perFrame }, (_, k) => `${tag}-${frames}-${k}`));
      frames++;
    }
    await sleep(10);
  }
  return frames;
}

/** Every chain move the log reports is in the decisions list, with its reason and numbers. */
function expectEveryMoveListed(gw: ChildGateway, listed: Decision[]): void {
  const logged = gw.logs().filter((l) => l.event === 'lane-change');
  const moves = listed.filter((d) => d.kind === 'chain-move');
  expect(moves.length).toBe(logged.length);
  for (const line of logged) {
    expect(moves).toContainEqual(expect.objectContaining({ chain: line.chain, from: line.from, to: line.to, reason: line.msg }));
  }
  for (const move of moves) {
    expect(move.reason.length).toBeGreaterThan(10);
    expect(move.numbers).toHaveProperty('entriesPerSec');
  }
}

describe('balancer', () => {
  it("shows each lane's capacity, placed demand and headroom, and replaces the lane table over HTTP, refusing bad tables by row", async () => {
    const gw = await startGateway({ config: { scheduler: { tickMs: 50, rebalanceEveryTicks: 4 } } });
    await expect.poll(async () => (await lanes(gw)).every((l) => l.capacity !== undefined), { timeout: 10_000 }).toBe(true);
    // Calibrated on this machine (how much: `npm run bench -- --micro`, the calibration suite).
    for (const lane of await lanes(gw)) {
      expect(lane.capacity.entriesPerSec).toBeGreaterThan(0);
      expect(lane.capacity.bytesPerSec).toBeGreaterThan(0);
      expect(lane.headroom.limit).toBe(0.8);
    }
    const c = await StreamClient.open(gw.port, 'shop');
    await pace(c, 400, 4, 800);
    await expect.poll(async () => (await lanes(gw)).find((l) => l.name === 'light')!.demand.entriesPerSec, { timeout: 20_000 }).toBeGreaterThan(0);
    const light = (await lanes(gw)).find((l) => l.name === 'light')!;
    expect(light.demand.load).toBeGreaterThan(0);
    expect(light.headroom.room).toBeCloseTo(0.8 - light.demand.load, 3);
    expect(light.placement).toContainEqual(expect.objectContaining({ chain: 'shop' }));

    const unknown = await put(gw, '/v1/lanes/table', { lanes: [{ lane: 'fastest', minEntriesPerSec: 1 }], shareFloorEntriesPerSec: 0 });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('bad_request');
    expect(unknown.body.error.message).toMatch(/lanes\[0\]\.lane: "fastest" is not allowed/);
    const overlap = await put(gw, '/v1/lanes/table', {
      lanes: [
        { lane: 'heavy', minEntriesPerSec: 100 },
        { lane: 'medium', minEntriesPerSec: 500 },
      ],
      shareFloorEntriesPerSec: 0,
    });
    expect(overlap.status).toBe(400);
    expect(overlap.body.error.message).toMatch(/lanes\[1\]\.minEntriesPerSec: 500 is not allowed: .*overlap/);
    const empty = await put(gw, '/v1/lanes/table', { lanes: [{ lane: 'heavy', minEntriesPerSec: 100 }, { lane: 'medium' }], shareFloorEntriesPerSec: 0 });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/lanes\[1\]: .*empty row/);
    expect(await put(gw, '/v1/lanes/table', 'not json{', 'PUT')).toMatchObject({ status: 400 });

    const table = { lanes: [{ lane: 'heavy', minEntriesPerSec: 100 }], shareFloorEntriesPerSec: 1e12 };
    expect(await put(gw, '/v1/lanes/table', table)).toEqual({ status: 200, body: table });
    expect(await gw.json('/v1/lanes/table')).toEqual(table);
    await pace(c, 400, 4, 800);
    await expect.poll(() => laneOfChain(gw, 'shop'), { timeout: 20_000 }).toBe('heavy');
    const listed = await events(gw);
    expect(listed.filter((d) => d.kind === 'table')).toHaveLength(1);
    expect(listed.filter((d) => d.kind === 'calibration').length).toBeGreaterThanOrEqual(1);
    expect(listed.find((d) => d.kind === 'calibration')!.numbers).toHaveProperty('lightBytesPerSec');
    expectEveryMoveListed(gw, listed);
    c.close();
  });

  it('keeps a pinned chain in its lane under a flood, across a restart, until unpinned', async () => {
    const config = { scheduler: { tickMs: 50, tauMs: 200, laneTable: { lanes: [{ lane: 'heavy', minEntriesPerSec: 200 }], shareFloorEntriesPerSec: 1e12 } } };
    const gw = await startGateway({ config });
    const pinned = await StreamClient.open(gw.port, 'kept');
    const free = await StreamClient.open(gw.port, 'roams');
    pinned.send(['first']);
    free.send(['first']);
    await pinned.waitReplies(1);
    await free.waitReplies(1);
    expect(await put(gw, '/v1/chains/kept/lane', { lane: 'light' })).toEqual({ status: 200, body: { chain: 'kept', lane: 'light', pinned: true } });
    expect((await put(gw, '/v1/chains/kept/lane', { lane: 'fast' })).status).toBe(400);
    expect((await put(gw, '/v1/chains/nosuch/lane', { lane: 'light' })).status).toBe(404);
    await Promise.all([pace(pinned, 2_000, 20, 1_500, 'k'), pace(free, 2_000, 20, 1_500, 'r')]);
    await expect.poll(() => laneOfChain(gw, 'roams'), { timeout: 20_000 }).toBe('heavy');
    expect(await laneOfChain(gw, 'kept')).toBe('light');
    const light = (await lanes(gw)).find((l) => l.name === 'light')!;
    expect(light.placement.find((p) => p.chain === 'kept')!.why).toMatch(/pinned to light by the operator/);
    // Its demand counts in its lane though the balancer leaves it alone.
    expect(light.demand.entriesPerSec).toBeGreaterThan(0);
    const before = await events(gw);
    expect(before).toContainEqual(expect.objectContaining({ kind: 'pin', chain: 'kept', to: 'light' }));
    expectEveryMoveListed(gw, before);
    pinned.close();
    free.close();
    expect(await gw.stop()).toBe(0);

    const again = await startGateway({ dataDir: gw.dataDir, config });
    // The last decisions survive the restart, and so does the pin.
    const restored = await events(again);
    expect(restored.map((d) => d.id)).toEqual(expect.arrayContaining(before.slice(-5).map((d) => d.id)));
    const c = await StreamClient.open(again.port, 'kept');
    await pace(c, 2_000, 20, 1_200, 'k2');
    expect(await laneOfChain(again, 'kept')).toBe('light');
    expect((await put(again, '/v1/chains/kept/lane', undefined, 'DELETE')).body).toEqual({ chain: 'kept', pinned: false, was: 'light' });
    await pace(c, 2_000, 20, 1_200, 'k3');
    await expect.poll(() => laneOfChain(again, 'kept'), { timeout: 20_000 }).toBe('heavy');
    const after = await events(again);
    expect(after).toContainEqual(expect.objectContaining({ kind: 'unpin', chain: 'kept' }));
    expect(after).toContainEqual(expect.objectContaining({ kind: 'chain-move', chain: 'kept', from: 'light', to: 'heavy' }));
    c.close();
  });

  it('moves the chain that relieves an overloaded lane most to the nearest lane with room, and says why', async () => {
    const gw = await startGateway({
      config: {
        scheduler: {
          tickMs: 50,
          tauMs: 300,
          rebalanceEveryTicks: 4,
          laneTable: { lanes: [{ lane: 'heavy', minEntriesPerSec: 1e9 }], shareFloorEntriesPerSec: 1e12 },
        },
        // Declared small, so a few hundred entries/s are an overload: light carries at most 0.5 × 1000 entries/s.
        balancer: {
          headroom: 0.5,
          declaredCapacity: {
            light: { entriesPerSec: 1_000, bytesPerSec: 1e12 },
            medium: { entriesPerSec: 2_000, bytesPerSec: 1e12 },
            heavy: { entriesPerSec: 2_000, bytesPerSec: 1e12 },
          },
        },
      },
    });
    const big = await StreamClient.open(gw.port, 'big');
    const small = await StreamClient.open(gw.port, 'small');
    await Promise.all([pace(big, 400, 8, 2_500, 'b'), pace(small, 150, 3, 2_500, 's')]);
    await expect.poll(() => laneOfChain(gw, 'big'), { timeout: 20_000 }).toBe('medium');
    expect(await laneOfChain(gw, 'small')).toBe('light');
    const listed = await events(gw);
    const move = listed.find((d) => d.kind === 'chain-move' && d.chain === 'big')!;
    expect(move).toMatchObject({ from: 'light', to: 'medium' });
    expect(move.reason).toMatch(/over its headroom .* no core could move/);
    // The balancer moves only above the headroom; the listed number is rounded to 3 digits, so it may read 0.5 itself.
    expect(move.numbers.fromLoad as number).toBeGreaterThanOrEqual(0.5);
    expect(move.numbers.toLoadAfter as number).toBeLessThanOrEqual(0.5);
    expect(move.numbers.relief as number).toBeGreaterThan(0.2);
    const medium = (await lanes(gw)).find((l) => l.name === 'medium')!;
    expect(medium.placement.find((p) => p.chain === 'big')!.why).toMatch(/placed in medium by the balancer/);
    expectEveryMoveListed(gw, listed);
    big.close();
    small.close();
  });

  it('caps floods at their fair share of a saturated lane and lets a new chain through', async () => {
    const gw = await startGateway({
      config: {
        scheduler: { tickMs: 50, rebalanceEveryTicks: 4, laneTable: { lanes: [{ lane: 'heavy', minEntriesPerSec: 1e12 }], shareFloorEntriesPerSec: 1e12 } },
        // Light declared at 4,000 entries/s: two floods of ~8,000/s each saturate it, on any machine.
        balancer: { declaredCapacity: { light: { entriesPerSec: 4_000, bytesPerSec: 1e12 } } },
      },
    });
    const floods = await Promise.all(['flood-a', 'flood-b'].map((name) => StreamClient.open(gw.port, name)));
    for (const f of floods) f.send(['hello']);
    await Promise.all(floods.map((f) => f.waitReplies(1)));
    // Pinned: the balancer may not move them out of light, so light stays over its headroom.
    for (const name of ['flood-a', 'flood-b']) expect((await put(gw, `/v1/chains/${name}/lane`, { lane: 'light' })).status).toBe(200);
    const newcomer = await StreamClient.open(gw.port, 'newcomer');
    let sent = 0;
    let newcomerDone = false;
    // The floods go on until the newcomer is done, for at most a minute.
    const floodsDone = Promise.all(floods.map((f, i) => pace(f, 8_000, 40, 60_000, `f${i}`, () => newcomerDone)));
    // The newcomer starts once the lane is contended: both floods are being refused over their shares.
    const refusedSoFar = async (chain: string): Promise<number> => (await gw.metrics()).sum('chainlanes_fair_share_refused_total', { chain });
    await expect
      .poll(async () => Math.min(await refusedSoFar('flood-a'), await refusedSoFar('flood-b')), { timeout: 30_000, interval: 100 })
      .toBeGreaterThan(0);
    // A trickle for a second, while the floods press on.
    const until = Date.now() + 1_000;
    while (Date.now() < until) {
      newcomer.send([`hi ${sent++}`]);
      await sleep(50);
    }
    newcomerDone = true;
    await floodsDone;
    const replies: Reply[] = await newcomer.waitReplies(sent, 20_000);
    expect(replies.filter((r) => r.type !== 'accepted').map((r) => `frame ${r.frame}: ${r.code} ${r.message}`)).toEqual([]);
    const metrics = await gw.metrics();
    const refused = (chain: string): number => metrics.sum('chainlanes_fair_share_refused_total', { chain });
    expect(refused('flood-a')).toBeGreaterThan(0);
    expect(refused('flood-b')).toBeGreaterThan(0);
    expect(refused('newcomer')).toBe(0);
    // Each flood was held near its share: 0.45 of 4,000 entries/s, against 8,000 offered.
    for (const f of floods) {
      const accepted = f.replies.filter((r) => r.type === 'accepted').length;
      const busy = f.replies.filter((r) => r.type === 'error' && r.code === 'busy').length;
      expect(busy).toBeGreaterThan(accepted / 4);
    }
    expect((await events(gw)).some((d) => d.kind === 'overloaded' && d.to === 'light')).toBe(true);
    for (const f of floods) f.close();
    newcomer.close();
  }, 90_000);

  it('guards the operator routes with the admin key', async () => {
    const gw = await startCreditGateway();
    expect((await gw.call('GET', '/v1/lanes/events', null)).status).toBe(401);
    const account = await gw.account('someone');
    expect((await gw.call('GET', '/v1/lanes/table', account.key)).status).toBe(403);
    expect((await gw.call('PUT', '/v1/lanes/table', account.key, { lanes: [], shareFloorEntriesPerSec: 0 })).status).toBe(403);
    expect((await gw.call('GET', '/v1/lanes/events', gw.adminKey)).status).toBe(200);
    expect(await gw.call('PUT', '/v1/lanes/table', gw.adminKey, { lanes: [], shareFloorEntriesPerSec: 0 })).toEqual({
      status: 200,
      body: { lanes: [], shareFloorEntriesPerSec: 0 },
    });
  });

  // Needs an address of this machine other than loopback to come from; CI machines have one.
  const outside = Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
  it.skipIf(outside === undefined)('in open mode serves the operator routes to loopback clients only', async () => {
    const gw = await startGateway({ config: { host: '0.0.0.0', allowedHosts: ['*'], auth: { insecureOpen: true } } });
    expect((await gw.http('/v1/lanes/events')).status).toBe(200);
    const far = await fetch(`http://${outside!}:${gw.port}/v1/lanes/table`);
    expect(far.status).toBe(403);
    expect(((await far.json()) as { error: { message: string } }).error.message).toMatch(/only clients on the gateway's own machine/);
    // The read-only view stays public.
    expect((await fetch(`http://${outside!}:${gw.port}/v1/lanes`)).status).toBe(200);
  });
});

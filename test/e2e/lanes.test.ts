// Lanes end to end: a chain moving lane mid-stream, a full ring, a crashing worker.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { REALTIME_NODE_FLAGS } from '../../src/config/index.js';
import { DEFAULT_NICE } from '../../src/scheduler/index.js';
import { QUICK_TO_HEAVY, StreamClient, mayRunRealtime, replyHashes, sha256Hex, sleep, startGateway, type ChildGateway, type Reply } from '../helpers/index.js';

/** The cores the gateway's main thread (its front door) may run on, as the kernel reports them: "0" or "0-1". */
function frontDoorCpus(gw: ChildGateway): string {
  const status = readFileSync(`/proc/${gw.process.pid}/status`, 'utf8');
  return /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? 'unknown';
}

function expectContiguous(replies: Reply[], from = 0): number {
  let next = from;
  for (const r of replies) {
    if (r.type !== 'accepted') continue;
    expect(r.seq).toBe(next);
    next += r.count as number;
  }
  return next;
}

async function expectLaneWithin(gw: ChildGateway, chain: string, lane: string, timeoutMs = 10_000): Promise<void> {
  await expect
    .poll(async () => (await gw.json(`/v1/chains/${chain}`)).lane, { timeout: timeoutMs, interval: 50, message: `chain ${chain} never reached lane ${lane}` })
    .toBe(lane);
}

/** The names of the gateway's threads, as `top -H` shows them. */
function threadNames(gw: ChildGateway): string[] {
  const tasks = `/proc/${gw.process.pid}/task`;
  return readdirSync(tasks).map((tid) => readFileSync(`${tasks}/${tid}/comm`, 'utf8').trim());
}

/**
 * One value of each thread's /proc/…/task/TID/stat, by thread name; `field`
 * numbers as proc(5) does (19 nice, 40 rt_priority, 41 policy).
 */
function threadStat(gw: ChildGateway, ...fields: number[]): Map<string, string[]> {
  const tasks = `/proc/${gw.process.pid}/task`;
  const byName = new Map<string, string[]>();
  for (const tid of readdirSync(tasks)) {
    const stat = readFileSync(`${tasks}/${tid}/stat`, 'utf8');
    // Fields after the name (which may hold spaces) start at field 3.
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const name = readFileSync(`${tasks}/${tid}/comm`, 'utf8').trim();
    byName.set(name, [...(byName.get(name) ?? []), fields.map((field) => after[field - 3]).join('/')]);
  }
  return byName;
}

/** The threads a started gateway runs, by the names it gives them. */
const GATEWAY_THREADS = ['cl-frontdoor', 'cl-sealer', 'cl-scheduler', 'cl-reader', 'cl-lane-heavy', 'cl-lane-medium', 'cl-lane-light'];

/** Until every one of GATEWAY_THREADS runs: the scheduler may still be loading when the gateway listens. */
async function untilAllThreadsStarted(gw: ChildGateway): Promise<void> {
  await expect.poll(() => GATEWAY_THREADS.filter((name) => !threadNames(gw).includes(name)), { timeout: 20_000, interval: 50 }).toEqual([]);
}

describe('lanes', () => {
  it('names its threads, so top -H and the bench tell the front door, the lanes and the sealer apart', async () => {
    const gw = await startGateway();
    await untilAllThreadsStarted(gw);
    // The main thread is the front door, so the process itself goes by that name in top.
    expect(readFileSync(`/proc/${gw.process.pid}/comm`, 'utf8').trim()).toBe('cl-frontdoor');
    // Bulk work yields: heavy at nice 5, Node's own threads (named "node" on Node 20, V8Worker, libuv-worker…
    // from Node 22) at 10, the rest at 0.
    const nice = threadStat(gw, 19);
    expect(nice.get('cl-lane-heavy')).toEqual(['5']);
    for (const name of ['cl-frontdoor', 'cl-sealer', 'cl-lane-medium', 'cl-lane-light']) expect(nice.get(name), name).toEqual(['0']);
    const helpers = [...nice].filter(([name]) => !name.startsWith('cl-'));
    expect(helpers.length, JSON.stringify([...nice])).toBeGreaterThan(0);
    for (const [name, values] of helpers)
      expect(
        values.every((n) => n === String(DEFAULT_NICE.helpers)),
        name,
      ).toBe(true);
  });

  it.skipIf(!mayRunRealtime())('puts the front door alone under SCHED_RR when asked, every other thread ordinary [needs CAP_SYS_NICE]', async () => {
    const gw = await startGateway({ config: { scheduler: { frontDoorRealtimePriority: 3 } } });
    await untilAllThreadsStarted(gw);
    // "policy/priority": 2 is SCHED_RR, 0 an ordinary thread.
    const scheduling = threadStat(gw, 41, 40);
    expect(scheduling.get('cl-frontdoor')).toEqual(['2/3']);
    const others = [...scheduling].filter(([name]) => name !== 'cl-frontdoor');
    for (const [name, values] of others)
      expect(
        values.every((v) => v === '0/0'),
        `${name}: ${values.join(' ')}`,
      ).toBe(true);
    expect(gw.logs()).toContainEqual(expect.objectContaining({ event: 'layout', frontDoorRealtimePriority: 3 }));
    // Started without the node flags it wants, it names them.
    expect(gw.logs()).toContainEqual(expect.objectContaining({ event: 'realtime-gc', priority: 3, missing: REALTIME_NODE_FLAGS }));
    // It serves as before.
    const c = await StreamClient.open(gw.port, 'realtime');
    c.send(['one']);
    const [reply] = await c.waitReplies(1);
    expect(reply).toMatchObject({ type: 'accepted', seq: 0 });
    c.close();
  });

  it.skipIf(!mayRunRealtime())('runs real-time under the node flags it wants, and then warns nothing [needs CAP_SYS_NICE]', async () => {
    // V8 refused some combinations of its collector's flags at start (history 2026-12-07): these must start and serve.
    const gw = await startGateway({ config: { scheduler: { frontDoorRealtimePriority: 3 } }, nodeFlags: REALTIME_NODE_FLAGS });
    expect(gw.logs()).toContainEqual(expect.objectContaining({ event: 'layout', frontDoorRealtimePriority: 3 }));
    expect(gw.logs().filter((line) => line.event === 'realtime-gc')).toEqual([]);
    const c = await StreamClient.open(gw.port, 'realtime-flags');
    c.send(['one', 'two']);
    const [reply] = await c.waitReplies(1);
    expect(reply).toMatchObject({ type: 'accepted', seq: 0, count: 2 });
    c.close();
  });

  it('keeps a chain in order and loses nothing when it moves from light to heavy mid-stream', async () => {
    const gw = await startGateway({
      config: QUICK_TO_HEAVY,
    });
    const c = await StreamClient.open(gw.port, 'mover');
    let frames = 0;
    const sendFrame = (entries: number): void => {
      c.send(Array.from({ length: entries }, (_, k) => `f${frames}-${k}`));
      frames++;
    };
    for (let i = 0; i < 15; i++) {
      sendFrame(1);
      await sleep(20);
    }
    expect((await gw.json('/v1/chains/mover')).lane).toBe('light');
    const floodUntil = Date.now() + 1_500;
    while (Date.now() < floodUntil) {
      sendFrame(64);
      await sleep(4);
    }
    await expectLaneWithin(gw, 'mover', 'heavy');
    for (let i = 0; i < 20; i++) sendFrame(3);
    const replies = await c.waitReplies(frames);
    expect(replies.every((r) => r.type === 'accepted')).toBe(true);
    replies.forEach((r, f) => {
      expect(r.frame).toBe(f);
      expect(replyHashes(r)[0]).toBe(sha256Hex(`f${f}-0`));
    });
    const total = expectContiguous(replies);
    expect(gw.logs()).toContainEqual(expect.objectContaining({ event: 'lane-change', chain: 'mover', from: 'light', to: 'heavy' }));
    // Both rings fed the sealer: every block is committed, contiguous, and an entry from each side verifies.
    const committed = await c.waitCommitted((cs) => cs.reduce((n, x) => n + (x.count as number), 0) >= total);
    expectContiguous(committed.map((x) => ({ ...x, type: 'accepted' })));
    for (const seq of [0, 14, 15, total - 1]) {
      const res = await gw.http(`/v1/chains/mover/entries/${seq}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ seq });
    }
    c.close();
  });

  it('answers busy at once when a lane ring is full, leaves no trace, and other lanes keep accepting', async () => {
    const gw = await startGateway({
      // The sealer frees ring space at most every 200 ms: the 8 KiB light ring (two frames of the flood) fills for
      // certain, where otherwise a sealer that keeps pace with a slowed front door (a loaded machine) would never let it.
      env: { CHAINLANES_TEST_FAULTS: JSON.stringify({ sealerDrainEveryMs: 200 }) },
      config: {
        limits: { maxFrameBytes: 4096, maxEntriesPerFrame: 64 },
        ringBytes: { heavy: 1 << 20, medium: 1 << 20, light: 8192 },
        scheduler: { tickMs: 50, demoteAfterMs: 60_000, laneTable: { lanes: [{ lane: 'heavy', minEntriesPerSec: 20 }], shareFloorEntriesPerSec: 1e12 } },
      },
    });
    const steady = await StreamClient.open(gw.port, 'steady');
    let warm = 0;
    // Warm it up until the scheduler moves it to heavy (about 200 entries/s against a threshold of 20).
    const warmUntil = Date.now() + 10_000;
    while ((await gw.json('/v1/chains/steady')).lane !== 'heavy' && Date.now() < warmUntil) {
      for (let i = 0; i < 10; i++, warm++) {
        steady.send([`warm-${warm}`]);
        await sleep(5);
      }
    }
    await expectLaneWithin(gw, 'steady', 'heavy');
    const flood = await StreamClient.open(gw.port, 'flood');
    const frames = 200;
    const payload = 'x'.repeat(3_000);
    for (let f = 0; f < frames; f++) flood.send([`${f}:${payload}`]);
    steady.send(['during the flood']);
    const replies = await flood.waitReplies(frames);
    const busy = replies.filter((r) => r.type === 'error');
    expect(busy.length).toBeGreaterThan(0);
    busy.forEach((r) => expect(r).toMatchObject({ code: 'busy', message: expect.stringMatching(/light lane is full/) }));
    replies.forEach((r, f) => expect(r.frame).toBe(f));
    // Busy frames took no seq: the accepted ones are contiguous from 0.
    const accepted = expectContiguous(replies);
    expect(accepted).toBe(replies.length - busy.length);
    expect((await gw.json('/v1/chains/flood')).nextSeq).toBe(accepted);
    const steadyReplies = await steady.waitReplies(warm + 1);
    expect(steadyReplies[warm]).toMatchObject({ type: 'accepted', seq: warm });
    flood.close();
    steady.close();
  });

  it('replaces a crashed worker and still answers every frame it held, in order and without gaps', async () => {
    const gw = await startGateway({ env: { CHAINLANES_TEST_FAULTS: JSON.stringify({ crashWorkerAfterTasks: 3 }) } });
    const c = await StreamClient.open(gw.port, 'crashy');
    const frames = 30;
    // Eight entries per frame: more than the front door hashes inline, so every frame goes to a worker.
    for (let f = 0; f < frames; f++) {
      c.send([`crash-${f}`, ...Array.from({ length: 7 }, (_, k) => `more-${f}-${k}`)]);
      await c.waitReplies(f + 1);
    }
    const replies = c.replies;
    replies.forEach((r, f) => {
      expect(r).toMatchObject({ type: 'accepted', frame: f, count: 8 });
      expect(replyHashes(r)[0]).toBe(sha256Hex(`crash-${f}`));
    });
    expect(expectContiguous(replies)).toBe(8 * frames);
    const retries = (await gw.metrics()).sum('chainlanes_lane_worker_retries_total');
    expect(retries).toBeGreaterThanOrEqual(frames / 3 - 1);
    c.close();
  });

  it.skipIf(availableParallelism() < 2)('lets the front door use both cores while no chain is heavy, and pins it back while one is', async () => {
    const gw = await startGateway({
      config: { ...QUICK_TO_HEAVY, cores: { frontdoor: [0], frontdoorQuiet: [0, 1], heavy: [1], medium: [0, 1], light: [0, 1] } },
    });
    await expect.poll(() => frontDoorCpus(gw), { timeout: 10_000, interval: 50 }).toBe('0-1');
    expect((await gw.json<{ frontdoor: unknown }>('/v1/lanes')).frontdoor).toEqual({ cores: [0, 1], pinned: [0], quiet: [0, 1] });
    const c = await StreamClient.open(gw.port, 'flood');
    const floodUntil = Date.now() + 1_500;
    let frames = 0;
    while (Date.now() < floodUntil) {
      c.send(Array.from({ length: 64 }, (_, k) => `e${frames}-${k}`));
      frames++;
      await sleep(4);
    }
    await expectLaneWithin(gw, 'flood', 'heavy');
    await expect.poll(() => frontDoorCpus(gw), { timeout: 20_000, interval: 50 }).toBe('0');
    expect((await gw.json<{ frontdoor: { cores: number[] } }>('/v1/lanes')).frontdoor.cores).toEqual([0]);
    expect(gw.logs()).toContainEqual(expect.objectContaining({ event: 'frontdoor-cores', cores: [0] }));
    // Nothing was lost to the moves.
    const replies = await c.waitReplies(frames);
    expect(replies.every((r) => r.type === 'accepted')).toBe(true);
    c.close();
  });
});

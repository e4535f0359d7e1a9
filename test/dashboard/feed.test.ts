// GET / and the dashboard's files, and its live feed, over real HTTP and
// WebSocket clients (the browser itself: test/e2e/dashboard-browser.test.ts).
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ROOT, StreamClient, sleep, startGateway } from '../helpers/index.js';
import { startCreditGateway, type Account, type CreditGateway } from '../helpers/credits.js';
import { httpRequest } from '../helpers/connections.js';
import { CHAIN_COLUMNS, CHAIN_HISTORY, DASHBOARD, type DashboardSample } from '../../src/dashboard/index.js';
import { execFile } from 'node:child_process';

/** Runs python3 with `args` from the repository root; resolves with its stdout. */
function runPython(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('python3', args, { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) =>
      error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`)),
    );
  });
}

interface FeedMessage {
  type: 'hello' | 'tick' | 'chain-history' | 'chain-point' | 'error';
  chains: { name: string; lane: string }[];
  lanes: { lanes: { name: string; chains: string[] }[] };
  viewer: string;
  history?: unknown[];
  events?: { id: number; kind: string; chain?: string; reason: string }[];
  chain?: string;
  series?: Record<string, (number | null)[]>;
  error?: { code: string; message: string };
}

type OpenFeed = { ws: WebSocket; messages: FeedMessage[] };

function opened(feed: OpenFeed | { status: number; body: string }): OpenFeed {
  if (!('ws' in feed)) throw new Error(`feed refused: ${feed.status} ${feed.body}`);
  return feed;
}

/** A gateway in authenticated mode with two accounts, each owning a chain. */
async function twoOwners(): Promise<{ gw: CreditGateway; alice: Account }> {
  const gw = await startCreditGateway();
  const alice = await gw.account('alice');
  const bob = await gw.account('bob');
  await gw.chain('alice-chain', alice);
  await gw.chain('bob-chain', bob);
  return { gw, alice };
}

const ofType = (feed: OpenFeed, type: FeedMessage['type']): FeedMessage[] => feed.messages.filter((m) => m.type === type);

/** Opens the feed and collects its messages; `headers` may carry a key. */
function openFeed(
  port: number,
  query = '',
  headers: Record<string, string> = {},
): Promise<{ ws: WebSocket; messages: FeedMessage[] } | { status: number; body: string }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/dashboard/stream${query}`, { headers });
  const messages: FeedMessage[] = [];
  ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as FeedMessage));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

describe('dashboard files', () => {
  it('serves the page and its modules with their types and cache headers, and answers 304 to a matching ETag', async () => {
    const gw = await startGateway();
    const page = await gw.http('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'; script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(await page.text()).toContain('<script type="importmap">');
    const etag = page.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await gw.http('/', { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    for (const path of [
      '/web/app.js',
      '/web/explorer.js',
      '/lib/src/client/verify.js',
      '/lib/src/protocol/index.js',
      '/lib/noble-hashes/sha2.js',
      '/lib/msgpackr/index.js',
      '/lib/uplot/uPlot.esm.js',
      '/web/charts.js',
    ]) {
      const res = await gw.http(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe('text/javascript; charset=utf-8');
    }
    expect((await gw.http('/web/style.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await gw.http('/lib/uplot/uPlot.min.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('serves nothing outside its files: traversal, encoded traversal, folders and other extensions are 404', async () => {
    const gw = await startGateway();
    const attempts = [
      '/web/../package.json',
      '/web/%2e%2e/package.json',
      '/web/..%2fpackage.json',
      '/web/%2e%2e%2f%2e%2e%2fpackage.json',
      '/lib/src/client/../../../package.json',
      '/lib/noble-hashes/../package.json',
      '/web//etc/passwd',
      '/web/',
      '/web',
      '/lib/src/client/verify.js.map',
      '/lib/src/client/verify.d.ts',
      '/lib/msgpackr/node-index.js',
      '/lib/msgpackr/package.json',
      '/lib/src/ledger/store.js',
      '/web/index.html%00.js',
      '/web/APP.JS',
      '/lib/uplot/uPlot.cjs.js',
      '/lib/uplot/uPlot.d.ts',
      '/lib/uplot/../package.json',
    ];
    for (const path of attempts) {
      const answer = await httpRequest(gw.port, path);
      expect(answer.status, path).toBe(404);
      expect(answer.body, path).not.toContain('"name": "chainlanes"');
    }
    // The gateway keeps serving after them.
    expect((await gw.http('/')).status).toBe(200);
  });
});

describe('dashboard feed', () => {
  it('sends the lanes and chains at once, then one message per tick however busy the chains are', async () => {
    const gw = await startGateway({ config: { ledger: { blockIntervalMs: 50 } } });
    const writer = await StreamClient.open(gw.port, 'busy');
    const feed = await openFeed(gw.port);
    if (!('ws' in feed)) throw new Error(`feed refused: ${feed.status} ${feed.body}`);
    const { messages } = feed;
    const ticks = (): FeedMessage[] => messages.filter((m) => m.type === 'tick');
    // Traffic until thousands of frames were sent over several ticks (for at most a minute).
    const deadline = Date.now() + 60_000;
    let frames = 0;
    while ((frames < 2_000 || ticks().length < 4) && Date.now() < deadline) {
      for (let i = 0; i < 20; i++, frames++) writer.send([`entry ${frames}`]);
      await sleep(5);
    }
    await writer.waitReplies(frames);
    expect(messages[0]!.type).toBe('hello');
    expect(messages[0]!.lanes.lanes.map((l) => l.name)).toEqual(['heavy', 'medium', 'light']);
    expect(messages.slice(1).every((m) => m.type === 'tick')).toBe(true);
    const samples = ticks().map((t) => (t as unknown as { sample: DashboardSample }).sample);
    expect(samples.length).toBeGreaterThanOrEqual(4);
    // Thousands of frames, yet only the timer's ticks: the gateway's own clock puts a tick between any two
    // messages (half a tick of slack for its clock against the timer's), where one per frame would put none.
    expect(frames).toBeGreaterThanOrEqual(2_000);
    expect(samples.length).toBeLessThan(frames / 20);
    for (let i = 1; i < samples.length; i++) expect(samples[i]!.at - samples[i - 1]!.at).toBeGreaterThanOrEqual(DASHBOARD.tickMs / 2);
    expect(
      ticks()
        .at(-1)!
        .chains.map((c) => c.name),
    ).toContain('busy');
    // Latencies of the traffic: accepted from the hash histograms, committed sampled from admission to seal.
    expect(samples.some((x) => x.acceptedP50Ms !== null && x.acceptedP50Ms > 0)).toBe(true);
    const committed = samples.filter((x) => x.committedP50Ms !== null);
    expect(committed.length).toBeGreaterThan(0);
    for (const x of committed) expect(x.committedP99Ms!).toBeGreaterThanOrEqual(x.committedP50Ms!);
    expect(samples.reduce((n, x) => n + x.acceptedPerSec, 0)).toBeGreaterThan(0);
    feed.ws.close();
    writer.close();
  }, 90_000);

  it('needs a key in authenticated mode, and shows an owner only its own chains', async () => {
    const { gw, alice } = await twoOwners();

    const none = await openFeed(gw.port);
    expect(none).toMatchObject({ status: 401 });
    const wrong = await openFeed(gw.port, '?key=clk_wrong');
    expect(wrong).toMatchObject({ status: 401 });
    expect((await gw.call('GET', '/v1/dashboard/session', null)).status).toBe(401);
    expect((await gw.call('GET', '/v1/dashboard/session', alice.key)).body).toEqual({ mode: 'authenticated', viewer: alice.id });

    const owner = await openFeed(gw.port, `?key=${encodeURIComponent(alice.key)}`);
    if (!('ws' in owner)) throw new Error(`owner refused: ${owner.status} ${owner.body}`);
    const admin = await openFeed(gw.port, '', { authorization: `Bearer ${gw.adminKey}` });
    if (!('ws' in admin)) throw new Error(`admin refused: ${admin.status} ${admin.body}`);
    await expect.poll(() => owner.messages.filter((m) => m.type === 'tick').length, { timeout: 20_000 }).toBeGreaterThan(1);
    await expect.poll(() => admin.messages.filter((m) => m.type === 'tick').length, { timeout: 20_000 }).toBeGreaterThan(1);
    for (const message of owner.messages) {
      expect(message.viewer).toBe(alice.id);
      expect(message.chains.map((c) => c.name)).toEqual(['alice-chain']);
      expect(message.lanes.lanes.flatMap((l) => l.chains)).toEqual(['alice-chain']);
    }
    expect(
      admin.messages
        .at(-1)!
        .chains.map((c) => c.name)
        .sort(),
    ).toEqual(['alice-chain', 'bob-chain']);
    owner.ws.close();
    admin.ws.close();
  });

  it('skips a browser that does not read instead of queueing for it, and keeps it open', { timeout: 90_000 }, async () => {
    const gw = await startGateway();
    // As many chains as a message lists, with long names: each message is some 250 KB, so the kernel's
    // socket buffers (a few MB on loopback) hold only part of a 10 s pause and the rest backs up into the gateway.
    const names = Array.from({ length: DASHBOARD.maxChains }, (_, i) => `slow-reader-${String(i).padStart(3, '0')}-${'x'.repeat(112)}`);
    for (let i = 0; i < names.length; i += 30) {
      await Promise.all(
        names.slice(i, i + 30).map(async (name) => {
          const res = await gw.http(`/v1/chains/${name}/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '["x"]' });
          expect(res.status).toBe(200);
        }),
      );
    }
    const pauseMs = 10_000;
    // It reads until it has three ticks made after it resumed, for at most half a minute.
    const ticksAfter = 3;
    const run = await runPython(['test/fixtures/slow_feed_reader.py', String(gw.port), String(pauseMs), '30000', String(ticksAfter)]);
    const seen = JSON.parse(run) as { ticks: number[]; close: number | null; bytes: number; pausedAt: number; resumedAt: number };
    const during = seen.ticks.filter((at) => at > seen.pausedAt && at <= seen.resumedAt);
    const after = seen.ticks.filter((at) => at > seen.resumedAt);
    // Without skipping every tick of the pause would have been queued for it (and past uWS's own bound, the socket closed).
    expect(during.length, `${during.length} ticks of the pause were sent, ${seen.bytes} bytes`).toBeLessThan(pauseMs / DASHBOARD.tickMs / 2);
    expect(seen.close).toBeNull();
    // Once it reads again it is sent the current state, tick after tick.
    expect(after.length).toBeGreaterThanOrEqual(ticksAfter);
  });
});

describe("dashboard feed: the balancer's decisions and the chain view", () => {
  it('sends each decision once as it is made, as GET /v1/lanes/events lists it; an owner gets those of its chains', async () => {
    const { gw, alice } = await twoOwners();
    const admin = opened(await openFeed(gw.port, '', { authorization: `Bearer ${gw.adminKey}` }));
    const owner = opened(await openFeed(gw.port, `?key=${encodeURIComponent(alice.key)}`));
    for (const chain of ['bob-chain', 'alice-chain']) {
      expect((await gw.call('PUT', `/v1/chains/${chain}/lane`, gw.adminKey, { lane: 'heavy' })).status).toBe(200);
    }
    const pins = (feed: OpenFeed) =>
      ofType(feed, 'tick')
        .flatMap((m) => m.events ?? [])
        .filter((e) => e.kind === 'pin');
    await expect.poll(() => pins(admin).length, { timeout: 5_000 }).toBe(2);
    const listed = (await gw.call<{ events: { id: number; kind: string }[] }>('GET', '/v1/lanes/events', gw.adminKey)).body.events.filter(
      (e) => e.kind === 'pin',
    );
    expect(pins(admin)).toEqual(listed);
    await expect.poll(() => pins(owner).length, { timeout: 5_000 }).toBe(1);
    expect(pins(owner)[0]).toMatchObject({ chain: 'alice-chain', reason: expect.stringMatching(/pinned chain "alice-chain" to heavy/) });
    // An account may not read the balancer's history itself.
    expect((await gw.call('GET', '/v1/lanes/events', alice.key)).status).toBe(403);
    admin.ws.close();
    owner.ws.close();
  });

  it('gives a watched chain its history, then a point a second; refuses bad messages and keeps serving', async () => {
    const gw = await startGateway({ config: { ledger: { blockIntervalMs: 50 } } });
    const writer = await StreamClient.open(gw.port, 'watched');
    const feed = opened(await openFeed(gw.port));
    let frames = 0;
    const write = async (ms: number): Promise<void> => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        for (let i = 0; i < 10; i++, frames++) writer.send([`entry ${frames}`]);
        await sleep(20);
      }
    };
    await write(1500);
    feed.ws.send(JSON.stringify({ watch: 'watched' }));
    await expect.poll(() => ofType(feed, 'chain-history').length, { timeout: 5_000 }).toBe(1);
    const [history] = ofType(feed, 'chain-history') as (FeedMessage & { lanes: string[]; pointMs: number })[];
    expect(history).toMatchObject({ chain: 'watched', pointMs: CHAIN_HISTORY.pointMs, lanes: ['heavy', 'medium', 'light'] });
    const columns = Object.values(history!.series!);
    expect(Object.keys(history!.series!)).toEqual([...CHAIN_COLUMNS]);
    for (const column of columns) expect(column).toHaveLength(history!.series!.at!.length);
    // The chain was busy before anyone watched it: its points are there already.
    expect(history!.series!.acceptedPerSec!.some((v) => v !== null && v > 0)).toBe(true);
    await write(2500);
    await writer.waitReplies(frames);
    const points = ofType(feed, 'chain-point');
    expect(points.length).toBeGreaterThan(1);
    for (const point of points) expect(point.series!.at).toHaveLength(1);
    expect(points.some((p) => p.series!.acceptedPerSec![0]! > 0)).toBe(true);

    // Refused, each with its cause, and the feed goes on.
    const refusals = async (message: string | Buffer): Promise<FeedMessage['error']> => {
      const before = ofType(feed, 'error').length;
      feed.ws.send(message);
      await expect.poll(() => ofType(feed, 'error').length, { timeout: 5_000 }).toBe(before + 1);
      return ofType(feed, 'error').at(-1)!.error;
    };
    expect(await refusals('nope')).toEqual({
      code: 'bad_request',
      message: 'the feed reads only {"watch": chain name or null}, got text that is not JSON (4 characters)',
    });
    expect(await refusals('{"watch": 5}')).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/got \{"watch":5\}$/) });
    expect(await refusals('{"watch": "x", "and": 1}')).toMatchObject({ code: 'bad_request' });
    expect(await refusals(Buffer.from([1, 2, 3]))).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/got a binary message/) });
    expect(await refusals('{"watch": "missing"}')).toEqual({ code: 'unknown_chain', message: 'no chain "missing"' });
    // A page that sends a hundred watches gets at most one history a tick.
    const ticksBefore = ofType(feed, 'tick').length;
    const historiesBefore = ofType(feed, 'chain-history').length;
    for (let i = 0; i < 100; i++) feed.ws.send(JSON.stringify({ watch: 'watched' }));
    await expect.poll(() => ofType(feed, 'tick').length, { timeout: 10_000 }).toBeGreaterThan(ticksBefore + 4);
    const histories = ofType(feed, 'chain-history').length - historiesBefore;
    expect(histories).toBeGreaterThan(0);
    expect(histories).toBeLessThanOrEqual(ofType(feed, 'tick').length - ticksBefore);
    // Unwatched: no more points.
    feed.ws.send(JSON.stringify({ watch: null }));
    await sleep(CHAIN_HISTORY.pointMs / 2);
    const pointsNow = ofType(feed, 'chain-point').length;
    const ticksNow = ofType(feed, 'tick').length;
    await expect.poll(() => ofType(feed, 'tick').length, { timeout: 10_000 }).toBeGreaterThan(ticksNow + (2 * CHAIN_HISTORY.pointMs) / DASHBOARD.tickMs);
    expect(ofType(feed, 'chain-point').length).toBe(pointsNow);
    // Past the feed's bound on what it reads, uWS drops the connection (no close frame: 1006); the gateway serves the next one.
    const closed = new Promise<number>((resolve) => feed.ws.once('close', resolve));
    feed.ws.send(JSON.stringify({ watch: 'x'.repeat(DASHBOARD.maxMessageBytes) }));
    expect([1006, 1009]).toContain(await closed);
    const next = opened(await openFeed(gw.port));
    await expect.poll(() => ofType(next, 'tick').length, { timeout: 5_000 }).toBeGreaterThan(0);
    next.ws.close();
    writer.close();
  });

  it('lets an owner watch only its own chains', async () => {
    const { gw, alice } = await twoOwners();
    const owner = opened(await openFeed(gw.port, `?key=${encodeURIComponent(alice.key)}`));
    owner.ws.send(JSON.stringify({ watch: 'bob-chain' }));
    await expect.poll(() => ofType(owner, 'error').length, { timeout: 5_000 }).toBe(1);
    expect(ofType(owner, 'error')[0]!.error).toEqual({ code: 'unknown_chain', message: 'no chain "bob-chain" among those this key sees' });
    owner.ws.send(JSON.stringify({ watch: 'alice-chain' }));
    await expect.poll(() => ofType(owner, 'chain-history').length, { timeout: 5_000 }).toBe(1);
    expect(ofType(owner, 'chain-history')[0]!.chain).toBe('alice-chain');
    owner.ws.close();
  });
});

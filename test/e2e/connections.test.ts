// Connection limits end to end: per client address, in total (WebSocket
// connections and HTTP requests in flight), and under a low file-descriptor
// limit, where uWS would otherwise spin on accept() at EMFILE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { request, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import type WebSocket from 'ws';
import {
  CLI,
  sleep,
  startGateway,
  type ChildGateway,
  closeAll,
  cpuShare,
  httpRequest,
  openDescriptorsOf,
  tryStream,
  type StreamAttempt,
} from '../helpers/index.js';

/** Opens `n` streams from `localAddress`, `batch` at a time. */
async function openMany(port: number, n: number, localAddress?: string, batch = 50): Promise<StreamAttempt[]> {
  const attempts: StreamAttempt[] = [];
  for (let i = 0; i < n; i += batch) {
    const size = Math.min(batch, n - i);
    attempts.push(...(await Promise.all(Array.from({ length: size }, (_, k) => tryStream(port, `c${(i + k) % 7}`, { localAddress })))));
  }
  return attempts;
}

const opened = (attempts: StreamAttempt[]): WebSocket[] => attempts.flatMap((a) => (a.kind === 'open' ? [a.ws] : []));

/** How long a freed slot may take to show, however busy the machine: a bound on waiting, not a claim of speed. */
const FREED_WITHIN_MS = 20_000;

async function refusedByCause(gw: ChildGateway, cause: string): Promise<number> {
  return (await gw.metrics()).valueOrUndefined('chainlanes_requests_refused_total', { cause }) ?? 0;
}

/** Retries a stream every 100 ms until it opens (or `timeoutMs` passes); the last attempt. */
async function openWithin(port: number, localAddress: string, timeoutMs = FREED_WITHIN_MS): Promise<StreamAttempt> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const attempt = await tryStream(port, 'retry', { localAddress });
    if (attempt.kind === 'open' || performance.now() > deadline) return attempt;
    await sleep(100);
  }
}

describe('connection limits', () => {
  let gw: ChildGateway;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    gw = await startGateway({ config: { limits: { maxConnections: 20, maxConnectionsPerAddress: 10 } } });
  });
  afterAll(async () => {
    await closeAll(sockets);
    await gw.stop();
  });

  it('caps one client address while another still connects', async () => {
    const first = await openMany(gw.port, 10, '127.0.0.2');
    sockets.push(...opened(first));
    expect(first.map((a) => a.kind)).toEqual(Array(10).fill('open'));

    const eleventh = await tryStream(gw.port, 'more', { localAddress: '127.0.0.2' });
    expect(eleventh).toMatchObject({ kind: 'refused', status: 503, body: { error: { code: 'busy' } }, connection: 'close' });
    if (eleventh.kind === 'refused') expect(eleventh.body.error.message).toMatch(/127\.0\.0\.2 holds its limit of 10 .*limits\.maxConnectionsPerAddress/);
    // HTTP requests count against the same address.
    const get = await httpRequest(gw.port, '/v1/chains', { localAddress: '127.0.0.2' });
    expect(get.status).toBe(503);
    expect(JSON.parse(get.body)).toMatchObject({ error: { code: 'busy', message: expect.stringMatching(/maxConnectionsPerAddress/) } });

    const other = await tryStream(gw.port, 'more', { localAddress: '127.0.0.3' });
    expect(other.kind).toBe('open');
    if (other.kind === 'open') sockets.push(other.ws);
    expect((await httpRequest(gw.port, '/v1/chains', { localAddress: '127.0.0.3' })).status).toBe(200);
    await closeAll(sockets);
  });

  it('answers a few refusals to one address per turn and closes the rest unanswered: 32 pipelined requests are not 32 refusals', async () => {
    sockets.push(...opened(await openMany(gw.port, 10, '127.0.0.7')));
    const refusedBefore = await refusedByCause(gw, 'address');
    const raw = connect({ port: gw.port, host: '127.0.0.1', localAddress: '127.0.0.7' });
    raw.on('error', () => undefined);
    await once(raw, 'connect');
    raw.write(Array.from({ length: 32 }, () => 'GET /v1/chains HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n').join(''));
    raw.resume();
    await once(raw, 'close');
    // Asked until the refusals show in the metrics.
    let refused = 0;
    await expect.poll(async () => (refused = (await refusedByCause(gw, 'address')) - refusedBefore), { timeout: FREED_WITHIN_MS }).toBeGreaterThanOrEqual(1);
    expect(refused).toBeLessThanOrEqual(9);
    // A request of its own, in a later turn, is answered again, naming the cause.
    const single = await httpRequest(gw.port, '/v1/chains', { localAddress: '127.0.0.7' });
    expect(single.status).toBe(503);
    expect(JSON.parse(single.body)).toMatchObject({ error: { code: 'busy', message: expect.stringMatching(/maxConnectionsPerAddress/) } });
    await closeAll(sockets);
  });

  it('refuses past maxConnections at once with 503 busy, counting HTTP requests in flight, and still answers /healthz', async () => {
    // An HTTP request in flight: a POST whose body never ends.
    const post: ClientRequest = request({
      host: '127.0.0.1',
      port: gw.port,
      path: '/v1/chains/slow/entries',
      method: 'POST',
      localAddress: '127.0.0.4',
      agent: false,
      headers: { 'content-type': 'application/msgpack', 'content-length': '1000' },
    });
    post.on('error', () => undefined);
    post.write(pack(['x']).subarray(0, 1));
    // Wait until the gateway counts it (the metrics request itself is the other one in flight).
    await expect.poll(async () => (await gw.metrics()).value('chainlanes_http_requests_in_flight'), { timeout: 20_000 }).toBe(2);

    sockets.push(...opened(await openMany(gw.port, 10, '127.0.0.2')), ...opened(await openMany(gw.port, 9, '127.0.0.3')));
    expect(sockets).toHaveLength(19);

    // Refused with an answer, not left to time out (how fast: `npm run bench -- --scenario limits`).
    const refused = await tryStream(gw.port, 'one-too-many', { localAddress: '127.0.0.5' });
    expect(refused).toMatchObject({ kind: 'refused', status: 503, body: { error: { code: 'busy' } } });
    if (refused.kind === 'refused') expect(refused.body.error.message).toMatch(/limit of 20 connections .*limits\.maxConnections\b/);
    const get = await httpRequest(gw.port, '/v1/lanes', { localAddress: '127.0.0.5' });
    expect(get).toMatchObject({ status: 503, connection: 'close' });

    // /healthz holds no slot: an operator's probe gets through at the limit, also from a capped address.
    for (const localAddress of ['127.0.0.5', '127.0.0.2']) {
      expect((await httpRequest(gw.port, '/healthz', { localAddress })).status).toBe(200);
    }

    // The aborted POST gives its slot back (within the guard's 1 s sweep)…
    post.destroy();
    const afterAbort = await openWithin(gw.port, '127.0.0.5');
    expect(afterAbort.kind).toBe('open');
    if (afterAbort.kind === 'open') sockets.push(afterAbort.ws);
    expect((await tryStream(gw.port, 'full-again', { localAddress: '127.0.0.5' })).kind).toBe('refused');
    // …and so does a closed stream.
    sockets.shift()!.close();
    const afterClose = await openWithin(gw.port, '127.0.0.5');
    expect(afterClose.kind).toBe('open');
    if (afterClose.kind === 'open') sockets.push(afterClose.ws);
    await closeAll(sockets);

    const metrics = await gw.metrics();
    expect(metrics.value('chainlanes_requests_refused_total', { cause: 'connections' })).toBeGreaterThanOrEqual(3);
    expect(metrics.value('chainlanes_requests_refused_total', { cause: 'address' })).toBeGreaterThanOrEqual(2);
    expect(metrics.value('chainlanes_max_connections')).toBe(20);
    expect(gw.logs().some((l) => l.event === 'refused' && l.cause === 'connections')).toBe(true);
  });
});

const LOW_LIMIT = 256;
/**
 * uWS spinning on accept() at EMFILE takes a whole core; an idle gateway takes
 * next to none. A busy machine only lowers what the gateway gets, so this
 * tells spinning from idle and is no claim of speed.
 */
const SPINNING = 0.5;
const LAUNCHER = ['prlimit', `--nofile=${LOW_LIMIT}:${LOW_LIMIT}`, '--'];
const linux = process.platform === 'linux' && spawnSync('prlimit', ['--version']).status === 0;

describe.skipIf(!linux)(`a file-descriptor limit of ${LOW_LIMIT}`, () => {
  let gw: ChildGateway;
  const sockets: WebSocket[] = [];
  let maxConnections = 0;

  beforeAll(async () => {
    // Per address as many as in total, so that one test address can reach the total.
    gw = await startGateway({ launcher: LAUNCHER, config: { limits: { maxConnectionsPerAddress: 10_000 } } });
    const limits = gw.logs().find((l) => l.event === 'connection-limits')!;
    expect(limits).toMatchObject({ descriptorLimit: LOW_LIMIT });
    maxConnections = limits.maxConnections as number;
    // The limit less what is in use at start and a reserve of 64.
    expect(maxConnections).toBe(LOW_LIMIT - (limits.descriptorsInUse as number) - 64);
  });
  afterAll(async () => {
    await closeAll(sockets);
    await gw?.stop();
  });

  it('refuses a configured maxConnections the limit cannot hold, at start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chainlanes-fd-'));
    try {
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ limits: { maxConnections: 1000 } }));
      const run = spawnSync(
        LAUNCHER[0]!,
        [
          ...LAUNCHER.slice(1),
          process.execPath,
          CLI,
          'serve',
          '--port',
          '0',
          '--data',
          join(dir, 'data'),
          '--config',
          join(dir, 'config.json'),
          '--log-format',
          'json',
        ],
        { encoding: 'utf8', timeout: 20_000 },
      );
      expect(run.status).toBe(2);
      expect(run.stdout + run.stderr).toMatch(
        new RegExp(`limits\\.maxConnections: 1000 is more than the file-descriptor limit allows: of ${LOW_LIMIT} descriptors`),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds what it can, refuses the rest at once, stays idle, and answers /healthz', async () => {
    const attempts = await openMany(gw.port, 300);
    sockets.push(...opened(attempts));
    expect(sockets).toHaveLength(maxConnections);
    const refused = attempts.filter((a) => a.kind !== 'open');
    expect(refused).toHaveLength(300 - maxConnections);
    // Answered 503 busy, but past a few refusals to one address in one turn of the gateway the connection is closed unanswered.
    const answered = refused.filter((a) => a.kind === 'refused');
    expect(answered.length).toBeGreaterThanOrEqual(8);
    for (const a of answered) expect(a).toMatchObject({ kind: 'refused', status: 503, body: { error: { code: 'busy' } } });

    expect(openDescriptorsOf(gw.process.pid!)).toBeLessThan(LOW_LIMIT - 32);
    expect(await cpuShare(gw.process.pid!)).toBeLessThan(SPINNING);
    expect((await httpRequest(gw.port, '/healthz')).status).toBe(200);
  });

  it('refuses new connections and requests while sockets it cannot count use up the reserve', async () => {
    // Leave room under the connection limit, so only the descriptors can refuse.
    await closeAll(sockets);
    sockets.push(...opened(await openMany(gw.port, 100)));
    const limits = gw.logs().find((l) => l.event === 'connection-limits')!;
    // The gateway is shared with the tests before: wait until it is not low (any more), and then
    // for events after this point only, so an earlier test's `descriptors-low` does not count.
    const descriptorEvents = (): unknown[] =>
      gw
        .logs()
        .map((l) => l.event)
        .filter((e) => e === 'descriptors-low' || e === 'descriptors-ok');
    await expect.poll(() => descriptorEvents().at(-1)).not.toBe('descriptors-low');
    const before = descriptorEvents().length;
    // Connected, but no request yet: the guard cannot see these (uWS would close them after about 10 s).
    const idle: Socket[] = [];
    const spare = (limits.lowAt as number) - openDescriptorsOf(gw.process.pid!) + 8;
    for (let i = 0; i < spare; i++) {
      const socket = connect(gw.port, '127.0.0.1');
      socket.on('error', () => undefined);
      idle.push(socket);
    }
    await expect.poll(() => descriptorEvents().slice(before), { timeout: FREED_WITHIN_MS }).toContain('descriptors-low');
    const low = descriptorEvents().length;
    expect(openDescriptorsOf(gw.process.pid!)).toBeLessThan(LOW_LIMIT);

    const refused = await tryStream(gw.port, 'low');
    expect(refused).toMatchObject({
      kind: 'refused',
      status: 503,
      body: { error: { code: 'busy', message: expect.stringMatching(/short of file descriptors/) } },
    });
    expect(await httpRequest(gw.port, '/v1/chains')).toMatchObject({ status: 503, connection: 'close' });
    expect((await httpRequest(gw.port, '/healthz')).status).toBe(200);
    expect(await cpuShare(gw.process.pid!)).toBeLessThan(SPINNING);

    for (const socket of idle) socket.destroy();
    await expect.poll(() => descriptorEvents().slice(low), { timeout: FREED_WITHIN_MS }).toContain('descriptors-ok');
    expect((await tryStream(gw.port, 'ok-again')).kind).toBe('open');
    const metrics = await gw.metrics();
    expect(metrics.value('chainlanes_requests_refused_total', { cause: 'descriptors' })).toBeGreaterThan(0);
    expect(metrics.value('chainlanes_descriptors_low_total')).toBeGreaterThan(0);
  });

  /** The gateway's log events about descriptors and listening, from `from` on: what a failed wait prints. */
  const listenEvents = (from = 0): string[] =>
    gw
      .logs()
      .slice(from)
      .filter((l) => /^(descriptors-|listening-|listen-failed)/.test(String(l.event)))
      .map((l) => `${String(l.event)}(${String(l.openDescriptors ?? l.error ?? '')})`);

  /** Waits for `event` in the log after line `from`; on failure names the events seen and `context`. */
  async function logged(event: string, from: number, context: string): Promise<Record<string, unknown>> {
    const find = () =>
      gw
        .logs()
        .slice(from)
        .find((l) => l.event === event);
    try {
      await expect.poll(() => find() !== undefined, { timeout: FREED_WITHIN_MS }).toBe(true);
    } catch {
      const { exitCode, signalCode } = gw.process;
      const alive = exitCode === null && signalCode === null ? 'running' : `exited (${exitCode ?? signalCode})`;
      throw new Error(
        `no ${event} in the gateway's log (${context}); its descriptor and listen events: ${listenEvents(from).join(' ') || 'none'}; ` +
          `the gateway is ${alive}; the end of its output:\n${gw.output().slice(-3000)}`,
      );
    }
    return find()!;
  }

  /**
   * Opens idle TCP sockets (uWS accepts them and waits ~10 s for a request)
   * until the kernel refuses one or the gateway stops listening: on a loaded
   * machine uWS may time out the first before the last are open, so more than
   * LOW_LIMIT may be needed (bounded: four times it). The sockets, and the
   * log line of `listening-stopped`.
   */
  async function floodUntilNotListening(): Promise<{ idle: Socket[]; stopped: Record<string, unknown> }> {
    const from = gw.logs().length;
    const idle: Socket[] = [];
    let refused = 0;
    const stopped = () =>
      gw
        .logs()
        .slice(from)
        .some((l) => l.event === 'listening-stopped');
    for (let i = 0; i < 4 * LOW_LIMIT && refused === 0 && !stopped(); i += 16) {
      const batch = await Promise.all(Array.from({ length: 16 }, () => connectIdle(gw.port)));
      for (const socket of batch) {
        if (socket === null) refused++;
        else idle.push(socket);
      }
    }
    const context = `${idle.length} idle sockets open, ${refused} refused`;
    return { idle, stopped: await logged('listening-stopped', from, context) };
  }

  it('stops listening when idle sockets take the descriptors up to the limit, spends no core on them, and listens again once they close', async () => {
    await closeAll(sockets);
    const limits = gw.logs().find((l) => l.event === 'connection-limits')!;
    const { idle, stopped } = await floodUntilNotListening();
    expect(stopped.openDescriptors as number).toBeGreaterThanOrEqual(limits.stopListeningAt as number);
    // The kernel refuses new connections now: nothing reaches uWS's accept loop to spin on.
    expect(await connectIdle(gw.port)).toBeNull();
    expect(await cpuShare(gw.process.pid!)).toBeLessThan(SPINNING);

    const from = gw.logs().length;
    for (const socket of idle) socket.destroy();
    await logged('listening-again', from, `${idle.length} idle sockets closed`);
    const again = await openWithin(gw.port, '127.0.0.1');
    expect(again.kind).toBe('open');
    if (again.kind === 'open') sockets.push(again.ws);
    const metrics = await gw.metrics();
    expect(metrics.value('chainlanes_listen_stops_total')).toBeGreaterThan(0);
    expect(metrics.value('chainlanes_listening')).toBe(1);
  });

  it('when another process took its port while it did not listen, says so, and listens again once the port is free', async () => {
    await closeAll(sockets);
    const { idle } = await floodUntilNotListening();
    // The gateway's accepted sockets still hold the port, but not listening: another process may take it.
    const squatter = createServer();
    await new Promise<void>((resolve, reject) => {
      squatter.once('error', reject);
      squatter.listen({ host: '127.0.0.1', port: gw.port, exclusive: true }, resolve);
    });
    const from = gw.logs().length;
    for (const socket of idle) socket.destroy();
    const failed = await logged('listen-failed', from, 'the port taken by the test');
    expect(failed.error).toMatch(/EADDRINUSE/);
    expect((await gw.metrics()).value('chainlanes_listening')).toBe(0);

    // It retries by itself, and says so when a retry listens.
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    await logged('listening-again', from, 'the port freed after a failed listen');
    const again = await openWithin(gw.port, '127.0.0.1');
    expect(again.kind).toBe('open');
    if (again.kind === 'open') sockets.push(again.ws);
    expect((await gw.metrics()).value('chainlanes_listening')).toBe(1);
  });
});

/** A TCP connection that sends nothing, or null when the connection is refused. */
function connectIdle(port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', () => resolve(null));
  });
}

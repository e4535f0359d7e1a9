// The connection guard in front of a real uWS app in this process: routes that
// answer at once, routes that hold their request (a slot in flight), an
// uncapped health route and a WebSocket route, reached by real clients from
// 127.0.0.x addresses with the Host and Origin they choose.
import { describe, expect, it } from 'vitest';
import { request } from 'node:http';
import type WebSocket from 'ws';
import { ConnectionGuard, type GuardSettings } from '../../src/defence/index.js';
import { silentLogger } from '../../src/log/index.js';
import { loadUws, sendJson, type HttpResponse } from '../../src/uws/index.js';
import { closeAll, httpRequest, registerCleanup, tryStream, type HttpAnswer } from '../helpers/index.js';
import { frontDoorTurns } from '../helpers/front-door.js';
import { listenApp } from '../helpers/uws-app.js';

interface Guarded {
  port: number;
  guard: ConnectionGuard;
  /** Requests to /hold not answered yet. */
  held: HttpResponse[];
  /** Requests that reached a handler, by path. */
  handled: string[];
  /** Answers every held request. */
  answerHeld(): void;
}

const SETTINGS: GuardSettings = {
  maxConnections: 4,
  maxConnectionsPerAddress: 2,
  listenHost: '127.0.0.1',
  allowedHosts: ['gateway.example'],
  allowedOrigins: ['https://app.example'],
  uncappedPaths: ['/healthz'],
  unchargedPaths: ['/healthz'],
};

async function guarded(settings: Partial<GuardSettings> = {}): Promise<Guarded> {
  const app = loadUws().App();
  const { turnMeter, loopTurns } = frontDoorTurns();
  const guard = new ConnectionGuard({ ...SETTINGS, ...settings }, silentLogger(), null, turnMeter, loopTurns);
  const held: HttpResponse[] = [];
  const handled: string[] = [];
  const answer =
    (path: string) =>
    (res: HttpResponse): void => {
      handled.push(path);
      sendJson(res, '200 OK', { path });
    };
  const routes = guard.routes(app);
  routes.get('/answer', answer('/answer'));
  routes.post('/write', answer('/write'));
  routes.any('/any', answer('/any'));
  routes.get('/healthz', answer('/healthz'));
  routes.get('/hold', (res) => {
    handled.push('/hold');
    res.onAborted(() => {
      const at = held.indexOf(res);
      if (at >= 0) held.splice(at, 1);
    });
    held.push(res);
  });
  // A WebSocket route as the stream route uses the guard: admitted at the upgrade, released at the close.
  app.ws<{ address: string }>('/v1/chains/:name/stream', {
    upgrade: (res, req, context) => {
      const address = guard.admitUpgrade(res, req);
      if (address === null) return;
      res.upgrade({ address }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    close: (ws) => guard.release(ws.getUserData().address),
  });
  const port = await listenApp(app);
  guard.listening(port);
  registerCleanup("the guard's sweep", () => guard.stop());
  return {
    port,
    guard,
    held,
    handled,
    answerHeld: () => {
      for (const res of held.splice(0)) sendJson(res, '200 OK', { path: '/hold' });
    },
  };
}

/** A request to /hold from `localAddress` that the guard admitted, once the handler holds it; destroy() ends it from the client's side. */
async function hold(g: Guarded, localAddress: string): Promise<{ answered: Promise<number>; destroy(): void }> {
  const before = g.held.length;
  let destroy = (): void => undefined;
  const answered = new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: g.port, path: '/hold', localAddress, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (error) => (req.destroyed ? resolve(0) : reject(error)));
    req.end();
    destroy = () => req.destroy();
  });
  registerCleanup('a held request', () => destroy());
  await expect.poll(() => g.held.length, { timeout: 20_000 }).toBe(before + 1);
  return { answered, destroy: () => destroy() };
}

function expectRefused(answer: HttpAnswer, status: number, code: string, message: RegExp): void {
  expect(answer).toMatchObject({ status, connection: 'close' });
  expect(JSON.parse(answer.body)).toEqual({ error: { code, message: expect.stringMatching(message) } });
}

describe('ConnectionGuard', () => {
  it('caps requests and streams in flight per client address, refusing busy at once, and gives slots back when they are answered or closed', async () => {
    const g = await guarded();
    await hold(g, '127.0.0.2');
    await hold(g, '127.0.0.2');
    expectRefused(
      await httpRequest(g.port, '/answer', { localAddress: '127.0.0.2' }),
      503,
      'busy',
      /^the address 127\.0\.0\.2 holds its limit of 2 connections and requests in flight \(limits\.maxConnectionsPerAddress\); close some or retry later$/,
    );
    const upgrade = await tryStream(g.port, 'x', { localAddress: '127.0.0.2' });
    expect(upgrade).toMatchObject({ kind: 'refused', status: 503, body: { error: { code: 'busy' } } });
    // Another address is not held back, and requests answered at once give their slot back at once.
    for (let i = 0; i < 5; i++) expect((await httpRequest(g.port, '/answer', { localAddress: '127.0.0.3' })).status).toBe(200);
    expect(g.guard.stats).toMatchObject({ held: 2, httpInFlight: 2, refused: { address: 2 } });
    g.answerHeld();
    await expect.poll(() => g.guard.stats.held, { timeout: 20_000 }).toBe(0);
    // A stream holds its slot until it closes.
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 2; i++) {
      const open = await tryStream(g.port, 'x', { localAddress: '127.0.0.2' });
      if (open.kind !== 'open') throw new Error(`stream ${i} did not open: ${JSON.stringify(open)}`);
      sockets.push(open.ws);
    }
    expect((await httpRequest(g.port, '/answer', { localAddress: '127.0.0.2' })).status).toBe(503);
    await closeAll(sockets);
    await expect.poll(() => g.guard.stats.held, { timeout: 20_000 }).toBe(0);
    expect((await httpRequest(g.port, '/answer', { localAddress: '127.0.0.2' })).status).toBe(200);
    // Refused requests never reached a handler.
    expect(g.handled.filter((p) => p === '/answer')).toHaveLength(6);
  });

  it('caps what is in flight in all, yet answers the uncapped paths, and refuses everything else while descriptors run low', async () => {
    const g = await guarded();
    for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.4']) await hold(g, address);
    expectRefused(
      await httpRequest(g.port, '/answer', { localAddress: '127.0.0.5' }),
      503,
      'busy',
      /^the gateway holds its limit of 4 connections and requests in flight \(limits\.maxConnections\); retry later$/,
    );
    expect(await tryStream(g.port, 'x', { localAddress: '127.0.0.5' })).toMatchObject({ kind: 'refused', status: 503 });
    // An operator's probe gets through at the limit, also from an address at its own limit.
    for (const localAddress of ['127.0.0.5', '127.0.0.4']) expect((await httpRequest(g.port, '/healthz', { localAddress })).status).toBe(200);
    expect(g.guard.stats).toMatchObject({ held: 4, refused: { connections: 2 } });
    g.answerHeld();
    await expect.poll(() => g.guard.stats.held, { timeout: 20_000 }).toBe(0);

    g.guard.descriptorsLow = true;
    expectRefused(await httpRequest(g.port, '/answer'), 503, 'busy', /short of file descriptors/);
    expect(await tryStream(g.port, 'x')).toMatchObject({ kind: 'refused', status: 503 });
    expect((await httpRequest(g.port, '/healthz')).status).toBe(200);
    g.guard.descriptorsLow = false;
    expect((await httpRequest(g.port, '/answer')).status).toBe(200);
    expect(g.guard.stats.refused).toMatchObject({ descriptors: 2 });
  });

  it('gives back the slot of a request whose client went away before its answer', async () => {
    const g = await guarded();
    const first = await hold(g, '127.0.0.2');
    await hold(g, '127.0.0.2');
    expect((await httpRequest(g.port, '/answer', { localAddress: '127.0.0.2' })).status).toBe(503);
    first.destroy();
    // The guard's sweep finds the aborted response.
    await expect.poll(() => g.guard.stats.held, { timeout: 20_000 }).toBe(1);
    expect((await httpRequest(g.port, '/answer', { localAddress: '127.0.0.2' })).status).toBe(200);
    expect(g.guard.stats.httpInFlight).toBe(1);
  });

  it('answers only to its own names in Host, with or without the port and in any case, on every route and the upgrade', async () => {
    const g = await guarded();
    for (const host of ['127.0.0.1', `127.0.0.1:${g.port}`, 'localhost', `LOCALHOST:${g.port}`, '[::1]', 'gateway.example', `Gateway.Example:${g.port}`]) {
      expect((await httpRequest(g.port, '/answer', { host })).status, host).toBe(200);
    }
    for (const host of ['evil.example', `evil.example:${g.port}`, 'gateway.example.evil.example', '127.0.0.2']) {
      expectRefused(
        await httpRequest(g.port, '/answer', { host }),
        403,
        'forbidden',
        new RegExp(
          `^the Host "${host.replace(/[.[\]]/g, '\\$&')}" is not a name of this gateway \\(refused against DNS rebinding\\): it answers to 127\\.0\\.0\\.1, localhost`,
        ),
      );
    }
    // Even the uncapped paths, and the WebSocket upgrade.
    expect((await httpRequest(g.port, '/healthz', { host: 'evil.example' })).status).toBe(403);
    expect(await tryStream(g.port, 'x', { host: 'evil.example' })).toMatchObject({ kind: 'refused', status: 403, body: { error: { code: 'forbidden' } } });
    expect(g.guard.stats.refused.host).toBe(6);
    expect(g.handled.filter((p) => p === '/answer')).toHaveLength(7);

    const any = await guarded({ allowedHosts: ['*'] });
    expect((await httpRequest(any.port, '/answer', { host: 'anything.example' })).status).toBe(200);
  });

  it('refuses web pages of other origins the upgrade and requests that change state, not reads', async () => {
    const g = await guarded();
    const evil = 'https://evil.example';
    expect((await httpRequest(g.port, '/answer', { origin: evil })).status).toBe(200);
    expect((await httpRequest(g.port, '/any', { origin: evil })).status).toBe(200);
    for (const [path, method] of [
      ['/write', 'POST'],
      ['/any', 'PUT'],
      ['/any', 'DELETE'],
    ] as const) {
      expectRefused(
        await httpRequest(g.port, path, { method, origin: evil }),
        403,
        'forbidden',
        /^web pages from the origin "https:\/\/evil\.example" may not open streams or send POST, PUT or DELETE requests to this gateway: allowedOrigins lists only "https:\/\/app\.example"$/,
      );
    }
    expect(await tryStream(g.port, 'x', { origin: evil })).toMatchObject({ kind: 'refused', status: 403 });
    // The allowed origin, the gateway's own page (its Origin is the Host it was loaded from), and clients that send no Origin.
    expect((await httpRequest(g.port, '/write', { method: 'POST', origin: 'https://app.example' })).status).toBe(200);
    expect((await httpRequest(g.port, '/write', { method: 'POST', origin: `http://127.0.0.1:${g.port}` })).status).toBe(200);
    expect((await httpRequest(g.port, '/write', { method: 'POST' })).status).toBe(200);
    const own = await tryStream(g.port, 'x', { origin: 'https://app.example' });
    expect(own.kind).toBe('open');
    if (own.kind === 'open') await closeAll([own.ws]);
    expect(g.guard.stats.refused.origin).toBe(4);

    // With any Host allowed, a page's Origin is never taken for the gateway's own: a DNS-rebinding page would pass.
    const any = await guarded({ allowedHosts: ['*'], allowedOrigins: [] });
    expect((await httpRequest(any.port, '/write', { method: 'POST', host: 'evil.example', origin: 'http://evil.example' })).status).toBe(403);
    const open = await guarded({ allowedOrigins: ['*'] });
    expect((await httpRequest(open.port, '/write', { method: 'POST', origin: evil })).status).toBe(200);
  });
});

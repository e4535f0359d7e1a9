// Browsers and DNS rebinding end to end: a web page must not write to a local
// gateway (cross-origin WebSocket or POST), and a request for a name the
// gateway does not serve (Host: evil.example) is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type ChildGateway, closeAll, httpRequest, tryStream, type ClientOptions, type ErrorBody } from '../helpers/index.js';
import type WebSocket from 'ws';

const EVIL = 'http://evil.example';
const APP = 'https://app.example';

async function nextSeq(gw: ChildGateway, chain: string): Promise<number | null> {
  const res = await gw.http(`/v1/chains/${chain}`);
  return res.status === 404 ? null : ((await res.json()) as { nextSeq: number }).nextSeq;
}

const postJson = (gw: ChildGateway, chain: string, options: ClientOptions = {}) =>
  httpRequest(gw.port, `/v1/chains/${chain}/entries`, { ...options, method: 'POST', contentType: 'application/json', body: '["x"]' });

describe('origins and hosts, by default', () => {
  let gw: ChildGateway;
  const sockets: WebSocket[] = [];
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => {
    await closeAll(sockets);
    await gw.stop();
  });

  it('refuses a WebSocket from any web page with 403 forbidden, naming the origin and allowedOrigins', async () => {
    for (const origin of [EVIL, `http://localhost:${gw.port}`, 'null']) {
      const attempt = await tryStream(gw.port, 'web', { origin });
      expect(attempt, origin).toMatchObject({ kind: 'refused', status: 403, body: { error: { code: 'forbidden' } } });
      if (attempt.kind === 'refused') {
        expect(attempt.body.error.message).toContain(JSON.stringify(origin));
        expect(attempt.body.error.message).toMatch(/allowedOrigins lists none/);
      }
    }
    // A client that is not a browser sends no Origin.
    const plain = await tryStream(gw.port, 'web');
    expect(plain.kind).toBe('open');
    if (plain.kind === 'open') sockets.push(plain.ws);
  });

  it('refuses a POST from a web page, leaving no trace, and serves reads to it', async () => {
    expect((await postJson(gw, 'posted')).status).toBe(200);
    expect(await nextSeq(gw, 'posted')).toBe(1);
    // What a page can send without a CORS preflight (a form, or fetch with a simple content type), and JSON (after a preflight).
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json']) {
      const res = await httpRequest(gw.port, '/v1/chains/posted/entries', { method: 'POST', origin: EVIL, contentType, body: '["x"]' });
      expect(res.status, contentType).toBe(403);
      expect((JSON.parse(res.body) as ErrorBody).error).toMatchObject({ code: 'forbidden', message: expect.stringContaining(EVIL) });
    }
    // Nor is a chain created by a refused POST.
    expect((await postJson(gw, 'never', { origin: EVIL })).status).toBe(403);
    expect(await nextSeq(gw, 'posted')).toBe(1);
    expect(await nextSeq(gw, 'never')).toBeNull();
    // Methods of any route that change state are refused too; reads are not (the browser keeps a cross-origin answer from the page).
    expect((await httpRequest(gw.port, '/v1/chains/posted', { method: 'DELETE', origin: EVIL })).status).toBe(403);
    expect((await httpRequest(gw.port, '/v1/chains/posted', { origin: EVIL })).status).toBe(200);
  });

  it('refuses a Host that is not one of its names, on every route and the upgrade (DNS rebinding)', async () => {
    for (const [method, path] of [
      ['GET', '/healthz'],
      ['GET', '/v1/chains'],
      ['GET', '/nowhere'],
      ['POST', '/v1/chains/rebound/entries'],
    ] as const) {
      const res = await httpRequest(gw.port, path, {
        method,
        host: 'evil.example',
        contentType: 'application/json',
        body: method === 'POST' ? '["x"]' : undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(403);
      const { error } = JSON.parse(res.body) as ErrorBody;
      expect(error.code).toBe('forbidden');
      expect(error.message).toMatch(/the Host "evil\.example" is not a name of this gateway.*allowedHosts/);
    }
    expect(await nextSeq(gw, 'rebound')).toBeNull();
    expect(await tryStream(gw.port, 'rebound', { host: `evil.example:${gw.port}` })).toMatchObject({ kind: 'refused', status: 403 });
    expect(await nextSeq(gw, 'rebound')).toBeNull();
  });

  it('answers to its own names, with and without the port, in any case', async () => {
    const p = gw.port;
    for (const host of ['127.0.0.1', `127.0.0.1:${p}`, 'localhost', `localhost:${p}`, `LocalHost:${p}`, '[::1]', `[::1]:${p}`]) {
      expect((await httpRequest(gw.port, '/v1/chains', { host })).status, host).toBe(200);
    }
    expect((await postJson(gw, 'named', { host: `localhost:${p}` })).status).toBe(200);
    for (const host of [`127.0.0.1:${p + 1}`, 'localhost.evil.example', `evil.example:${p}`]) {
      expect((await httpRequest(gw.port, '/v1/chains', { host })).status, host).toBe(403);
    }
    const metrics = await gw.metrics();
    expect(metrics.value('chainlanes_requests_refused_total', { cause: 'host' })).toBeGreaterThanOrEqual(8);
    expect(metrics.value('chainlanes_requests_refused_total', { cause: 'origin' })).toBeGreaterThanOrEqual(8);
  });
});

describe('origins and hosts, configured', () => {
  let gw: ChildGateway;
  const sockets: WebSocket[] = [];
  beforeAll(async () => {
    gw = await startGateway({ config: { allowedOrigins: [APP], allowedHosts: ['gw.example', 'other.example:8443'] } });
  });
  afterAll(async () => {
    await closeAll(sockets);
    await gw.stop();
  });

  it('lets an allowed origin open a stream and post, and still refuses the others', async () => {
    const allowed = await tryStream(gw.port, 'app', { origin: APP });
    expect(allowed.kind).toBe('open');
    if (allowed.kind === 'open') sockets.push(allowed.ws);
    expect((await postJson(gw, 'app', { origin: APP })).status).toBe(200);

    const refused = await tryStream(gw.port, 'app', { origin: EVIL });
    expect(refused).toMatchObject({ kind: 'refused', status: 403 });
    if (refused.kind === 'refused') expect(refused.body.error.message).toContain(`allowedOrigins lists only "${APP}"`);
    // The origin must match exactly as browsers send it: scheme, host and port.
    for (const origin of ['http://app.example', 'https://app.example:444']) {
      expect((await postJson(gw, 'app', { origin })).status, origin).toBe(403);
    }
    expect(await nextSeq(gw, 'app')).toBe(1);
  });

  it('answers to the names in allowedHosts besides its own', async () => {
    const p = gw.port;
    for (const [host, status] of [
      ['gw.example', 200],
      [`gw.example:${p}`, 200],
      ['GW.Example', 200],
      ['other.example:8443', 200],
      ['other.example', 403],
      [`localhost:${p}`, 200],
      ['evil.example', 403],
    ] as const) {
      expect((await httpRequest(gw.port, '/v1/chains', { host })).status, host).toBe(status);
    }
  });
});

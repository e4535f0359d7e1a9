// Real HAProxy (Debian's 2.6) in front of small HTTP/WebSocket servers that
// stand in for gateways (each answers with its name): the configuration
// `chainlanes fleet haproxy-config` prints is accepted and routes by the map;
// a runtime map change moves new requests while an open WebSocket stays on
// its backend; unmapped chains hash consistently; a dead owner's chains get a
// 503 naming it; HAProxy's log has no query string; the map file written with
// the runtime change is what a restarted HAProxy routes by.
import { describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { WebSocket, WebSocketServer } from 'ws';
import { pino } from 'pino';
import {
  DEFAULT_MIRROR_TIMING,
  EtcdClient,
  FleetKeys,
  HaproxyMirror,
  HaproxyRuntime,
  encode,
  ownershipTable,
  writeMapFile,
  type MemberRecord,
} from '../../src/fleet/index.js';
import { freePort, haproxyPaths, registerCleanup, runCli, startEtcd, startHaproxy } from '../helpers/index.js';

interface Backend {
  name: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** A stand-in gateway: answers every request and every WebSocket message with its name (and /readyz with 200). */
async function backend(name: string): Promise<Backend> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ backend: name, url: req.url }));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket) => socket.on('message', () => socket.send(name)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = async (): Promise<void> => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  registerCleanup(`backend ${name}`, () => (server.listening ? close() : undefined));
  return { name, port: (server.address() as AddressInfo).port, server, close };
}

async function routedTo(port: number, path: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3_000) });
  const text = await response.text();
  if (response.status !== 200) return `HTTP ${response.status} ${text}`;
  return (JSON.parse(text) as { backend: string }).backend;
}

function wsTo(port: number, path: string): Promise<{ ask(): Promise<string>; close(): void }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    registerCleanup('websocket', () => socket.terminate());
    socket.once('error', reject);
    socket.once('open', () =>
      resolve({
        ask: () =>
          new Promise((answer) => {
            socket.once('message', (data) => answer(String(data)));
            socket.send('who');
          }),
        close: () => socket.close(),
      }),
    );
  });
}

const member = (port: number): MemberRecord => ({
  url: `http://127.0.0.1:${port}`,
  capacity: { entriesPerSec: 1000, bytesPerSec: 1e6 },
  startedAt: 1,
  store: 's',
});

async function fleetWithProxy() {
  const etcd = await startEtcd();
  const prefix = '/hp/';
  const keys = new FleetKeys(prefix);
  const client = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 2_000, maxResponseBytes: 1 << 20 });
  registerCleanup('etcd client', () => client.close());
  const [g1, g2] = await Promise.all([backend('g1'), backend('g2')]);
  await client.put(keys.member('g1'), encode(member(g1.port)));
  await client.put(keys.member('g2'), encode(member(g2.port)));
  const paths = haproxyPaths();
  const port = await freePort();
  const printed = runCli([
    'fleet',
    'haproxy-config',
    '--etcd',
    etcd.endpoints.join(','),
    '--prefix',
    prefix,
    '--bind',
    `127.0.0.1:${port}`,
    '--haproxy-socket',
    paths.socket,
    '--haproxy-map',
    paths.map,
  ]);
  expect(printed.stderr).toBe('');
  expect(printed.status).toBe(0);
  const haproxy = await startHaproxy(paths, printed.output);
  const runtime = new HaproxyRuntime({ socket: paths.socket, timeoutMs: 2_000, maxAnswerBytes: 1 << 20 });
  // Health checks take a moment to mark the servers up.
  await expect.poll(() => routedTo(port, '/v1/chains/warmup/entries/0').catch(() => 'down'), { timeout: 10_000 }).toMatch(/^g[12]$/);
  return { etcd, keys, client, g1, g2, paths, port, haproxy, runtime, config: printed.output };
}

describe('HAProxy in front of the fleet', () => {
  it('routes by the map, follows a runtime map change for new requests while an open WebSocket stays, and hashes unmapped chains consistently', async () => {
    const { g1, g2, paths, port, runtime, config } = await fleetWithProxy();
    expect(config).toMatch(/timeout tunnel 3600000ms/);
    expect(config).toMatch(/http-check send meth GET uri \/readyz ver HTTP\/1.1 hdr Host localhost/);
    expect(config).toMatch(/path,field\(4,\/\)/);
    expect(config).toContain(`server g1 127.0.0.1:${g1.port} check`);
    expect(config).toContain(`server g2 127.0.0.1:${g2.port} check`);

    // Unmapped: consistent hashing of the name, so the same chain always reaches the same gateway.
    const hashed = await Promise.all(Array.from({ length: 20 }, (_, i) => routedTo(port, `/v1/chains/free-${i}/entries/0`)));
    for (let i = 0; i < 20; i++) expect(await routedTo(port, `/v1/chains/free-${i}/entries/0`)).toBe(hashed[i]);
    expect(new Set(hashed)).toEqual(new Set(['g1', 'g2']));

    await runtime.setMap(paths.map, 'alpha', 'g2');
    expect(await routedTo(port, '/v1/chains/alpha/entries/0')).toBe('g2');
    const open = await wsTo(port, '/v1/chains/alpha/stream');
    expect(await open.ask()).toBe('g2');

    // The owner changes: set on a present key (no duplicate), new requests and new streams follow, the open stream stays.
    await runtime.setMap(paths.map, 'alpha', 'g1');
    expect([...(await runtime.showMap(paths.map))]).toEqual([['alpha', 'g1']]);
    expect(await routedTo(port, '/v1/chains/alpha/entries/0')).toBe('g1');
    expect(await (await wsTo(port, '/v1/chains/alpha/stream')).ask()).toBe('g1');
    expect(await open.ask()).toBe('g2');
    open.close();

    // An atomic replacement of the whole map, in pieces under HAProxy's buffer size.
    const many = Array.from({ length: 3000 }, (_, i) => [`chain-${i}`, i % 2 === 0 ? 'g1' : 'g2'] as const);
    await runtime.replaceMap(paths.map, many);
    const shown = await runtime.showMap(paths.map);
    expect(shown.size).toBe(3000);
    expect(shown.get('chain-2999')).toBe('g2');
    expect(await routedTo(port, '/v1/chains/chain-2998/entries/0')).toBe('g1');
    expect(await routedTo(port, '/v1/chains/chain-2999/entries/0')).toBe('g2');
    expect(shown.has('alpha')).toBe(false);

    await runtime.deleteMap(paths.map, 'chain-2999');
    await runtime.deleteMap(paths.map, 'chain-2999'); // absent already: no error
    expect((await runtime.showMap(paths.map)).has('chain-2999')).toBe(false);
  });

  it('answers 503 naming the owner while the owner is down, and routes to it again once its health check passes', async () => {
    const { g2, paths, port, runtime } = await fleetWithProxy();
    await runtime.setMap(paths.map, 'beta', 'g2');
    expect(await routedTo(port, '/v1/chains/beta/entries/0')).toBe('g2');
    const g2Port = g2.port;
    await g2.close();
    await expect
      .poll(() => routedTo(port, '/v1/chains/beta/entries/0'), { timeout: 10_000 })
      .toBe('HTTP 503 {"error":{"code":"busy","message":"chain beta is served by gateway g2, which is down; retry later"}}');
    const again = await backendOn('g2', g2Port);
    expect(again).toBe(true);
    await expect.poll(() => routedTo(port, '/v1/chains/beta/entries/0'), { timeout: 10_000 }).toBe('g2');
  });

  it("logs no query string (a ?key= stays out of the proxy's log), and a restarted HAProxy routes by the map file", async () => {
    const { paths, port, haproxy, config } = await fleetWithProxy();
    const secret = 'clk_thisisnotarealkeybutitlookslikeone0000';
    await routedTo(port, `/v1/chains/gamma/entries/0?key=${secret}`);
    await expect.poll(() => haproxy.output()).toMatch(/"GET" "\/v1\/chains\/gamma\/entries\/0" "HTTP\/1.1"/);
    expect(haproxy.output()).not.toContain(secret);
    expect(haproxy.output()).not.toContain('?key=');

    // Runtime changes are in memory only: the file is what survives a restart.
    writeMapFile(paths.map, [
      ['gamma', 'g2'],
      ['delta', 'g1'],
    ]);
    expect(readFileSync(paths.map, 'utf8')).toMatch(/^# chainlanes fleet[^\n]*\ndelta g1\ngamma g2\n$/);
    await haproxy.stop();
    await startHaproxy(paths, config);
    await expect.poll(() => routedTo(port, '/v1/chains/gamma/entries/0').catch(() => 'down'), { timeout: 10_000 }).toBe('g2');
    expect(await routedTo(port, '/v1/chains/delta/entries/0')).toBe('g1');
  });
});

describe('mirroring etcd into HAProxy', () => {
  it('follows claims and moves; while HAProxy is down changes wait, and once it is back the whole map is replaced from the table', async () => {
    const { etcd, keys, client, paths, port, haproxy, config } = await fleetWithProxy();
    const table = ownershipTable(client, keys, { maxEntries: 1000, checkEveryMs: 500 });
    registerCleanup('table', () => table.stop());
    await client.put(keys.chain('one'), encode({ gateway: 'g1', since: 1 }));
    await table.start();
    const runtime = new HaproxyRuntime({ socket: paths.socket, timeoutMs: 1_000, maxAnswerBytes: 1 << 20 });
    const mirror = new HaproxyMirror(runtime, table, { map: paths.map, mapFile: paths.map, ...DEFAULT_MIRROR_TIMING, retryMs: 200 }, pino({ level: 'silent' }));
    registerCleanup('mirror', () => mirror.stop());
    mirror.start();
    await expect.poll(async () => [...(await runtime.showMap(paths.map))]).toEqual([['one', 'g1']]);
    await client.put(keys.chain('two'), encode({ gateway: 'g2', since: 1 }));
    await client.put(keys.chain('one'), encode({ gateway: 'g2', since: 2 }));
    await expect.poll(async () => Object.fromEntries(await runtime.showMap(paths.map))).toEqual({ one: 'g2', two: 'g2' });
    expect(mirror.sent.replacements).toBe(1);
    expect(mirror.sent.changes).toBe(2);

    await haproxy.stop();
    await client.put(keys.chain('three'), encode({ gateway: 'g1', since: 3 }));
    await client.delete(keys.chain('two'));
    await expect.poll(() => mirror.sent.failures).toBeGreaterThan(0);
    expect(mirror.lastError).toMatch(/runtime socket/);
    // The map file already holds what etcd holds (it follows the table, not HAProxy): a restart routes by it at once…
    await expect
      .poll(
        () =>
          readFileSync(paths.map, 'utf8')
            .split('\n')
            .filter((l) => !l.startsWith('#') && l !== ''),
        { timeout: 5_000 },
      )
      .toEqual(['one g2', 'three g1']);
    await startHaproxy(paths, config);
    // …and the mirror replaces the whole map again when the socket answers.
    await expect.poll(() => mirror.sent.replacements, { timeout: 10_000 }).toBeGreaterThan(1);
    expect(Object.fromEntries(await runtime.showMap(paths.map))).toEqual({ one: 'g2', three: 'g1' });
    await expect.poll(() => routedTo(port, '/v1/chains/three/entries/0').catch(() => 'down'), { timeout: 10_000 }).toBe('g1');
    expect(etcd.endpoints.length).toBe(1);
  });
});

/** Starts a stand-in on a given port again (the port its member record names). */
async function backendOn(name: string, port: number): Promise<boolean> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ backend: name }));
  });
  registerCleanup(
    `backend ${name} again`,
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
}

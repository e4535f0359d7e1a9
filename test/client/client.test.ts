import type { AddressInfo, Socket } from 'node:net';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { WebSocket as WsWebSocket, WebSocketServer } from 'ws';
import { startWsGateway, type RunningGateway } from '../../bench/peers/ws-gateway.js';
import { backoffDelay, ChainError, connect, streamUrl, type ChainClient, type CommittedNotice } from '../../src/client/index.js';
import { openWhatwg, type SocketFailure } from '../../src/client/socket.js';
import { makeCertificate, registerCleanup, sha256, startCreditGateway, startGateway } from '../helpers/index.js';

const packr = new Packr({ useRecords: false });

async function gateway(port = 0): Promise<RunningGateway> {
  const g = await startWsGateway({ port });
  registerCleanup(`ws-gateway peer on port ${g.port}`, () => g.close());
  return g;
}

async function client(url: string, chain: string, options: Parameters<typeof connect>[2] = {}): Promise<ChainClient> {
  const c = await connect(url, chain, options);
  registerCleanup(`ChainClient of ${chain}`, () => c.close());
  return c;
}

/** A bare server for behaviour the peer gateway never shows (silence, notices). */
async function scriptedServer(onMessage: (send: (value: unknown) => void, drop: () => void) => void): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  wss.on('connection', (ws) => {
    ws.on('message', () =>
      onMessage(
        (v) => ws.send(packr.pack(v)),
        () => ws.terminate(),
      ),
    );
  });
  registerCleanup('scripted server', () => {
    for (const c of wss.clients) c.terminate();
    return new Promise((resolve) => wss.close(resolve));
  });
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('unexpected address');
  return `ws://127.0.0.1:${address.port}`;
}

function nextEvent<T>(subscribe: (fn: (value: T) => void) => () => void): Promise<T> {
  return new Promise((resolve) => {
    const off = subscribe((value) => {
      off();
      resolve(value);
    });
  });
}

describe('ChainClient against the ws-gateway peer', () => {
  it('returns the SHA-256 of each entry and consecutive seqs', async () => {
    const g = await gateway();
    const c = await client(`ws://127.0.0.1:${g.port}`, 'orders');
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const first = await c.submit(['hello', bytes, 'héllo']);
    expect(first).toMatchObject({ frame: 0, seq: 0, count: 3 });
    expect(first.hashes).toEqual([sha256('hello'), sha256(bytes), sha256(Buffer.from('héllo', 'utf8'))].map((h) => new Uint8Array(h)));
    const second = await c.submit(['x']);
    expect(second).toMatchObject({ frame: 1, seq: 3, count: 1 });
  });

  it('matches replies to frames in flight by order', async () => {
    const g = await gateway();
    const c = await client(`ws://127.0.0.1:${g.port}`, 'orders');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => c.submit([`e${i}a`, `e${i}b`])));
    expect(results.map((r) => r.frame)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(results.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i));
    expect(results[7]?.hashes[1]).toEqual(new Uint8Array(sha256('e7b')));
  });

  it('keeps seqs per chain across connections', async () => {
    const g = await gateway();
    const url = `ws://127.0.0.1:${g.port}`;
    const a = await client(url, 'shared');
    const b = await client(url, 'shared');
    expect((await a.submit(['1', '2'])).seq).toBe(0);
    expect((await b.submit(['3'])).seq).toBe(2);
    expect((await (await client(url, 'other')).submit(['4'])).seq).toBe(0);
  });

  it('rejects with the code of an error reply, and carries on', async () => {
    const g = await gateway();
    const c = await client(`ws://127.0.0.1:${g.port}`, 'orders');
    await expect(c.submit([])).rejects.toMatchObject({ name: 'ChainError', code: 'bad_frame', frame: 0 });
    await expect(c.submit([new Uint8Array(5 * 1024 * 1024)])).rejects.toMatchObject({ code: 'too_large', frame: 1 });
    expect(await c.submit(['ok'])).toMatchObject({ frame: 2, seq: 0 });
  });

  it('reconnects after the gateway restarts, numbering frames from 0 again', async () => {
    const first = await gateway();
    const url = `ws://127.0.0.1:${first.port}`;
    const c = await client(url, 'orders', { reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
    expect(await c.submit(['before'])).toMatchObject({ frame: 0, seq: 0 });
    await c.submit(['again']);

    const dropped = nextEvent((fn) => c.on('disconnect', fn));
    await first.close();
    await dropped;
    await expect(c.submit(['while down'])).rejects.toMatchObject({ code: 'disconnected' });

    const reopened = nextEvent((fn) => c.on('open', fn));
    await gateway(first.port);
    expect(await reopened).toEqual({ reconnected: true });
    // A fresh peer has fresh seqs; the point is that frames restart at 0 on the new connection.
    expect(await c.submit(['after'])).toMatchObject({ frame: 0, seq: 0 });
  });

  it('fails fast when the first connection cannot open', async () => {
    const g = await gateway();
    await expect(connect(`ws://127.0.0.1:${g.port}`, 'no spaces allowed')).rejects.toMatchObject({ code: 'unknown_chain' });
    await g.close();
    await expect(connect(`ws://127.0.0.1:${g.port}`, 'orders')).rejects.toMatchObject({ code: 'connect_failed' });
  });
});

describe("ChainClient against a real gateway: what goes wrong, in the gateway's words", () => {
  it("rejects a refused stream with the gateway's code and message", async () => {
    const gw = await startCreditGateway();
    const owner = await gw.account('owner');
    await gw.chain('shop', owner);
    const url = `http://127.0.0.1:${gw.port}`;
    await expect(connect(url, 'shop')).rejects.toMatchObject({
      name: 'ChainError',
      code: 'unauthenticated',
      message: expect.stringMatching(/^no key: send "Authorization: Bearer KEY"/),
    });
    await expect(connect(url, 'nowhere', { key: owner.key })).rejects.toMatchObject({
      code: 'unknown_chain',
      message: expect.stringMatching(/^no chain "nowhere"/),
    });
    const c = await client(url, 'shop', { key: owner.key });
    expect(() => c.on('comitted' as 'committed', () => undefined)).toThrow(
      /no event "comitted": the events are committed, open, disconnect, error, frameCommitted/,
    );
  });

  it('says why a connection cannot be made: nothing listening, plain HTTP to a TLS port', async () => {
    const closed = await gateway();
    await closed.close();
    await expect(connect(`http://127.0.0.1:${closed.port}`, 'orders')).rejects.toMatchObject({
      code: 'connect_failed',
      message: expect.stringMatching(/ECONNREFUSED.*; is the gateway running/),
    });
    const tls = makeCertificate();
    const gw = await startGateway({ env: { CHAINLANES_TLS_CERT: tls.certFile, CHAINLANES_TLS_KEY: tls.keyFile } });
    await expect(connect(`http://127.0.0.1:${gw.port}`, 'orders')).rejects.toMatchObject({
      code: 'connect_failed',
      message: expect.stringMatching(/speaks only TLS: use https:\/\/ \(wss:\/\/\)/),
    });
    await expect(connect(`https://127.0.0.1:${gw.port}`, 'orders')).rejects.toMatchObject({
      code: 'connect_failed',
      message: expect.stringMatching(/certificate is not trusted here: give Node its CA/),
    });
  });

  it('stops reconnecting when its key is revoked, and says so once', async () => {
    const gw = await startCreditGateway();
    const owner = await gw.account('owner');
    await gw.chain('shop', owner);
    const extra = (await gw.call<{ keyId: string; key: string }>('POST', `/v1/accounts/${owner.id}/keys`, owner.key)).body;
    const c = await client(`http://127.0.0.1:${gw.port}`, 'shop', { key: extra.key, reconnect: { minDelayMs: 10, maxDelayMs: 50 } });
    const errors: ChainError[] = [];
    c.on('error', (e) => errors.push(e));
    const stopped = nextEvent<ChainError>((fn) =>
      c.on('error', (e) => {
        if (e.message.startsWith('stopped reconnecting')) fn(e);
      }),
    );
    expect((await gw.call('DELETE', `/v1/accounts/${owner.id}/keys/${extra.keyId}`, owner.key)).status).toBe(200);
    expect(await stopped).toMatchObject({ code: 'unauthenticated', message: 'stopped reconnecting: unknown or revoked key' });
    await expect(c.submit(['after'])).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(errors.filter((e) => e.message.startsWith('stopped reconnecting'))).toHaveLength(1);
  });
});

describe('the WHATWG socket (browsers), on the WebSocket this Node has: its global one from 22 on, else ws', () => {
  type Impl = Parameters<typeof openWhatwg>[0];
  const Impl = ((globalThis as { WebSocket?: unknown }).WebSocket ?? WsWebSocket) as Impl;
  const frame = packr.pack(['entry']);

  function open(url: string): {
    events: string[];
    closed: Promise<{ code: number; failure?: SocketFailure }>;
    send: (data: Uint8Array) => void;
    close: () => void;
  } {
    const events: string[] = [];
    let closed!: (value: { code: number; failure?: SocketFailure }) => void;
    const socket = openWhatwg(Impl, new URL(url), undefined, {
      open: () => events.push('open'),
      message: (data, isBinary) => events.push(`${isBinary ? 'binary' : 'text'}:${String((packr.unpack(data) as { type?: string }).type)}`),
      close: (code, _reason, failure) => {
        events.push('close');
        closed({ code, ...(failure === undefined ? {} : { failure }) });
      },
    });
    return {
      events,
      closed: new Promise((resolve) => {
        closed = resolve;
      }),
      send: (data) => socket.send(data),
      close: () => socket.close(),
    };
  }

  it('reports a refused handshake as one close that never opened', async () => {
    // Node 22's global WebSocket fires `error` and never `close` here.
    const g = await gateway();
    const refused = open(`ws://127.0.0.1:${g.port}/v1/chains/no%20spaces/stream`);
    expect(await refused.closed).toMatchObject({ code: 1006, failure: { message: expect.stringMatching(/^connection failed/) } });
    expect(refused.events).toEqual(['close']);
  });

  it('opens, carries a frame and its reply, and closes once without a failure', async () => {
    const g = await gateway();
    const s = open(`ws://127.0.0.1:${g.port}/v1/chains/orders/stream`);
    await expect.poll(() => s.events).toEqual(['open']);
    s.send(frame);
    await expect.poll(() => s.events).toEqual(['open', 'binary:accepted']);
    s.close();
    expect(await s.closed).toEqual({ code: 1000 });
    expect(s.events).toEqual(['open', 'binary:accepted', 'close']);
  });
});

describe('ChainClient with a scripted server', () => {
  it('rejects frames in flight with `disconnected` when the socket drops, without resending', async () => {
    let received = 0;
    const url = await scriptedServer((_send, drop) => {
      received++;
      if (received === 3) drop();
    });
    const c = await client(url, 'orders');
    const submits = [c.submit(['a']), c.submit(['b']), c.submit(['c'])];
    for (const s of submits) await expect(s).rejects.toMatchObject({ code: 'disconnected' });
    expect(received).toBe(3);
    expect(c.connected).toBe(false);
  });

  it('emits committed notices', async () => {
    const root = new Uint8Array(32).fill(7);
    const block = new Uint8Array(32).fill(9);
    const url = await scriptedServer((send) => {
      send({ type: 'accepted', frame: 0, seq: 10, count: 1, hashes: Buffer.from(sha256('a')) });
      send({ type: 'committed', height: 2, seq: 10, count: 1, root, block, directory: 5 });
    });
    const seen: CommittedNotice[] = [];
    const c = await client(url, 'orders', { onCommitted: (n) => seen.push(n) });
    const notice = nextEvent<CommittedNotice>((fn) => c.on('committed', fn));
    expect(await c.submit(['a'])).toMatchObject({ seq: 10 });
    expect(await notice).toMatchObject({ height: 2, seq: 10, count: 1, directory: 5 });
    expect(seen[0]?.root).toEqual(root);
  });

  it('treats a reply out of order as a protocol error and drops the connection', async () => {
    const url = await scriptedServer((send) => {
      send({ type: 'accepted', frame: 4, seq: 0, count: 1, hashes: Buffer.alloc(32) });
    });
    const c = await client(url, 'orders');
    const error = nextEvent<ChainError>((fn) => c.on('error', fn));
    const submit = c.submit(['a']);
    expect((await error).code).toBe('protocol');
    await expect(submit).rejects.toMatchObject({ code: 'disconnected' });
  });
});

describe('ChainClient following a chain to another gateway (moved, close 4001)', () => {
  /**
   * A fleet of two in one server: the first connection accepts two frames,
   * answers the third `moved` and reads nothing more (closing 4001 once it
   * answered); later connections are the new owner and go on with the seqs.
   */
  async function movingServer(): Promise<{ url: string; received: string[][]; protocols: string[] }> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (offered) => (offered.has('chainlanes.v1') ? 'chainlanes.v1' : false) });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const received: string[][] = [];
    const protocols: string[] = [];
    let connections = 0;
    let seq = 0;
    wss.on('connection', (ws, req) => {
      protocols.push(String(req.headers['sec-websocket-protocol']));
      const first = connections++ === 0;
      let frame = 0;
      let cut = false;
      ws.on('message', (data: Buffer) => {
        if (cut) return; // read nothing more: the gateway's cut-off
        const entries = (packr.unpack(data) as Buffer[]).map((e) => e.toString());
        const n = frame++;
        if (first && n === 2) {
          cut = true;
          ws.send(
            packr.pack({ type: 'error', frame: n, code: 'moved', message: 'chain "orders" is served by gateway "g2" at http://g2', location: 'http://g2' }),
          );
          setTimeout(() => ws.close(4001, 'moved: reconnect'), 30);
          return;
        }
        received.push(entries);
        ws.send(packr.pack({ type: 'accepted', frame: n, seq, count: entries.length, hashes: Buffer.concat(entries.map((e) => sha256(e))) }));
        seq += entries.length;
      });
    });
    registerCleanup('moving server', () => {
      for (const c of wss.clients) c.terminate();
      return new Promise((resolve) => wss.close(resolve));
    });
    const address = wss.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected address');
    return { url: `ws://127.0.0.1:${address.port}`, received, protocols };
  }

  it('sends again, in order, what was refused or never read, and the application sees every submit accepted with seqs that continue', async () => {
    const server = await movingServer();
    const c = await client(server.url, 'orders', { key: 'clk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' });
    const disconnects: unknown[] = [];
    c.on('disconnect', (d) => disconnects.push(d));
    const words = ['a', 'b', 'c', 'd', 'e'];
    const results = await Promise.all(words.map((w) => c.submit([w])));
    expect(results.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(server.received).toEqual(words.map((w) => [w]));
    // Submitted while the client follows the chain: held, then sent after the ones it sends again.
    expect((await c.submit(['f'])).seq).toBe(5);
    expect(disconnects).toEqual([]);
    // The key travelled as a subprotocol, on both connections; the URL carried none.
    expect(server.protocols.map((p) => p.split(',').map((x) => x.trim()))).toEqual(
      [0, 1].map(() => ['chainlanes.v1', 'chainlanes.key.clk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']),
    );
  });

  it('reads a close 4001 that came before a reset its own frames caused (a proxy closing at once), and follows it', async () => {
    // The first connection ends as a moved stream behind HAProxy does: close 4001, then the proxy's socket
    // closes at once, so the client's next frame is answered with a TCP reset and the write after it fails
    // (EPIPE) with the close frame still unread. Later connections are the new owner.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'chainlanes.v1' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    registerCleanup('proxy-like server', () => {
      for (const ws of wss.clients) ws.terminate();
      return new Promise((resolve) => wss.close(resolve));
    });
    const raw: Socket[] = [];
    let seq = 0;
    const received: string[][] = [];
    wss.on('connection', (ws, req) => {
      raw.push(req.socket);
      let frame = 0;
      ws.on('message', (data: Buffer) => {
        const entries = (packr.unpack(data) as Buffer[]).map((e) => e.toString());
        received.push(entries);
        ws.send(packr.pack({ type: 'accepted', frame: frame++, seq, count: entries.length, hashes: Buffer.concat(entries.map((e) => sha256(e))) }));
        seq += entries.length;
      });
    });
    const address = wss.address() as AddressInfo;
    const c = await client(`ws://127.0.0.1:${address.port}`, 'orders');
    const disconnects: unknown[] = [];
    c.on('disconnect', (d) => disconnects.push(d));
    // All in one turn of the event loop, so the client cannot read the close frame before it writes.
    const reason = Buffer.from('moved: reconnect');
    raw[0]!.write(Buffer.concat([Buffer.from([0x88, 2 + reason.length, 4001 >> 8, 4001 & 0xff]), reason]));
    raw[0]!.destroy();
    const submits = ['a', 'b', 'c'].map((w) => c.submit([w]));
    const results = await Promise.all(submits);
    expect(results.map((r) => r.seq)).toEqual([0, 1, 2]);
    expect(received).toEqual([['a'], ['b'], ['c']]);
    expect(raw).toHaveLength(2);
    expect(disconnects).toEqual([]);
  });

  it("with followMoves: false, a moved frame rejects with the gateway's code and location", async () => {
    const server = await movingServer();
    const c = await client(server.url, 'orders', { followMoves: false });
    const results = await Promise.allSettled(['a', 'b', 'c'].map((w) => c.submit([w])));
    expect(results[2]).toMatchObject({ status: 'rejected', reason: { code: 'moved', message: expect.stringMatching(/served by gateway "g2"/) } });
  });
});

describe('helpers', () => {
  it('backoffDelay doubles up to the ceiling with jitter in the upper half', () => {
    const opts = { minDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(0, opts, () => 0)).toBe(50);
    expect(backoffDelay(0, opts, () => 1)).toBe(100);
    expect(backoffDelay(2, opts, () => 1)).toBe(400);
    expect(backoffDelay(10, opts, () => 0.5)).toBe(750);
    expect(backoffDelay(1000, opts, () => 1)).toBe(1000);
  });

  it('streamUrl builds the v1 route under a base URL', () => {
    expect(streamUrl('http://h:1', 'a.b~c').href).toBe('ws://h:1/v1/chains/a.b~c/stream');
    expect(streamUrl('wss://h/base/', 'x').href).toBe('wss://h/base/v1/chains/x/stream');
    expect(() => streamUrl('ftp://h', 'x')).toThrow(ChainError);
  });
});

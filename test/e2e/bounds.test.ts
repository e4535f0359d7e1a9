// A hostile client's frames: oversize frames are cut off before they are
// buffered, a connection cannot pile up unanswered frames, and opening a
// stream (or sending frames that are refused) takes no chain slot.
import { describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { pack } from 'msgpackr';
import { StreamClient, startGateway, type ChildGateway } from '../helpers/index.js';

function serve(config: Record<string, unknown>): Promise<ChildGateway> {
  return startGateway({ config });
}

describe('frames', () => {
  it('drops a connection whose frame passes limits.maxFrameBytes, and keeps serving the others', async () => {
    const gw = await serve({ limits: { maxFrameBytes: 64 * 1024, maxEntryBytes: 32 * 1024 } });
    const bystander = await StreamClient.open(gw.port, 'bystander');
    const big = await StreamClient.open(gw.port, 'big');
    big.sendRaw(pack([Buffer.alloc(40_000), Buffer.alloc(40_000)]));
    expect([1006, 1009]).toContain(await big.waitClosed());
    expect(big.replies).toEqual([]);
    bystander.send(['still here']);
    expect((await bystander.waitReplies(1))[0]).toMatchObject({ type: 'accepted', seq: 0 });
    expect((await gw.http('/v1/chains/big')).status).toBe(404);
  });

  it('answers busy past limits.maxFramesInFlight unanswered frames, closes a connection that goes on, and leaves no gap', async () => {
    const gw = await serve({ limits: { maxFramesInFlight: 4 }, ledger: { blockIntervalMs: 50 } });
    const flood = await StreamClient.open(gw.port, 'flood');
    // Five entries per frame: more than the front door hashes inline, so frames wait for a lane worker.
    // Sent in one burst, they are read in one go: no worker can answer before the fifth arrives.
    const frame = pack(Array.from({ length: 5 }, (_, i) => `entry ${i}`));
    for (let i = 0; i < 8; i++) flood.sendRaw(frame);
    const first = await flood.waitReplies(8);
    const busy = first.filter((r) => r.type === 'error');
    expect(busy.length).toBeGreaterThan(0);
    busy.forEach((r) =>
      expect(r).toMatchObject({ code: 'busy', message: expect.stringMatching(/4 frames are unanswered on this connection \(limits\.maxFramesInFlight\)/) }),
    );
    // Going on far past the limit without reading is the end of the connection.
    for (let i = 0; i < 200; i++) flood.sendRaw(frame);
    expect(await flood.waitClosed()).toBe(1008);
    const replies = flood.replies;
    expect(replies.length).toBeLessThan(208);
    replies.forEach((r, i) => expect(r.frame).toBe(i));
    // Accepted frames took contiguous seqs from 0; refused ones took none.
    // Every reply owed was sent before the close: the chain holds exactly the accepted frames.
    const accepted = replies.filter((r) => r.type === 'accepted');
    accepted.forEach((r, i) => expect(r.seq).toBe(5 * i));
    expect((await gw.json('/v1/chains/flood')).nextSeq).toBe(5 * accepted.length);

    // A client that waits for its replies never meets the limit.
    const polite = await StreamClient.open(gw.port, 'polite');
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 4; i++) polite.sendRaw(frame);
      await polite.waitReplies(4 * (round + 1));
    }
    expect(polite.replies.every((r) => r.type === 'accepted')).toBe(true);
  });
  it('counts a burst of frames sent in one go as unanswered even when each is answered at once, and cuts off a client that writes thousands', async () => {
    const gw = await serve({ limits: { maxFramesInFlight: 8 } });
    const burst = await StreamClient.open(gw.port, 'burst');
    // Single-entry frames on an idle lane are hashed inline and answered at once:
    // only the burst itself shows that the client does not wait for its replies.
    const frame = pack(['x']);
    for (let i = 0; i < 3000; i++) burst.sendRaw(frame);
    expect(await burst.waitClosed()).toBe(1008);
    expect(burst.replies.length).toBeLessThan(3000);
    const accepted = burst.replies.filter((r) => r.type === 'accepted');
    expect(accepted.length).toBeGreaterThan(0);
    expect((await gw.json('/v1/chains/burst')).nextSeq).toBe(accepted.length);
  });

  it('cuts off a connection that keeps sending frames that are refused, after answering 2 × maxFramesInFlight of them', async () => {
    const gw = await serve({ limits: { maxFramesInFlight: 8 } });
    const bystander = await StreamClient.open(gw.port, 'calm');
    const noisy = await StreamClient.open(gw.port, 'noisy');
    for (let i = 0; i < 3000; i++) noisy.sendRaw('not msgpack, and text');
    expect(await noisy.waitClosed()).toBe(1008);
    // Sixteen replies, then the close: bad_frame for each text frame, and busy for
    // those past maxFramesInFlight when they arrived in one burst.
    expect(noisy.replies).toHaveLength(16);
    noisy.replies.forEach((r, i) => expect(r).toMatchObject({ type: 'error', frame: i, code: expect.stringMatching(/^(bad_frame|busy)$/) }));
    expect(noisy.replies[0]).toMatchObject({ code: 'bad_frame' });
    bystander.send(['fine']);
    expect((await bystander.waitReplies(1))[0]).toMatchObject({ type: 'accepted', seq: 0 });
  });
});

describe('chain slots', () => {
  it('creates a chain with its first accepted frame, not with a connection or a refused frame', async () => {
    const gw = await serve({ limits: { maxChains: 2 } });
    const idle = await Promise.all(['ghost-1', 'ghost-2', 'ghost-3'].map((name) => StreamClient.open(gw.port, name)));
    for (const c of idle) c.sendRaw(pack({ not: 'an array' }));
    for (const c of idle) expect((await c.waitReplies(1))[0]).toMatchObject({ type: 'error', code: 'bad_frame' });
    const res = await gw.http('/v1/chains/ghost-1/entries', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1]' });
    expect(res.status).toBe(400);
    expect((await gw.json<{ chains: unknown[] }>('/v1/chains')).chains).toEqual([]);
    expect((await gw.http('/v1/chains/ghost-1')).status).toBe(404);
    // The slots are still free for chains that write.
    for (const name of ['real-1', 'real-2']) {
      const c = await StreamClient.open(gw.port, name);
      c.send(['x']);
      expect((await c.waitReplies(1))[0]).toMatchObject({ type: 'accepted', seq: 0 });
    }
    idle[0]!.send(['too late']);
    expect((await idle[0]!.waitReplies(2))[1]).toMatchObject({ type: 'error', code: 'unknown_chain', message: expect.stringMatching(/limit of 2 chains/) });
  });
});

describe('HTTP bodies', () => {
  it('answers 413 at once to a Content-Length above the limit, without reading the body', async () => {
    const gw = await serve({ limits: { maxFrameBytes: 64 * 1024 } });
    const answer = async (contentLength: string): Promise<{ response: string; closed: boolean }> => {
      const socket = connect(gw.port, '127.0.0.1');
      await once(socket, 'connect');
      let response = '';
      let closed = false;
      socket.on('data', (d: Buffer) => {
        response += d.toString();
      });
      socket.on('close', () => {
        closed = true;
      });
      socket.write(`POST /v1/chains/x/entries HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${contentLength}\r\n\r\n`);
      await expect.poll(() => response !== '' || closed, { timeout: 20_000 }).toBe(true);
      socket.destroy();
      return { response, closed };
    };
    const over = await answer('100000');
    expect(over.response).toMatch(/^HTTP\/1\.1 413 /);
    expect(over.response).toMatch(/"code":"too_large"/);
    expect(over.response).toMatch(/content-length 100000 is above the limit of 65536 bytes/);
    // A length of 2^32 or more: uWS 20.30's own parser drops the connection before the gateway
    // sees the request; 20.57 hands the request on and the gateway refuses it (docs/protocol.md §6.5).
    const huge = await answer('99999999999');
    const uws = String(gw.logs().find((line) => line.event === 'layout')?.uws);
    if (uws.endsWith('(uws-20.30)')) {
      expect(huge).toEqual({ response: '', closed: true });
    } else {
      expect(uws).toMatch(/\(uws-20\.57\)$/);
      expect(huge.response).toMatch(/^HTTP\/1\.1 413 [\s\S]*content-length 99999999999 is above the limit of 65536 bytes/);
    }
    expect((await gw.http('/healthz')).status).toBe(200);
  });

  it('pages /v1/chains, and a client pipelining requests without reading holds one response, not hundreds', async () => {
    const gw = await serve({});
    const names = Array.from({ length: 1200 }, (_, i) => `c${i}`);
    for (let i = 0; i < names.length; i += 100) {
      await Promise.all(
        names
          .slice(i, i + 100)
          .map((name) => gw.http(`/v1/chains/${name}/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '["x"]' })),
      );
    }
    const first = await gw.json<{ chains: { name: string }[]; total: number; next: number | null }>('/v1/chains');
    expect(first).toMatchObject({ total: 1200, next: 100 });
    expect(first.chains).toHaveLength(100);
    const last = await gw.json<{ chains: { name: string }[]; next: number | null }>('/v1/chains?from=1100&limit=5000');
    expect(last.chains).toHaveLength(100);
    expect(last.next).toBeNull();

    const rssBefore = rssBytes(gw.process.pid!);
    const socket = connect(gw.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.pause(); // never reads
    const request = 'GET /v1/chains?limit=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    socket.write(request.repeat(300)); // ~57 MB of answers if they were all built and buffered
    // Everyone else is served meanwhile (how fast: `npm run bench -- --scenario hostile --kinds pipelined`).
    const bystander = await StreamClient.open(gw.port, 'bystander');
    bystander.send(['hello']);
    expect((await bystander.waitReplies(1))[0]).toMatchObject({ type: 'accepted', seq: 0 });
    expect((await gw.http('/healthz')).status).toBe(200);
    expect(rssBytes(gw.process.pid!) - rssBefore).toBeLessThan(30 * 1024 * 1024);
    socket.destroy();
  });
});

describe('memory in total', () => {
  it('refuses a stream past limits.maxInboundTotalBytes (streams × maxFrameBytes), and takes one again once another closes', async () => {
    const gw = await serve({ limits: { maxFrameBytes: 64 * 1024, maxEntryBytes: 32 * 1024, maxInboundTotalBytes: 4 * 64 * 1024 } });
    const open = await Promise.all([1, 2, 3, 4].map((i) => StreamClient.open(gw.port, `s${i}`)));
    const fifth = await StreamClient.open(gw.port, 's5');
    expect((await fifth.waitReplies(1))[0]).toMatchObject({
      type: 'error',
      frame: null,
      code: 'busy',
      message: expect.stringMatching(/limits\.maxInboundTotalBytes/),
    });
    expect(await fifth.waitClosed()).toBe(1008);
    open[0]!.close();
    await open[0]!.waitClosed();
    const again = await StreamClient.open(gw.port, 's6');
    again.send(['in']);
    expect((await again.waitReplies(1))[0]).toMatchObject({ type: 'accepted' });
  });

  it('closes the connections holding the most unread replies once their total passes limits.maxOutboundTotalBytes', async () => {
    const gw = await serve({ limits: { maxOutboundBytes: 64 * 1024 * 1024, maxOutboundTotalBytes: 8 * 1024 * 1024 } });
    const bystander = await StreamClient.open(gw.port, 'reader');
    const sleepers = await Promise.all(['sleeper-1', 'sleeper-2'].map((name) => StreamClient.open(gw.port, name)));
    // Each accepted reply carries 32 bytes per entry: 1,000 one-byte entries make a 32 KB reply.
    const frame = pack(Array.from({ length: 1000 }, () => 'x'));
    for (const sleeper of sleepers) {
      (sleeper.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // reads nothing from now on
      for (let i = 0; i < 800; i++) sleeper.sendRaw(frame);
    }
    await expect.poll(() => gw.logs().filter((l) => l.event === 'outbound-budget').length, { timeout: 15_000 }).toBeGreaterThan(0);
    const [sweep] = gw.logs().filter((l) => l.event === 'outbound-budget');
    expect(sweep).toMatchObject({ level: 40, dropped: expect.any(Number), bound: 8 * 1024 * 1024 });
    await expect.poll(async () => (await gw.metrics()).value('chainlanes_connections'), { timeout: 20_000 }).toBeLessThan(3);
    // The sleepers' 1.6 M entries may still be sealing on a slow machine, and
    // `busy` is then an honest answer: the bystander must be accepted once it
    // clears, and be told nothing else meanwhile.
    await expect
      .poll(
        async () => {
          bystander.send(['still served']);
          const replies = await bystander.waitReplies(bystander.replies.length + 1);
          return replies.at(-1);
        },
        { timeout: 15_000, interval: 200 },
      )
      .toMatchObject({ type: 'accepted' });
    expect(bystander.replies.filter((r) => r.type !== 'accepted').every((r) => r.type === 'error' && r.code === 'busy')).toBe(true);
  });
});

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

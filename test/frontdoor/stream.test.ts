// StreamConnection through the stream route on a real uWS app in this process
// (an ephemeral port), beside real lane pools and a real sealer, with real
// WebSocket clients: replies in frame order however each frame was answered,
// the bound on frames in flight, cutting a connection off with every reply it
// is owed, chains made by their first accepted frame, committed notices, and
// what a closed stream gives back.
import { describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { LIGHT } from '../../src/ring/index.js';
import { StreamClient, prng, replyHashes, sha256Hex, type Reply } from '../helpers/index.js';
import { serveStreams, startFrontDoor } from '../helpers/front-door.js';

const entries = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag}.${i}`);

/** Accepted replies take contiguous seqs from 0 in frame order; returns the next seq. */
function expectContiguous(replies: readonly Reply[]): number {
  let next = 0;
  for (const r of replies) {
    if (r.type !== 'accepted') continue;
    expect(r.seq, `frame ${String(r.frame)}`).toBe(next);
    next += r.count as number;
  }
  return next;
}

describe('StreamConnection', () => {
  it('sends every reply in the order its frame came, whether a worker hashed it, the front door did, or it was refused at once', async () => {
    const door = await startFrontDoor({ threads: 2 });
    const { port } = await serveStreams(door);
    const client = await StreamClient.open(port, 'ordered');
    const random = prng(7);
    const sent: (string[] | 'text' | 'junk')[] = [];
    for (let burst = 0; burst < 6; burst++) {
      // Each burst is read in one go: large frames wait for a worker while the errors behind them are ready at once.
      for (let i = 0; i < 40; i++) {
        const pick = random();
        if (pick < 0.15) {
          sent.push('text');
          client.sendRaw('not binary');
        } else if (pick < 0.25) {
          sent.push('junk');
          client.sendRaw(pack({ not: 'an array' }));
        } else {
          const list = entries(`b${burst}f${i}`, pick < 0.5 ? 1 : 5 + Math.floor(random() * 200));
          sent.push(list);
          client.send(list);
        }
      }
      await client.waitReplies(sent.length);
    }
    const replies = client.replies;
    expect(replies.map((r) => r.frame)).toEqual(sent.map((_, f) => f));
    replies.forEach((r, f) => {
      const frame = sent[f]!;
      if (frame === 'text') expect(r).toMatchObject({ type: 'error', code: 'bad_frame', message: expect.stringMatching(/text frames are not accepted/) });
      else if (frame === 'junk') expect(r).toMatchObject({ type: 'error', code: 'bad_frame' });
      else expect(replyHashes(r)).toEqual(frame.map((e) => sha256Hex(e)));
    });
    expect(expectContiguous(replies)).toBe(door.chains.get('ordered')!.nextSeq);
    // Both ways of hashing were taken: the replies' order is not an accident of one path.
    expect(door.pools[LIGHT]!.stats()).toMatchObject({ inlineFrames: expect.any(Number), tasks: expect.any(Number) });
    expect(door.pools[LIGHT]!.stats().inlineFrames).toBeGreaterThan(0);
    expect(door.pools[LIGHT]!.stats().tasks).toBeGreaterThan(0);
  });

  it('answers busy past maxFramesInFlight unanswered frames, and cuts off a client that goes on, after sending every reply it is owed', async () => {
    const door = await startFrontDoor();
    const { port, connections, guard } = await serveStreams(door, { maxFramesInFlight: 4 });
    const frame = pack(entries('in flight', 6));
    // A client that waits for its replies never meets the bound.
    const polite = await StreamClient.open(port, 'polite');
    for (let round = 1; round <= 10; round++) {
      for (let i = 0; i < 4; i++) polite.sendRaw(frame);
      await polite.waitReplies(4 * round);
    }
    expect(polite.replies.every((r) => r.type === 'accepted')).toBe(true);

    const flood = await StreamClient.open(port, 'flood');
    for (let i = 0; i < 8; i++) flood.sendRaw(frame);
    const first = await flood.waitReplies(8);
    const busy = first.filter((r) => r.type === 'error');
    expect(busy.length).toBeGreaterThan(0);
    for (const r of busy)
      expect(r).toMatchObject({
        code: 'busy',
        message: '4 frames are unanswered on this connection (limits.maxFramesInFlight); wait for replies before sending more',
      });
    expect(flood.closeCode).toBeNull();
    const rejectedBefore = door.admission.stats.rejected.busy;
    for (let i = 0; i < 200; i++) flood.sendRaw(frame);
    expect(await flood.waitClosed()).toBe(1008);
    expect(flood.closeReason).toBe('more than 8 frames unanswered: the client does not wait for its replies');
    // Every frame it read was answered before the close, numbered from 0 without a gap, and only those.
    const replies = flood.replies;
    expect(replies.map((r) => r.frame)).toEqual(replies.map((_, f) => f));
    expect(replies.length).toBeLessThan(208);
    expect(expectContiguous(replies)).toBe(door.chains.get('flood')!.nextSeq);
    expect(door.admission.stats.rejected.busy - rejectedBefore).toBe(replies.filter((r) => r.type === 'error').length - busy.length + 1);
    // What it held is given back: the slot in the guard and the connection itself.
    await expect.poll(() => connections.size, { timeout: 20_000 }).toBe(1);
    expect(guard.stats.held).toBe(1);
  });

  it('cuts off a client that sends frames that are refused, 2 × maxFramesInFlight in a row, and forgives one that gets a frame accepted between', async () => {
    const door = await startFrontDoor();
    const { port } = await serveStreams(door, { maxFramesInFlight: 4 });
    const heeds = await StreamClient.open(port, 'heeds');
    const refuseRound = async (client: StreamClient, n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        client.sendRaw('text');
        await client.waitReplies(client.replies.length + 1);
      }
    };
    await refuseRound(heeds, 7);
    heeds.send(['good']);
    await heeds.waitReplies(8);
    await refuseRound(heeds, 7);
    expect(heeds.closeCode).toBeNull();
    expect(heeds.replies.filter((r) => r.type === 'accepted')).toHaveLength(1);

    const deaf = await StreamClient.open(port, 'deaf');
    await refuseRound(deaf, 8);
    deaf.sendRaw('text');
    expect(await deaf.waitClosed()).toBe(1008);
    expect(deaf.closeReason).toBe('8 frames refused in a row: the client does not heed its errors');
    expect(deaf.replies).toHaveLength(8);
    expect(door.chains.get('deaf')).toBeUndefined();
  });

  it('makes a chain with its first accepted frame, not when a stream opens or a frame is refused, and refuses a bad name at open', async () => {
    const door = await startFrontDoor();
    const { port, connections } = await serveStreams(door);
    const client = await StreamClient.open(port, 'fresh');
    client.sendRaw('text');
    await client.waitReplies(1);
    expect(door.chains.get('fresh')).toBeUndefined();
    expect(door.chainTable.count).toBe(0);
    client.send(['first']);
    expect((await client.waitReplies(2))[1]).toMatchObject({ type: 'accepted', frame: 1, seq: 0 });
    expect(door.chains.get('fresh')).toMatchObject({ slot: 0, nextSeq: 1 });
    // A second stream to it writes on after the first's entries.
    const second = await StreamClient.open(port, 'fresh');
    second.send(['second']);
    expect((await second.waitReplies(1))[0]).toMatchObject({ type: 'accepted', frame: 0, seq: 1 });

    const bad = await StreamClient.open(port, 'no%20spaces');
    expect((await bad.waitReplies(1))[0]).toMatchObject({
      type: 'error',
      frame: null,
      code: 'bad_request',
      message: expect.stringMatching(/bad chain name in the path/),
    });
    expect(await bad.waitClosed()).toBe(1008);
    expect(door.chainTable.count).toBe(1);
    await expect.poll(() => connections.size, { timeout: 20_000 }).toBe(2);
  });

  it('tells a stream once per block it wrote into that the block is committed', async () => {
    const door = await startFrontDoor({ limits: { maxBlockEntries: 10 } });
    const { port } = await serveStreams(door);
    const client = await StreamClient.open(port, 'durable');
    const other = await StreamClient.open(port, 'durable');
    for (let i = 0; i < 3; i++) client.send(entries(`c${i}`, 4));
    await client.waitReplies(3);
    other.send(['other']);
    await other.waitReplies(1);
    await door.sealAll();
    // Seqs 0-9 (block 0, cut inside the third frame), then 10-12: the other stream wrote only into the second.
    const notices = await client.waitCommitted((c) => c.length >= 2);
    expect(notices.map((n) => [n.height, n.seq, n.count, n.directory])).toEqual([
      [0, 0, 10, 0],
      [1, 10, 3, 0],
    ]);
    expect(Buffer.from(notices[0]!.block as Uint8Array).toString('hex')).toBe(Buffer.from(door.sealed[0]!.hash).toString('hex'));
    expect((await other.waitCommitted((c) => c.length >= 1)).map((n) => n.height)).toEqual([1]);
  });

  it('refuses a stream the inbound total cannot hold, and takes one again once another closes', async () => {
    const door = await startFrontDoor();
    const { port, connections, guard } = await serveStreams(door, { maxInboundTotalBytes: 2 * door.limits.maxFrameBytes });
    const [a, b] = await Promise.all([StreamClient.open(port, 'a'), StreamClient.open(port, 'b')]);
    const third = await StreamClient.open(port, 'c');
    expect((await third.waitReplies(1))[0]).toMatchObject({
      type: 'error',
      frame: null,
      code: 'busy',
      message: expect.stringMatching(/limits\.maxInboundTotalBytes/),
    });
    expect(await third.waitClosed()).toBe(1008);
    b.close();
    await b.waitClosed();
    await expect.poll(() => connections.size, { timeout: 20_000 }).toBe(1);
    const again = await StreamClient.open(port, 'c');
    again.send(['in']);
    expect((await again.waitReplies(1))[0]).toMatchObject({ type: 'accepted', seq: 0 });
    expect(guard.stats.held).toBe(2);
    a.close();
  });
});

// Protocol v1 ingest end to end: a real gateway process, real WebSocket clients.
import { beforeAll, describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { StreamClient, replyHashes, sha256Hex, startGateway, type ChildGateway } from '../helpers/index.js';

describe('stream ingest', () => {
  let gw: ChildGateway;

  beforeAll(async () => {
    // Two workers in the light lane so frames of one chain really are hashed by different threads.
    gw = await startGateway({
      config: { cores: { frontdoor: [0], heavy: [1], medium: [0], light: [0, 1], threads: { heavy: 2, medium: 1, light: 2 } } },
    });
  });

  it('answers accepted with the SHA-256 of every entry, for bin and str entries', async () => {
    const c = await StreamClient.open(gw.port, 'hash-check');
    const entries = ['hello', '', 'ünïcödé', Buffer.from([0, 1, 2, 255]), Buffer.alloc(70_000 / 2, 7)];
    c.send(entries);
    const [reply] = await c.waitReplies(1);
    expect(reply).toMatchObject({ type: 'accepted', frame: 0, seq: 0, count: entries.length });
    expect(replyHashes(reply!)).toEqual(entries.map((e) => sha256Hex(e)));
    c.close();
  });

  it('numbers seqs gap-free in arrival order across connections and workers, replies in frame order', async () => {
    const clients = await Promise.all([0, 1, 2].map(() => StreamClient.open(gw.port, 'ordered')));
    const frames = 300;
    for (let f = 0; f < frames; f++) {
      for (const [i, c] of clients.entries()) c.send(Array.from({ length: 1 + (f % 7) }, (_, k) => `c${i}-f${f}-e${k}`));
    }
    const all = await Promise.all(clients.map((c) => c.waitReplies(frames)));
    const ranges: [number, number][] = [];
    for (const [i, replies] of all.entries()) {
      replies.forEach((r, f) => {
        expect(r).toMatchObject({ type: 'accepted', frame: f, count: 1 + (f % 7) });
        expect(replyHashes(r)[0]).toBe(sha256Hex(`c${i}-f${f}-e0`));
        ranges.push([r.seq as number, r.count as number]);
      });
      // Within one connection, later frames got later seqs (arrival order).
      for (let f = 1; f < replies.length; f++) expect(replies[f]!.seq as number).toBeGreaterThan(replies[f - 1]!.seq as number);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    let next = 0;
    for (const [seq, count] of ranges) {
      expect(seq).toBe(next);
      next += count;
    }
    const lanes = await gw.json<{ lanes: { name: string; tasks: number; inlineFrames: number }[] }>('/v1/lanes');
    const handOffs = lanes.lanes.reduce((n, l) => n + l.tasks + l.inlineFrames, 0);
    // Invariant 5: work crosses threads as ranges. A burst of frames becomes far fewer tasks, none per entry.
    expect(handOffs).toBeLessThan((frames * clients.length) / 2);
    clients.forEach((c) => c.close());
  });

  it('rejects every kind of bad frame with its code, consumes no seq, and keeps serving', async () => {
    const c = await StreamClient.open(gw.port, 'bad-input');
    const bad: [Uint8Array | string, string, RegExp][] = [
      ['a text frame', 'bad_frame', /text frames/],
      [pack({ a: 1 }), 'bad_frame', /map/],
      [pack('just a string'), 'bad_frame', /str, expected an array/],
      [pack([1, 2]), 'bad_frame', /entry 0 is a msgpack integer/],
      [pack(['ok', { nested: true }]), 'bad_frame', /entry 1 is a msgpack map/],
      [pack([]), 'bad_frame', /no entries/],
      [pack(['abc', 'def']).subarray(0, 6), 'bad_frame', /truncated/],
      [Buffer.concat([pack(['abc']), Buffer.from([0xc0])]), 'bad_frame', /after the last/],
      [pack([Buffer.alloc(64 * 1024 + 1)]), 'too_large', /entry 0 has 65537 bytes/],
      [Buffer.from([0xdd, 0x00, 0x01, 0x00, 0x01]), 'too_large', /65537 entries/],
      // A frame above limits.maxFrameBytes ends the connection instead (test/e2e/bounds.test.ts).
    ];
    c.send(['before']);
    for (const [bytes] of bad) c.sendRaw(bytes);
    c.send(['after']);
    const replies = await c.waitReplies(bad.length + 2);
    expect(replies[0]).toMatchObject({ type: 'accepted', seq: 0, count: 1 });
    bad.forEach(([, code, message], i) => {
      const r = replies[i + 1]!;
      expect(r).toMatchObject({ type: 'error', frame: i + 1, code });
      expect(r.message).toMatch(message);
    });
    // The rejected frames used no sequence numbers.
    expect(replies.at(-1)).toMatchObject({ type: 'accepted', frame: bad.length + 1, seq: 1, count: 1 });
    const chain = await gw.json('/v1/chains/bad-input');
    expect(chain.nextSeq).toBe(2);
    c.close();
  });

  it('refuses bad chain names and unknown paths with a clear error', async () => {
    const c = await StreamClient.open(gw.port, 'bad%20name');
    const [reply] = await c.waitReplies(1);
    expect(reply).toMatchObject({ type: 'error', frame: null, code: 'bad_request', message: expect.stringMatching(/bad chain name/) });
    expect(await c.waitClosed()).toBe(1008);
    const long = await StreamClient.open(gw.port, 'x'.repeat(129));
    expect((await long.waitReplies(1))[0]).toMatchObject({ code: 'bad_request' });
    const res = await gw.http('/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/no route GET \/v1\/nothing-here/);
    const missing = await gw.http('/v1/chains/never-seen');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'unknown_chain' } });
  });

  it('reports lanes, cores and chains on the read side', async () => {
    const health = await gw.json('/healthz');
    expect(health).toMatchObject({ status: 'ok', uws: 'native' });
    const lanes = await gw.json<{ lanes: { name: string; cores: number[]; workers: number; chains: string[] }[] }>('/v1/lanes');
    expect(lanes.lanes.map((l) => l.name)).toEqual(['heavy', 'medium', 'light']);
    expect(lanes.lanes[2]).toMatchObject({ cores: [0, 1], workers: 2 });
    // Every chain is in exactly one lane ('ordered' carried most traffic, so it may have been promoted).
    const listed = lanes.lanes.flatMap((l) => l.chains).sort();
    expect(listed).toEqual(['bad-input', 'hash-check', 'ordered']);
    const chains = await gw.json<{ chains: { name: string; lane: string; nextSeq: number }[] }>('/v1/chains');
    expect(chains.chains.find((c) => c.name === 'hash-check')).toMatchObject({ lane: 'light', nextSeq: 5 });
    const metrics = await gw.metrics();
    expect(metrics.value('chainlanes_frames_rejected_total', { code: 'bad_frame' })).toBeGreaterThan(0);
    // Every hashed frame is in the latency histogram of its lane, and the buckets add up.
    const count = metrics.value('chainlanes_hash_latency_seconds_count', { lane: 'light' });
    const inf = metrics.value('chainlanes_hash_latency_seconds_bucket', { lane: 'light', le: '+Inf' });
    expect(count).toBeGreaterThan(0);
    expect(inf).toBe(count);
    expect(metrics.value('chainlanes_event_loop_delay_seconds_count')).toBeGreaterThan(0);
  });
});

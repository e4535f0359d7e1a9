// Client frame ids end to end (docs/protocol.md 4.8): a real gateway, real
// WebSocket clients and HTTP. A frame sent again with its id — on another
// connection, as a client does after its connection broke — is answered with
// its first `accepted` and written once; its entries read back once.
import { beforeAll, describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { encodeFrameId } from '../../src/protocol/index.js';
import { StreamClient, replyHashes, startGateway, tempDir, type ChildGateway, type Reply } from '../helpers/index.js';

const P = Uint8Array.from([0xc1, 0x1e, 0x47, 0, 0, 0, 0, 1]);
const Q = Uint8Array.from([0xc1, 0x1e, 0x47, 0, 0, 0, 0, 2]);
const CHAIN = 'dedup';

function frame(producer: Uint8Array, n: number, entries: readonly string[]): Buffer {
  return Buffer.concat([encodeFrameId(producer, n), pack(entries) as Buffer]);
}

const entries = (tag: string, count: number) => Array.from({ length: count }, (_, i) => `${tag}-${i}`);

describe('client frame ids', () => {
  let gw: ChildGateway;

  beforeAll(async () => {
    gw = await startGateway({ config: { ledger: { blockIntervalMs: 50 } } });
  });

  async function nextSeq(): Promise<number> {
    return (await gw.json<{ nextSeq: number }>(`/v1/chains/${CHAIN}`)).nextSeq;
  }

  it('answers a frame sent again on a new connection with its first accepted, and writes it once', async () => {
    const first = await StreamClient.open(gw.port, CHAIN);
    first.sendRaw(frame(P, 0, entries('a', 5)));
    const [accepted] = await first.waitReplies(1);
    expect(accepted).toMatchObject({ type: 'accepted', frame: 0, seq: 0, count: 5 });
    expect(accepted!.repeat).toBeUndefined();
    // The connection breaks before the client knows what became of its frame: it sends it again elsewhere.
    first.close();

    const again = await StreamClient.open(gw.port, CHAIN);
    again.sendRaw(frame(P, 0, entries('a', 5)));
    again.sendRaw(frame(P, 1, entries('b', 3)));
    const [repeat, next] = await again.waitReplies(2);
    expect(repeat).toMatchObject({ type: 'accepted', frame: 0, seq: 0, count: 5, repeat: true });
    expect(replyHashes(repeat!)).toEqual(replyHashes(accepted!));
    // The next frame continues right after the first: nothing was written twice.
    expect(next).toMatchObject({ type: 'accepted', frame: 1, seq: 5, count: 3 });
    await again.waitCommitted((notices) => notices.some((n) => (n.seq as number) + (n.count as number) >= 8));
    expect(await nextSeq()).toBe(8);

    // Once durable, a repeat says so (no notice follows it).
    again.sendRaw(frame(P, 0, entries('a', 5)));
    const replies = await again.waitReplies(3);
    expect(replies[2]).toMatchObject({ frame: 2, seq: 0, repeat: true, committed: true });
    const written = [...replyHashes(accepted!), ...replyHashes(next!)];
    for (let seq = 0; seq < 8; seq++) {
      expect(await gw.json<{ seq: number; hash: string }>(`/v1/chains/${CHAIN}/entries/${seq}`)).toMatchObject({ seq, hash: written[seq] });
    }
    expect((await gw.http(`/v1/chains/${CHAIN}/entries/8`)).status).toBe(404);
    again.close();
  });

  it('does not confuse producers, refuses a reused id of another size, and takes ids over HTTP', async () => {
    const client = await StreamClient.open(gw.port, CHAIN);
    const start = await nextSeq();
    // Another producer's n 0 is a frame of its own.
    client.sendRaw(frame(Q, 0, entries('q', 2)));
    // P's n 1 had 3 entries.
    client.sendRaw(frame(P, 1, entries('b', 4)));
    client.sendRaw(Buffer.concat([Buffer.from([0xd8, 0x07]), Buffer.alloc(16), pack(['x']) as Buffer]));
    const replies: Reply[] = await client.waitReplies(3);
    expect(replies[0]).toMatchObject({ type: 'accepted', seq: start, count: 2 });
    expect(replies[1]).toMatchObject({ type: 'error', code: 'bad_frame', message: expect.stringMatching(/frame of 3 entries, and this one has 4/) });
    expect(replies[2]).toMatchObject({ type: 'error', code: 'bad_frame', message: expect.stringMatching(/fixext 16 of type 1/) });

    const post = (body: Buffer) => gw.http(`/v1/chains/${CHAIN}/entries`, { method: 'POST', headers: { 'content-type': 'application/msgpack' }, body });
    const repeated = await post(frame(Q, 0, entries('q', 2)));
    expect(repeated.status).toBe(200);
    expect(await repeated.json()).toMatchObject({ seq: start, count: 2, repeat: true });
    const fresh = await (await post(frame(Q, 1, entries('r', 1)))).json();
    expect(fresh).toMatchObject({ seq: start + 2, count: 1 });
    expect(fresh).not.toHaveProperty('repeat');
    expect(await nextSeq()).toBe(start + 3);

    const metrics = await gw.metrics();
    expect(metrics.value('chainlanes_frame_id_repeats_total')).toBe(3);
    expect(metrics.value('chainlanes_frame_ids_remembered')).toBe(4);
    client.close();
  });
});

describe('client frame ids over HTTP: the Chainlanes-Frame-Id header', () => {
  it('gives a JSON body an id: a repeat gets the first answer with repeat: true, a malformed header is refused naming it', async () => {
    const gw = await startGateway({ config: { ledger: { blockIntervalMs: 50 } } });
    const chain = 'json-ids';
    const post = (body: unknown, headers: Record<string, string>, query = '') =>
      gw.http(`/v1/chains/${chain}/entries${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const id = { 'Chainlanes-Frame-Id': 'c11e470000000001:7' };

    const first = await post(['a', 'b', 'c'], id);
    expect(first.status).toBe(200);
    const answer = (await first.json()) as { seq: number; count: number; hashes: string[]; repeat?: boolean };
    expect(answer).toMatchObject({ seq: 0, count: 3, committed: false });
    expect(answer).not.toHaveProperty('repeat');

    // Sent again (say its answer was lost): the first answer, nothing written; with ?wait=committed, once durable.
    const again = await post(['a', 'b', 'c'], id, '?wait=committed');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ chain, seq: 0, count: 3, hashes: answer.hashes, committed: true, repeat: true });
    // The same id sent as the 18 bytes of a msgpack body is the same frame.
    const asMsgpack = await gw.http(`/v1/chains/${chain}/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/msgpack' },
      body: frame(P, 7, ['a', 'b', 'c']),
    });
    expect(await asMsgpack.json()).toMatchObject({ seq: 0, count: 3, repeat: true });
    // Another n is another frame; the header is read case-insensitively and its hex in either case.
    expect(await (await post(['d'], { 'chainlanes-frame-id': 'C11E470000000001:8' })).json()).toMatchObject({ seq: 3, count: 1 });

    const refusals: [Record<string, string>, unknown, number, string, RegExp][] = [
      [id, ['a', 'b'], 400, 'bad_frame', /frame of 3 entries, and this one has 2/],
      [{ 'Chainlanes-Frame-Id': 'c11e4700000001:7' }, ['x'], 400, 'bad_request', /chainlanes-frame-id must be "<producer>:<n>"/],
      [{ 'Chainlanes-Frame-Id': 'c11e470000000001:-1' }, ['x'], 400, 'bad_request', /chainlanes-frame-id must be/],
      [{ 'Chainlanes-Frame-Id': 'c11e470000000001:9007199254740992' }, ['x'], 400, 'bad_request', /from 0 to 2\^53 − 1/],
      [{ 'Chainlanes-Frame-Id': 'c11e470000000001' }, ['x'], 400, 'bad_request', /chainlanes-frame-id must be/],
    ];
    for (const [headers, body, status, code, message] of refusals) {
      const res = await post(body, headers);
      expect(res.status).toBe(status);
      expect(await res.json()).toMatchObject({ error: { code, message: expect.stringMatching(message) } });
    }
    // An id in the body and one in the header: refused, not guessed.
    const both = await gw.http(`/v1/chains/${chain}/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/msgpack', ...id },
      body: frame(P, 9, ['y']),
    });
    expect(both.status).toBe(400);
    expect(await both.json()).toMatchObject({ error: { code: 'bad_request', message: expect.stringMatching(/frame id of its own/) } });
    // Nothing refused left a trace.
    expect((await gw.json<{ nextSeq: number }>(`/v1/chains/${chain}`)).nextSeq).toBe(4);
  });
});

// The window outlives a restart: each id was written with its frame's first
// block (ledger.frameIds), and the restarted gateway rebuilds the window
// from the store, hashes and all.
describe('client frame ids across a restart', () => {
  it('a repeat of a frame sent before the restart gets its original accepted (repeat, committed) and writes nothing', async () => {
    const dataDir = tempDir('chainlanes-frame-ids-restart-');
    // Blocks of 4 entries: the 6-entry frame runs across two blocks.
    const config = { ledger: { blockIntervalMs: 50, maxBlockEntries: 4 } };
    const before = await startGateway({ dataDir, config });
    const client = await StreamClient.open(before.port, CHAIN);
    client.sendRaw(frame(P, 0, entries('a', 3)));
    client.sendRaw(frame(P, 1, entries('b', 6)));
    client.sendRaw(pack(entries('plain', 2)) as Buffer);
    client.sendRaw(frame(Q, 7, entries('q', 1)));
    const firsts = await client.waitReplies(4);
    expect(firsts.map((r) => [r.seq, r.count])).toEqual([
      [0, 3],
      [3, 6],
      [9, 2],
      [11, 1],
    ]);
    await client.waitCommitted((notices) => notices.some((n) => (n.seq as number) + (n.count as number) >= 12));
    client.close();
    expect(await before.stop()).toBe(0);

    const after = await startGateway({ dataDir, config });
    const again = await StreamClient.open(after.port, CHAIN);
    again.sendRaw(frame(P, 1, entries('b', 6)));
    again.sendRaw(frame(Q, 7, entries('q', 1)));
    again.sendRaw(frame(P, 0, entries('a', 3)));
    again.sendRaw(frame(P, 2, entries('c', 1)));
    const replies = await again.waitReplies(4);
    for (const [i, first] of [1, 3, 0].entries()) {
      expect(replies[i]).toMatchObject({ type: 'accepted', frame: i, seq: firsts[first]!.seq, count: firsts[first]!.count, repeat: true, committed: true });
      expect(replyHashes(replies[i]!)).toEqual(replyHashes(firsts[first]!));
    }
    // Nothing was written twice: the next frame continues where the first gateway stopped.
    expect(replies[3]).toMatchObject({ type: 'accepted', frame: 3, seq: 12, count: 1 });
    expect(replies[3]).not.toHaveProperty('repeat');
    await again.waitCommitted((notices) => notices.some((n) => (n.seq as number) + (n.count as number) >= 13));
    expect((await after.json<{ nextSeq: number }>(`/v1/chains/${CHAIN}`)).nextSeq).toBe(13);
    const metrics = await after.metrics();
    expect(metrics.value('chainlanes_frame_id_repeats_total')).toBe(3);
    // The three ids of before the restart, and the new one.
    expect(metrics.value('chainlanes_frame_ids_remembered')).toBe(4);
    again.close();
  });
});

// Past limits.maxFrameIdBytes, ids whose entries are durable give up their
// hashes and stay in the window: a repeat of one is answered with hashes read
// back from the store (the reader threads), not written again.
describe('client frame ids past the window byte bound', () => {
  it('answers a repeat of an id stripped of its hashes from the store, in frame order, over the stream and HTTP', async () => {
    const PER = 100;
    const gw = await startGateway({ config: { ledger: { blockIntervalMs: 20 }, limits: { maxFrameIdBytes: 64 * 1024 } } });
    const chain = 'stripped';
    const writer = await StreamClient.open(gw.port, chain);
    // 40 frames of 100 entries: 3,456 bytes each with hashes, so fewer than 19 keep them; sent in rounds, each durable before the next.
    const firsts: Reply[] = [];
    for (let round = 0; round < 8; round++) {
      for (let n = 5 * round; n < 5 * round + 5; n++) writer.sendRaw(frame(P, n, entries(`s${n}`, PER)));
      firsts.push(...(await writer.waitReplies(5 * round + 5)).slice(5 * round));
      await writer.waitCommitted((notices) => notices.some((c) => (c.seq as number) + (c.count as number) >= (5 * round + 5) * PER));
    }
    expect(firsts.map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, n) => n * PER));
    writer.close();
    let metrics = await gw.metrics();
    expect(metrics.value('chainlanes_frame_ids_stripped_total')).toBeGreaterThan(0);
    expect(metrics.value('chainlanes_frame_ids_evicted_total')).toBe(0);
    expect(metrics.value('chainlanes_frame_ids_bytes')).toBeLessThanOrEqual(64 * 1024);

    // n 0 was stripped (read from the store), n 39 was not (from memory), n 40 is new: answered in the order sent.
    const again = await StreamClient.open(gw.port, chain);
    again.sendRaw(frame(P, 0, entries('s0', PER)));
    again.sendRaw(frame(P, 39, entries('s39', PER)));
    again.sendRaw(frame(P, 40, entries('s40', PER)));
    const replies = await again.waitReplies(3);
    expect(replies[0]).toMatchObject({ type: 'accepted', frame: 0, seq: 0, count: PER, repeat: true, committed: true });
    expect(replyHashes(replies[0]!)).toEqual(replyHashes(firsts[0]!));
    expect(replies[1]).toMatchObject({ type: 'accepted', frame: 1, seq: 39 * PER, repeat: true, committed: true });
    expect(replyHashes(replies[1]!)).toEqual(replyHashes(firsts[39]!));
    expect(replies[2]).toMatchObject({ type: 'accepted', frame: 2, seq: 40 * PER, count: PER });
    expect(replies[2]).not.toHaveProperty('repeat');
    again.close();

    // The same over HTTP: n 1 as a JSON body with the id in the header.
    const res = await gw.http(`/v1/chains/${chain}/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Chainlanes-Frame-Id': `${Buffer.from(P).toString('hex')}:1` },
      body: JSON.stringify(entries('s1', PER)),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ chain, seq: PER, count: PER, hashes: replyHashes(firsts[1]!), committed: true, repeat: true });

    expect((await gw.json<{ nextSeq: number }>(`/v1/chains/${chain}`)).nextSeq).toBe(41 * PER);
    metrics = await gw.metrics();
    expect(metrics.value('chainlanes_frame_id_repeats_from_store_total')).toBe(2);
    expect(metrics.value('chainlanes_frame_id_repeats_total')).toBe(3);
  });
});

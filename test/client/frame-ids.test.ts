// The client package with frame ids (ConnectOptions.frameIds) against a real
// gateway behind a relay that can hold replies and drop connections: frames
// whose replies were lost are sent again on the next connection, answered as
// repeats, and every entry is written exactly once.
import { describe, expect, it } from 'vitest';
import { connect, type SubmitResult } from '../../src/client/index.js';
import { registerCleanup, stableAddress, startGateway, tempDir } from '../helpers/index.js';
import { expectStored, expectTiled, Flood, PER_FRAME } from './flood.js';

const CONFIG = { ledger: { blockIntervalMs: 20 }, allowedHosts: ['*'] };

const entriesOf = (f: number) => Array.from({ length: PER_FRAME }, (_, k) => `frame-${f}-entry-${k}`);

describe('client frame ids', () => {
  it('sends again the frames a dropped connection left unanswered, and each entry is written once', async () => {
    const gw = await startGateway({ config: CONFIG });
    const relay = await stableAddress(gw);
    const client = await connect(relay.url, 'once', { frameIds: true, reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
    registerCleanup('client', () => client.close());
    const chainSeq = async () => (await gw.json<{ nextSeq: number }>('/v1/chains/once')).nextSeq;

    // Round 1: the gateway accepts 40 frames, but their replies never reach the client; then the connection drops.
    const first = await client.submit(entriesOf(0));
    expect(first).toMatchObject({ seq: 0 });
    relay.holdReplies();
    const round = Array.from({ length: 40 }, (_, i) => client.submit(entriesOf(1 + i)));
    await expect.poll(chainSeq, { timeout: 20_000 }).toBe(41 * PER_FRAME);
    const dropped = new Promise<void>((resolve) => client.on('disconnect', () => resolve()));
    relay.cut();
    await dropped;
    const results = await Promise.all(round);
    // Sent again on the new connection: answered with their first seqs, nothing written again.
    expect(results.every((r) => r.repeat === true)).toBe(true);
    expect(results.map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => (1 + i) * PER_FRAME));
    expect(await chainSeq()).toBe(41 * PER_FRAME);

    // Round 2: connections dropped three times while a flood is in flight, some frames read by the gateway and some not.
    const flood: Promise<SubmitResult>[] = [];
    for (let batch = 0; batch < 6; batch++) {
      for (let i = 0; i < 50; i++) flood.push(client.submit(entriesOf(41 + 50 * batch + i)));
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (batch % 2 === 1) relay.cut();
    }
    const all = [first, ...results, ...(await Promise.all(flood))];
    expectTiled(all, 341 * PER_FRAME);
    expect(await chainSeq()).toBe(341 * PER_FRAME);
    // The entries stored are those the client was told of.
    const told = new Map<number, string>();
    for (const r of all) r.hashes.forEach((h, i) => told.set(r.seq + i, Buffer.from(h).toString('hex')));
    for (const seq of [0, 41 * PER_FRAME, 200 * PER_FRAME, 341 * PER_FRAME - 1]) {
      await expect.poll(async () => (await gw.http(`/v1/chains/once/entries/${seq}`)).status, { timeout: 20_000 }).toBe(200);
      expect((await gw.json<{ hash: string }>(`/v1/chains/once/entries/${seq}`)).hash).toBe(told.get(seq));
    }
  });
});

// The second half (README "Clients", "Exactly once"): every accepted frame is
// kept until `committed` covers it, sent again on each new connection, and
// its commit reported once (`frameCommitted`), whatever the connection did.

describe('client frame ids: each frame committed exactly once', () => {
  // Blocks cut every 300 ms: a frame stays accepted and not committed long enough to cut its connection then.
  const SLOW_SEALS = { ledger: { blockIntervalMs: 300 }, allowedHosts: ['*'] };

  it('connections cut after accepted and before committed, many times under a flood', async () => {
    const gw = await startGateway({ config: SLOW_SEALS });
    const relay = await stableAddress(gw);
    const client = await connect(relay.url, 'exactly-once', { frameIds: true, reconnect: { minDelayMs: 10, maxDelayMs: 100 } });
    registerCleanup('client', () => client.close());
    const flood = new Flood(client);

    const uncommittedAtCuts: number[] = [];
    for (let cut = 0; cut < 12; cut++) {
      flood.send(40);
      // Cut only once the gateway accepted frames the client has no `committed` for.
      await expect.poll(() => client.connected && client.frameStats!.uncommitted > 0, { timeout: 20_000 }).toBe(true);
      uncommittedAtCuts.push(client.frameStats!.uncommitted);
      relay.cut();
    }
    // The last cut leaves only frames accepted and not committed, none unanswered, and nothing new follows:
    // their `committed` can only come from sending them again.
    for (;;) {
      flood.send(5);
      await flood.accepted();
      if (client.frameStats!.uncommitted > 0) break; // no await between this check and the cut: no notice comes between
    }
    uncommittedAtCuts.push(client.frameStats!.uncommitted);
    relay.cut();
    await flood.settled();

    const frames = flood.expectExactlyOnce();
    expect(uncommittedAtCuts.every((n) => n > 0)).toBe(true);
    const stats = client.frameStats!;
    // Frames sent again were answered with their first `accepted`: the gateway had them.
    expect(stats.repeats).toBeGreaterThan(0);
    expect(stats).toMatchObject({ uncommitted: 0, reported: flood.submitted.length, rewritten: 0, duplicates: 0 });
    await expectStored(`http://127.0.0.1:${gw.port}`, 'exactly-once', frames, flood.submitted.length * PER_FRAME);
  }, 90_000);

  it('a gateway killed (-9) mid-flood and restarted on its data: every frame committed exactly once', async () => {
    const dataDir = tempDir('chainlanes-frame-ids2-kill-');
    const first = await startGateway({ dataDir, config: SLOW_SEALS });
    const relay = await stableAddress(first);
    const client = await connect(relay.url, 'survivor', { frameIds: true, reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
    registerCleanup('client', () => client.close());
    const flood = new Flood(client);

    let gw = first;
    for (let kill = 0; kill < 3; kill++) {
      flood.send(60);
      await expect.poll(() => client.connected && client.frameStats!.uncommitted > 0, { timeout: 20_000 }).toBe(true);
      await gw.kill();
      gw = await startGateway({ dataDir, config: SLOW_SEALS });
      relay.to(gw);
      relay.cut(); // connections to the dead gateway: the relay drops those still open
      flood.send(20); // submitted while the client reconnects: held, sent after the frames it sends again
    }
    flood.send(40);
    await flood.settled();

    const frames = flood.expectExactlyOnce();
    const stats = client.frameStats!;
    // Each kill left frames accepted and not committed: answered from the window the store rebuilt, or written again.
    expect(stats.repeats + stats.rewritten).toBeGreaterThan(0);
    expect(stats).toMatchObject({ uncommitted: 0, duplicates: 0 });
    await expectStored(`http://127.0.0.1:${gw.port}`, 'survivor', frames, flood.submitted.length * PER_FRAME);
  }, 120_000);
});

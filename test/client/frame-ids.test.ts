// The client package with frame ids (ConnectOptions.frameIds) against a real
// gateway behind a relay that can hold replies and drop connections: frames
// whose replies were lost are sent again on the next connection, answered as
// repeats, and every entry is written exactly once.
import { describe, expect, it } from 'vitest';
import { connect, type SubmitResult } from '../../src/client/index.js';
import { registerCleanup, stableAddress, startGateway } from '../helpers/index.js';

const CONFIG = { ledger: { blockIntervalMs: 20 }, allowedHosts: ['*'] };
const PER_FRAME = 3;

const entriesOf = (f: number) => Array.from({ length: PER_FRAME }, (_, k) => `frame-${f}-entry-${k}`);

/** Every seq from 0 to `total` exactly once over the results. */
function expectTiled(results: readonly SubmitResult[], total: number): void {
  const seqs = results.flatMap((r) => Array.from({ length: r.count }, (_, i) => r.seq + i)).sort((a, b) => a - b);
  expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i));
}

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

// The client package with frame ids (ConnectOptions.frameIds) against a real
// gateway behind a relay that can hold replies and drop connections: frames
// whose replies were lost are sent again on the next connection, answered as
// repeats, and every entry is written exactly once.
import { describe, expect, it } from 'vitest';
import { connect, type ChainClient, type ChainError, type FrameCommitted, type SubmitResult } from '../../src/client/index.js';
import { registerCleanup, sha256Hex, stableAddress, startGateway, tempDir, type ChildGateway } from '../helpers/index.js';

const CONFIG = { ledger: { blockIntervalMs: 20 }, allowedHosts: ['*'] };
const PER_FRAME = 3;

const entriesOf = (f: number) => Array.from({ length: PER_FRAME }, (_, k) => `frame-${f}-entry-${k}`);

/** Every seq from 0 to `total` exactly once over the results. */
function expectTiled(results: readonly { seq: number; count: number }[], total: number): void {
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

// The second half (README "Clients", "Exactly once"): every accepted frame is
// kept until `committed` covers it, sent again on each new connection, and
// its commit reported once (`frameCommitted`), whatever the connection did.

/** A flood of the client package: frame i holds PER_FRAME entries named after i; what the application saw of each. */
class Flood {
  readonly submitted: string[][] = [];
  /** frameCommitted reports, by frame id: exactly one each is the promise. */
  readonly reports = new Map<number, FrameCommitted[]>();
  readonly idOf = new Map<number, number>();
  private readonly waiting: Promise<void>[] = [];

  constructor(private readonly client: ChainClient) {
    client.on('frameCommitted', (frame) => {
      const seen = this.reports.get(frame.id) ?? [];
      seen.push(frame);
      this.reports.set(frame.id, seen);
    });
  }

  /** Submits `frames` frames at once; a `busy` submit (the client's bound) is submitted again shortly. */
  send(frames: number): void {
    for (let k = 0; k < frames; k++) {
      const i = this.submitted.length;
      const entries = Array.from({ length: PER_FRAME }, (_, e) => `flood-${i}-entry-${e}`);
      this.submitted.push(entries);
      this.waiting.push(this.submitUntilTaken(i, entries));
    }
  }

  private async submitUntilTaken(i: number, entries: string[]): Promise<void> {
    for (;;) {
      try {
        this.idOf.set(i, (await this.client.submit(entries)).id!);
        return;
      } catch (err) {
        if ((err as ChainError).code !== 'busy') throw err;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  /** Every submit so far resolved (accepted). */
  async accepted(): Promise<void> {
    await Promise.all(this.waiting);
  }

  /** Every submit resolved, and every frame reported committed. */
  async settled(): Promise<void> {
    await this.accepted();
    await expect.poll(() => this.reports.size, { timeout: 30_000 }).toBe(this.submitted.length);
  }

  /** Each frame reported once, at seqs that tile the chain from 0, with the hashes of its own entries. */
  expectExactlyOnce(): FrameCommitted[] {
    const reports = [...this.reports.values()];
    expect(reports.filter((r) => r.length !== 1)).toEqual([]);
    const frames = reports.map((r) => r[0]!);
    expectTiled(frames, this.submitted.length * PER_FRAME);
    for (const [i, entries] of this.submitted.entries()) {
      const frame = this.reports.get(this.idOf.get(i)!)![0]!;
      expect(frame.hashes.map(hex)).toEqual(entries.map((e) => sha256Hex(Buffer.from(e))));
    }
    return frames;
  }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** The chain's entry hashes by seq, read back block by block through the HTTP API. */
async function storedHashes(gw: ChildGateway, chain: string, total: number): Promise<string[]> {
  const hashes: string[] = [];
  for (let height = 0; hashes.length < total; height++) {
    const res = await gw.http(`/v1/chains/${chain}/blocks/${height}`);
    expect(res.status).toBe(200);
    const block = (await res.json()) as { firstSeq: number; entryHashes: string[] };
    expect(block.firstSeq).toBe(hashes.length);
    hashes.push(...block.entryHashes);
  }
  expect(hashes.length).toBe(total);
  return hashes;
}

/** The store holds exactly the frames reported, each once, where they were reported. */
async function expectStored(gw: ChildGateway, chain: string, frames: readonly FrameCommitted[], total: number): Promise<void> {
  expect((await gw.json<{ nextSeq: number }>(`/v1/chains/${chain}`)).nextSeq).toBe(total);
  const stored = await storedHashes(gw, chain, total);
  for (const frame of frames) expect(stored.slice(frame.seq, frame.seq + frame.count)).toEqual(frame.hashes.map(hex));
  expect(new Set(stored).size).toBe(total); // every entry is distinct: none written twice
}

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
    await expectStored(gw, 'exactly-once', frames, flood.submitted.length * PER_FRAME);
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
    await expectStored(gw, 'survivor', frames, flood.submitted.length * PER_FRAME);
  }, 120_000);
});

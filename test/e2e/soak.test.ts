// A short mixed soak: many clients on several chains, frames of every size,
// bad frames among them, chains moving between lanes, then every invariant
// checked at once. Bounded: about 3 s of traffic to 127.0.0.1.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { pack } from 'msgpackr';
import { verifyEntry, type EntryProof } from '../../src/client/verify.js';
import { CLI, StreamClient, replyHashes, sha256Hex, sleep, startGateway, type Reply } from '../helpers/index.js';

/** A deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x / 0x7fffffff;
  };
}

interface Sent {
  bad: boolean;
  entries: string[];
}

describe('soak', () => {
  it('keeps every invariant under mixed traffic, bad frames and lane moves', async () => {
    const gw = await startGateway({
      config: {
        scheduler: {
          tickMs: 50,
          tauMs: 200,
          demoteAfterMs: 300,
          laneTable: {
            lanes: [
              { lane: 'heavy', minEntriesPerSec: 3_000 },
              { lane: 'medium', minEntriesPerSec: 300 },
            ],
            shareFloorEntriesPerSec: 1e12,
          },
        },
        ledger: { blockIntervalMs: 100, maxBlockEntries: 2_000 },
      },
    });
    const rand = random(42);
    const chains = ['soak-a', 'soak-b', 'soak-c'];
    const clients = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => StreamClient.open(gw.port, chains[i % chains.length]!)));
    const sent: Sent[][] = clients.map(() => []);
    const until = Date.now() + 3_000;
    let n = 0;
    while (Date.now() < until) {
      for (const [i, c] of clients.entries()) {
        // Client 0 bursts (its chain climbs lanes); the others trickle, and bursts come and go.
        const burst = i === 0 ? (Date.now() % 1000 < 600 ? 8 : 1) : 1;
        for (let b = 0; b < burst; b++) {
          if (rand() < 0.05) {
            c.sendRaw(rand() < 0.5 ? 'not binary' : pack({ not: 'an array' }));
            sent[i]!.push({ bad: true, entries: [] });
            continue;
          }
          const size = rand() < 0.3 ? 1 : 1 + Math.floor(rand() * 80);
          const entries = Array.from({ length: size }, (_, k) => `c${i} n${n} k${k} ${'p'.repeat(Math.floor(rand() * 300))}`);
          n++;
          c.send(entries);
          sent[i]!.push({ bad: false, entries });
        }
      }
      await sleep(3);
    }
    const replies = await Promise.all(clients.map((c, i) => c.waitReplies(sent[i]!.length)));

    // Invariant 2: exactly one reply per frame, in order; bad frames are errors.
    const accepted = new Map<string, { seq: number; count: number }[]>(chains.map((c) => [c, []]));
    replies.forEach((list, i) => {
      expect(list).toHaveLength(sent[i]!.length);
      list.forEach((r: Reply, f) => {
        const frame = sent[i]![f]!;
        expect(r.frame).toBe(f);
        if (frame.bad) {
          expect(r).toMatchObject({ type: 'error', code: 'bad_frame' });
          return;
        }
        expect(r.type).toBe('accepted');
        expect(r.count).toBe(frame.entries.length);
        expect(replyHashes(r)[0]).toBe(sha256Hex(frame.entries[0]!));
        accepted.get(chains[i % chains.length]!)!.push({ seq: r.seq as number, count: r.count as number });
      });
    });
    // Invariant 1: per chain, seqs from 0 with no gap and no overlap, whatever lane and worker.
    const totals = new Map<string, number>();
    for (const [chain, ranges] of accepted) {
      ranges.sort((a, b) => a.seq - b.seq);
      let next = 0;
      for (const r of ranges) {
        expect(r.seq).toBe(next);
        next += r.count;
      }
      totals.set(chain, next);
      expect((await gw.json(`/v1/chains/${chain}`)).nextSeq).toBe(next);
    }
    // Invariant 4 was exercised: the bursting chain changed lane at least once.
    expect(gw.logs()).toContainEqual(expect.objectContaining({ event: 'lane-change', chain: 'soak-a', to: expect.stringMatching(/^(medium|heavy)$/) }));
    // Invariant 3: everything becomes durable and verifiable.
    const committedSeqs = (): Promise<unknown[]> => Promise.all(chains.map(async (c) => (await gw.json(`/v1/chains/${c}`)).committedSeq));
    await expect.poll(committedSeqs, { timeout: 20_000, interval: 100 }).toEqual(chains.map((c) => totals.get(c)));
    for (const chain of chains) {
      const total = totals.get(chain)!;
      expect((await gw.json(`/v1/chains/${chain}`)).committedSeq).toBe(total);
      for (const seq of [0, Math.floor(total / 3), Math.floor((2 * total) / 3), total - 1]) {
        const proof = (await gw.json(`/v1/chains/${chain}/entries/${seq}`)) as unknown as EntryProof;
        expect(verifyEntry(proof, { chain, seq })).toEqual({ ok: true });
      }
    }
    clients.forEach((c) => c.close());
    expect(await gw.stop()).toBe(0);
    expect(execFileSync(process.execPath, [CLI, 'verify', '--data', gw.dataDir], { encoding: 'utf8' })).toMatch(/OK: 3 chains/);
  }, 60_000);
});

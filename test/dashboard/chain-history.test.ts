// The chain view's history without a gateway: real chain registry, chain
// table and commit sampler, the clock passed in. Points per chain are bounded,
// the chains with a history are bounded (watched ones kept, the busiest
// admitted, an idle or much slower one pushed out), and each column measures
// what it says.
import { describe, expect, it } from 'vitest';
import { CHAIN_COLUMNS, ChainHistories, CommitSampler } from '../../src/dashboard/index.js';
import { ChainRegistry } from '../../src/frontdoor/index.js';
import { ChainTable, HEAVY } from '../../src/ring/index.js';

const T0 = 1_800_000_000_000;

function world(options: { maxChains?: number; points?: number; credits?: Map<string, number> | null; restored?: [string, number][] } = {}) {
  const chains = new ChainRegistry(ChainTable.allocate(64));
  for (const [name, nextSeq] of options.restored ?? []) chains.getOrCreate(name, nextSeq, 1);
  const sampler = new CommitSampler(64);
  const credits = options.credits === undefined ? null : options.credits;
  const histories = new ChainHistories(
    {
      chains,
      latencySumMs: sampler.chainLatencySumMs,
      latencyCount: sampler.chainLatencyCount,
      creditsBurned: (name) => (credits === null ? null : (credits.get(name) ?? 0)),
    },
    { maxChains: options.maxChains ?? 8, points: options.points ?? 5 },
    T0,
  );
  let now = T0;
  /** One point a second: every chain's `writes` (name → entries) are accepted and committed, then a sample. */
  const second = (writes: Record<string, number> = {}): void => {
    for (const [name, n] of Object.entries(writes)) {
      const chain = chains.getOrCreate(name)!;
      chain.nextSeq += n;
      chain.committedSeq += n;
    }
    now += 1000;
    histories.sample(now);
  };
  return { chains, sampler, histories, second, credits, now: () => now };
}

describe('chain histories', () => {
  it('take a point a second per busy chain: rates, lane, seqs, blocks, commit latency; at most `points` kept', () => {
    const { chains, sampler, histories, second } = world({ points: 5 });
    const chain = chains.getOrCreate('busy')!;
    second(); // first seen: what it had before is not a second's traffic
    expect(histories.has(chain.slot)).toBe(false);
    second({ busy: 300 });
    expect(histories.has(chain.slot)).toBe(true);
    chains.table.setLane(chain.slot, HEAVY);
    chain.nextHeight += 2;
    sampler.admitted(chain.slot, 350, 10);
    sampler.committed(chain.slot, 400, 40); // 30 ms
    sampler.admitted(chain.slot, 450, 100);
    sampler.committed(chain.slot, 500, 150); // 50 ms
    chain.nextSeq += 200; // accepted, not yet committed
    second();
    const series = histories.series(chain.slot)!;
    expect(Object.keys(series)).toEqual([...CHAIN_COLUMNS]);
    expect(series.acceptedPerSec).toEqual([300, 200]);
    expect(series.committedPerSec).toEqual([300, 0]);
    expect(series.lane).toEqual([2, HEAVY]);
    expect(series.nextSeq).toEqual([300, 500]);
    expect(series.committedSeq).toEqual([300, 300]);
    // The first point has no block count or latency to take differences of; the second does.
    expect(series.blocksPerMin[0]).toBeNaN();
    expect(series.blocksPerMin[1]).toBe(120);
    expect(series.commitLatencyMs[0]).toBeNaN();
    expect(series.commitLatencyMs[1]).toBe(40);
    // Open mode: no credits.
    expect(series.creditsBurnedPerMin.every(Number.isNaN)).toBe(true);
    expect(JSON.parse(JSON.stringify(series)).creditsBurnedPerMin).toEqual([null, null]);

    for (let i = 0; i < 10; i++) second({ busy: i });
    const kept = histories.series(chain.slot)!;
    expect(kept.at).toHaveLength(5);
    expect(kept.acceptedPerSec).toEqual([5, 6, 7, 8, 9]);
    expect(kept.at[4]! - kept.at[0]!).toBe(4000);
    expect(histories.latest(chain.slot)!.acceptedPerSec).toEqual([9]);
  });

  it('count a chain restored from the store from its seq at start, and one created later from 0', () => {
    const { chains, histories, second } = world({ restored: [['restored', 1_000_000]] });
    const restored = chains.get('restored')!;
    restored.committedSeq = restored.nextSeq;
    second();
    expect(histories.has(restored.slot)).toBe(false);
    second({ restored: 5, fresh: 7 });
    expect(histories.series(restored.slot)!.acceptedPerSec).toEqual([5]);
    expect(histories.series(chains.get('fresh')!.slot)!.acceptedPerSec).toEqual([7]);
  });

  it('keep a history for at most maxChains chains: the busiest first, pushing out an idle one or one less than half as busy', () => {
    const { chains, histories, second } = world({ maxChains: 3 });
    for (const name of ['a', 'b', 'c', 'd', 'e']) chains.getOrCreate(name);
    second();
    second({ a: 10, b: 50, c: 40, d: 30, e: 20 });
    const tracked = (): string[] =>
      chains
        .all()
        .filter((c) => histories.has(c.slot))
        .map((c) => c.name);
    expect(tracked()).toEqual(['b', 'c', 'd']);
    expect(histories.size).toBe(3);
    // All three busy: e at 45 is not twice as busy as the slowest (d, 30), so nothing moves.
    second({ b: 50, c: 40, d: 30, e: 45 });
    expect(tracked()).toEqual(['b', 'c', 'd']);
    // e at 61 is: d makes way.
    second({ b: 50, c: 40, d: 30, e: 61 });
    expect(tracked()).toEqual(['b', 'c', 'e']);
    // c goes idle: the next chain that writes takes its place, however slow.
    second({ b: 50, e: 61 });
    second({ b: 50, e: 61, a: 1 });
    expect(tracked()).toEqual(['a', 'b', 'e']);
    expect(histories.series(chains.get('a')!.slot)!.acceptedPerSec).toEqual([1]);
  });

  it('keep a watched chain, busy or not, until unwatched; refuse an unknown chain, and more watched chains than they hold', () => {
    const { chains, histories, second } = world({ maxChains: 2 });
    for (const name of ['quiet', 'x', 'y', 'z']) chains.getOrCreate(name);
    second();
    expect(histories.watch('nope')).toEqual({ code: 'unknown_chain', message: 'no chain "nope"' });
    const quiet = histories.watch('quiet');
    expect(quiet).toBe(chains.get('quiet')!.slot);
    second({ x: 100, y: 200, z: 300 });
    // The quiet chain keeps its place (and gets its points); the busiest other takes the one left.
    expect(histories.has(chains.get('quiet')!.slot)).toBe(true);
    expect(histories.has(chains.get('z')!.slot)).toBe(true);
    expect(histories.series(quiet as number)!.acceptedPerSec).toEqual([0]);
    // A second page watches x: z, unwatched, makes way.
    expect(histories.watch('x')).toBe(chains.get('x')!.slot);
    expect(histories.has(chains.get('z')!.slot)).toBe(false);
    expect(histories.watch('y')).toMatchObject({ code: 'busy', message: expect.stringMatching(/2 chains are watched already/) });
    // Unwatched, the quiet chain is the first to go when a busy one comes.
    histories.unwatch(quiet as number);
    second({ x: 100, y: 200 });
    expect(histories.has(chains.get('quiet')!.slot)).toBe(false);
    expect(histories.has(chains.get('y')!.slot)).toBe(true);
  });

  it('give credits burned per minute in authenticated mode', () => {
    const credits = new Map<string, number>();
    const { chains, histories, second } = world({ credits });
    chains.getOrCreate('paid');
    second();
    second({ paid: 10 });
    credits.set('paid', 7);
    second({ paid: 10 });
    credits.set('paid', 12);
    second({ paid: 10 });
    const series = histories.series(chains.get('paid')!.slot)!;
    expect(series.creditsBurnedPerMin[0]).toBeNaN();
    expect(series.creditsBurnedPerMin.slice(1)).toEqual([420, 300]);
  });
});

// Micro-benchmark of the dashboard's per-tick work that issue #24 added: the
// chain view's sampling, ChainHistories.sample (once a second on the feed's
// timer), over 1,000 and 10,000 chains every one of which was written to since
// the last point (the worst case: each compared, 128 given a point, the rest
// ranked for a place), beside the bench's own cost of writing to them; and
// CommitSampler.committed, once per timed frame's block. Nothing here runs per
// frame: the per-frame row (CommitSampler.admitted) is commit-probe.ts'.
// Run: npm run build && node dist/bench/micro/chain-history.js
import { pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { ChainHistories, CommitSampler } from '../../src/dashboard/index.js';
import { ChainRegistry, type ChainState } from '../../src/frontdoor/index.js';
import { ChainTable } from '../../src/ring/index.js';
import { rowsOf, type Row } from './rows.js';

function chainsOf(count: number): { chains: ChainRegistry; all: ChainState[]; histories: ChainHistories } {
  const chains = new ChainRegistry(ChainTable.allocate(count));
  const all = Array.from({ length: count }, (_, i) => chains.getOrCreate(`chain-${i}`)!);
  const sampler = new CommitSampler(count);
  const histories = new ChainHistories({
    chains,
    latencySumMs: sampler.chainLatencySumMs,
    latencyCount: sampler.chainLatencyCount,
    creditsBurned: () => 0,
  });
  return { chains, all, histories };
}

export async function runChainHistoryBench(): Promise<Row[]> {
  const bench = new Bench({ time: 1000 });
  let now = Date.now();
  for (const count of [1_000, 10_000]) {
    for (const reshuffled of [false, true]) {
      const { all, histories } = chainsOf(count);
      let step = 0;
      const write = (): void => {
        step++;
        // Steady: each chain its own rate. Reshuffled: a new order every second, so places are won and lost (the worst case).
        const shift = reshuffled ? step * 104729 : 0;
        for (let i = 0; i < all.length; i++) all[i]!.nextSeq += 1 + ((i * 7919 + shift) % 1000);
      };
      const rates = reshuffled ? 'rates reshuffled every point' : 'steady rates';
      bench.add(`write to ${count} chains, ${rates} (the bench's own cost)`, write);
      bench.add(`write to ${count} chains, ${rates} + ChainHistories.sample`, () => {
        write();
        now += 1000;
        histories.sample(now);
      });
    }
  }
  const sampler = new CommitSampler(1000);
  let seq = 0;
  bench.add('CommitSampler.admitted + committed (a timed frame and its block)', () => {
    const slot = seq % 1000;
    seq += 64;
    sampler.admitted(slot, seq, 0);
    sampler.committed(slot, seq, 5);
  });
  bench.add('empty task (the bench per call)', () => {
    seq += 64;
  });
  await bench.run();
  if (sampler.take().length === 0) throw new Error('nothing was measured');
  return rowsOf(bench);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await runChainHistoryBench());
}

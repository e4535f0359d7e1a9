// Micro-benchmark of one hash-latency observation, the choice src/metrics/latency.ts
// makes: its own LatencyHistogram vs a prom-client Histogram child made once
// with labels(lane), same bucket bounds. Each call observes 1024 latencies
// spread over the buckets, so tinybench's per-call overhead does not swamp a
// cost of a few ns; the rows are per observation.
// Run: npm run build && node dist/bench/micro/metrics.js
import { pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { Histogram, Registry } from 'prom-client';
import { LATENCY_BOUNDS, LatencyHistogram } from '../../src/metrics/index.js';
import { rowsOf, type Row } from './rows.js';

const BATCH = 1024;

export async function runMetricsBench(): Promise<Row[]> {
  // From 20 µs to ~50 ms: every bucket gets some, as frames behind a flood do.
  const latencies = Float64Array.from({ length: BATCH }, (_, i) => 0.00002 * Math.exp((i % 64) / 8));
  const ours = new LatencyHistogram();
  const child = new Histogram({ name: 'bench_seconds', help: 'bench', labelNames: ['lane'], buckets: [...LATENCY_BOUNDS], registers: [new Registry()] }).labels(
    'light',
  );
  let sink = 0;

  const bench = new Bench({ time: 1000 });
  bench.add('loop only (baseline)', () => {
    for (let i = 0; i < BATCH; i++) sink += latencies[i]!;
  });
  bench.add('LatencyHistogram.observe', () => {
    for (let i = 0; i < BATCH; i++) ours.observe(latencies[i]!);
  });
  bench.add('prom-client Histogram child observe', () => {
    for (let i = 0; i < BATCH; i++) child.observe(latencies[i]!);
  });
  await bench.run();
  if (sink === 0 || ours.sum === 0) throw new Error('nothing was measured');
  return rowsOf(bench).map((r) => ({ name: r.name, opsPerSec: r.opsPerSec * BATCH, nsPerOp: r.nsPerOp / BATCH }));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await runMetricsBench());
}

// Micro-benchmark of per-chain counting from several threads at once, the
// choice src/ring/counters.ts makes: each worker writing its own padded row
// (plain Atomics.store, no contention) vs every worker doing Atomics.add on one
// shared cell vs per-worker cells that share a cache line (false sharing), and
// padded rows written with plain stores (no fence at all).
// Contention only shows with threads running together, so this times a fixed
// number of counts per thread in worker_threads instead of using tinybench.
// Run: npm run build && node dist/bench/micro/counters.js
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { LINE_CELLS } from '../../src/ring/index.js';
import type { Row } from './rows.js';

type Layout = 'shared Atomics.add' | 'adjacent cells (false sharing)' | 'padded rows, Atomics.store' | 'padded rows, plain store';
const LAYOUTS: readonly Layout[] = ['padded rows, Atomics.store', 'padded rows, plain store', 'shared Atomics.add', 'adjacent cells (false sharing)'];
const COUNTS = 5_000_000;

interface Job {
  sab: SharedArrayBuffer;
  layout: Layout;
  index: number;
  go: SharedArrayBuffer;
}

/** The worker body: wait for the start signal, then count COUNTS times. */
function count(job: Job): void {
  const cells = new Uint32Array(job.sab);
  const go = new Int32Array(job.go);
  Atomics.wait(go, 0, 0);
  if (job.layout === 'shared Atomics.add') {
    for (let i = 0; i < COUNTS; i++) Atomics.add(cells, 0, 1);
    return;
  }
  const at = job.layout === 'adjacent cells (false sharing)' ? job.index : job.index * LINE_CELLS;
  if (job.layout === 'padded rows, plain store') {
    // One writer per cell, readers use Atomics.load: a plain store is enough for a load estimate.
    for (let i = 0; i < COUNTS; i++) cells[at] = (cells[at]! + 1) >>> 0;
    return;
  }
  for (let i = 0; i < COUNTS; i++) Atomics.store(cells, at, (cells[at]! + 1) >>> 0);
}

async function runLayout(layout: Layout, threads: number): Promise<Row> {
  const sab = new SharedArrayBuffer(threads * LINE_CELLS * 4);
  const go = new SharedArrayBuffer(4);
  const workers = Array.from({ length: threads }, (_, index) => {
    const job: Job = { sab, layout, index, go };
    return new Worker(new URL(import.meta.url), { workerData: job });
  });
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('online', resolve))));
  const done = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
  const start = process.hrtime.bigint();
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  await Promise.all(done);
  const ns = Number(process.hrtime.bigint() - start);
  const ops = threads * COUNTS;
  return { name: `${layout}, ${threads} threads`, opsPerSec: ops / (ns / 1e9), nsPerOp: ns / ops };
}

export type { Row };

export async function runCountersBench(): Promise<Row[]> {
  const threads = Math.max(2, Math.min(4, availableParallelism()));
  const out: Row[] = [];
  for (const layout of LAYOUTS) out.push(await runLayout(layout, threads));
  return out;
}

if (!isMainThread) {
  count(workerData as Job);
  parentPort?.close();
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await runCountersBench());
}

// Micro-benchmark of what the dashboard adds to every admitted frame: the
// commit-latency sampler's admitted() (one typed-array read, and two writes
// when a chain has no frame timed), beside an empty task (the bench's own cost
// per call) and FrameReader.scan (per-frame work that is always done), in one run.
// Run: npm run build && node dist/bench/micro/commit-probe.js
import { pathToFileURL } from 'node:url';
import { Packr } from 'msgpackr';
import { Bench } from 'tinybench';
import { CommitSampler } from '../../src/dashboard/index.js';
import { FrameReader } from '../../src/ring/index.js';
import { rowsOf, type Row } from './rows.js';

const CHAINS = 1000;

export async function runCommitProbeBench(): Promise<Row[]> {
  const sampler = new CommitSampler(CHAINS);
  const bytes = new Packr({ useRecords: false }).pack(Array.from({ length: 64 }, () => Buffer.alloc(200, 7)));
  const reader = new FrameReader({ maxEntryBytes: 1 << 20, maxEntriesPerFrame: 1 << 16 });
  const spans = new Int32Array(128);
  let slot = 0;
  let seq = 0;
  let sink = 0;
  const bench = new Bench({ time: 1000 });
  bench.add('empty task (the bench per call)', () => {
    slot = (slot + 1) % CHAINS;
    seq += 64;
  });
  bench.add(`CommitSampler.admitted, ${CHAINS} chains round robin`, () => {
    slot = (slot + 1) % CHAINS;
    seq += 64;
    sampler.admitted(slot, seq, seq);
  });
  bench.add('FrameReader.scan, 64×200 B frame', () => {
    sink += reader.scan(bytes, 0, bytes.length, spans);
  });
  await bench.run();
  if (sink === 0) throw new Error('nothing was measured');
  return rowsOf(bench);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await runCommitProbeBench());
}

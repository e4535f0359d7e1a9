// `--cost --counter heap` (cost.ts): what each of the gateway's threads
// allocates on V8's heap. Loaded with `--require` (NODE_OPTIONS), so it runs
// first in the main thread and in every worker thread the gateway starts; it
// is CommonJS because Node runs `--require`, not `--import`, in workers.
//
// Node 20's V8 has no running total of bytes allocated, so the probe derives
// one from the heap's used size: between two collections it only grows by
// what is allocated, and each collection's before and after sizes come from
// v8.GCProfiler. Every TALLY_MS each thread adds up the window and writes its
// total to CHAINLANES_HEAP_PROBE_DIR/PID-THREADID.json with the thread's
// kernel name (/proc/thread-self/comm, set by the gateway). The probe's own
// allocations (the profiler's report, the file) are left out: the window's
// baseline is taken after them. A thread blocked in Atomics.wait writes again
// when it wakes; what it allocated in its last TALLY_MS before exiting can be
// missing from its file.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { Session } from 'node:inspector';
import { isMainThread, threadId } from 'node:worker_threads';

/** One thread's file: its running total since the probe loaded. */
export interface HeapProbeTally {
  name: string;
  allocatedBytes: number;
  /** Collections by V8's kind (Scavenge, MarkSweepCompact, …): what the allocations cost. */
  collections: Record<string, number>;
  /** Their time on this thread (GCProfiler's cost; V8's helper threads work beside it). */
  collectionMicros: number;
}

const TALLY_MS = 20;

function startProbe(dir: string): void {
  const file = join(dir, `${process.pid}-${threadId}.json`);
  const tally: HeapProbeTally = { name: '', allocatedBytes: 0, collections: {}, collectionMicros: 0 };
  let profiler = new GCProfiler();
  let usedSince = getHeapStatistics().used_heap_size;
  profiler.start();

  const write = (): void => {
    const { statistics } = profiler.stop();
    for (const gc of statistics) {
      tally.allocatedBytes += gc.beforeGC.heapStatistics.usedHeapSize - usedSince;
      usedSince = gc.afterGC.heapStatistics.usedHeapSize;
      tally.collections[gc.gcType] = (tally.collections[gc.gcType] ?? 0) + 1;
      tally.collectionMicros += gc.cost;
    }
    tally.allocatedBytes += getHeapStatistics().used_heap_size - usedSince;
    tally.name = readFileSync('/proc/thread-self/comm', 'utf8').trim();
    writeFileSync(file, JSON.stringify(tally));
    profiler = new GCProfiler();
    profiler.start();
    usedSince = getHeapStatistics().used_heap_size;
  };
  setInterval(write, TALLY_MS).unref();
}

/** Bytes between samples of the allocation sampler: small enough to see a per-frame site at 64 entries a frame. */
const SAMPLE_BYTES = 1024;

/**
 * CHAINLANES_HEAP_PROBE_SAMPLE=1: where the front door allocates. V8's
 * sampling heap profiler, keeping the samples of objects already collected (by
 * default it drops them, and shows what is retained, not what is allocated),
 * written as DIR/frontdoor.heapprofile when the process exits (Chrome's
 * DevTools opens it, as a sampling heap profile).
 */
function startSampling(dir: string): void {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', {
    samplingInterval: SAMPLE_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  process.once('exit', () => {
    // A session on its own thread answers synchronously: the profile is written before the process ends.
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (error === null) writeFileSync(join(dir, 'frontdoor.heapprofile'), JSON.stringify(result.profile));
    });
  });
}

const probeDir = process.env.CHAINLANES_HEAP_PROBE_DIR;
if (probeDir !== undefined && probeDir !== '') {
  startProbe(probeDir);
  if (isMainThread && process.env.CHAINLANES_HEAP_PROBE_SAMPLE === '1') startSampling(probeDir);
}

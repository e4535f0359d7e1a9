// A lane worker (a piscina worker thread). It never sees entries by message:
// a task is a ring range [from, to), and everything it produces (spans,
// hashes, load counts) is written into shared memory.
import { workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { LANE_NAMES, LaneCores, LoadCounters, RingView } from '../ring/index.js';
import { hashing, system, laneThreadName } from '../native/index.js';
import { hashRange } from './hash-range.js';
import type { LaneTask, LaneWorkerData } from './lane-messages.js';

const data = workerData as LaneWorkerData;
const view = new RingView(data.ring);
const counters = new LoadCounters(data.counters, data.maxChains, data.workerSlots);
const laneCores = new LaneCores(data.laneCores);
const slot = counters.claimSlot(data.lane);
let pinnedGeneration = -1;
system.nameThread(laneThreadName(LANE_NAMES[data.lane] ?? String(data.lane)));
if (data.nice !== 0) system.setThreadNice(data.nice);
let tasksRun = 0;

function pinIfMoved(): void {
  const generation = laneCores.generation(data.lane);
  if (generation === pinnedGeneration) return;
  pinnedGeneration = generation;
  const cores = laneCores.cores(data.lane);
  if (cores.length > 0) system.pinThread(cores);
}

function countFrame(chainSlot: number, entries: number, frameBytes: number): void {
  counters.count(slot, chainSlot, entries, frameBytes);
}

export default function runLaneTask(task: LaneTask): number {
  const started = performance.now();
  pinIfMoved();
  tasksRun++;
  if (data.crashAfterTasks > 0 && tasksRun >= data.crashAfterTasks) {
    // Fault injection for tests only (CHAINLANES_TEST_FAULTS crashWorkerAfterTasks).
    process.exit(1);
  }
  const entries = hashRange(view, task.from, task.to, hashing, countFrame);
  counters.addBusy(slot, Math.round((performance.now() - started) * 1000));
  return entries;
}

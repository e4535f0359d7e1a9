// The scheduler thread: every tick it turns the workers' counters into rates,
// asks the lane table where each chain belongs, and writes the answers into
// the shared chain table. It talks to the front door only through shared
// memory, plus a message when a chain changes lane or cores move (rare events
// worth logging), never per entry.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { ChainTable, LANE_COUNT, LaneCores, LoadCounters, seqDistance } from '../ring/index.js';
import { hashing } from '../native/index.js';
import { StoredSettings, LANE_TABLE_KEY } from '../ledger/index.js';
import { ConfigError } from '../validation/index.js';
import { LaneAssigner, lookupLane, validateLaneTable } from './lane-table.js';
import { RateEstimator } from './rates.js';
import { DEFAULT_REBALANCE, rebalanceCores } from './rebalance.js';
import type { SchedulerEvent, SchedulerWorkerData } from './types.js';

const data = workerData as SchedulerWorkerData;
const { settings } = data;
const chains = new ChainTable(data.chainTable, data.maxChains);
const counters = new LoadCounters(data.counters, data.maxChains, data.workerSlots);
const laneCores = new LaneCores(data.laneCores);
const rates = new RateEstimator(data.maxChains, data.workerSlots, settings.tauMs);
const assigner = new LaneAssigner(data.maxChains, settings.demoteAfterMs);
let laneSets = settings.layout.lanes.map((cores) => [...cores]);
const stored = StoredSettings.open(data.dataDir);
let laneTable = settings.laneTable;
let laneTableJson = JSON.stringify(laneTable);
const prevBusy = new Float64Array(data.workerSlots);
let busySince = performance.now();
let last = performance.now();
let ticks = 0;

hashing.pinThread(settings.layout.frontdoor);

function post(event: SchedulerEvent): void {
  parentPort?.postMessage(event);
}

function tick(): void {
  const now = performance.now();
  const count = chains.count;
  rates.sample(counters, count, now - last);
  last = now;
  const total = rates.totalEntriesPerSec(count);
  for (let slot = 0; slot < count; slot++) assignLane(slot, total, now);
  ticks++;
  if (settings.rebalance && ticks % settings.rebalanceEveryTicks === 0) rebalance(now);
}

function assignLane(slot: number, total: number, now: number): void {
  const entriesPerSec = rates.entriesPerSec[slot]!;
  const bytesPerSec = rates.bytesPerSec[slot]!;
  const share = total > 0 ? entriesPerSec / total : 0;
  chains.setRates(slot, entriesPerSec, bytesPerSec, share);
  const current = chains.lane(slot);
  // Promote fast: the last tick alone may move a chain to a heavier lane (a new
  // flood leaves the light lane at the first tick, before its average catches
  // up); demote slowly: only the average, held for demoteAfterMs, moves it back.
  const averaged = lookupLane(laneTable, { entriesPerSec, bytesPerSec, share, totalEntriesPerSec: total });
  const instant = lookupLane(laneTable, {
    entriesPerSec: rates.instantEntriesPerSec[slot]!,
    bytesPerSec: rates.instantBytesPerSec[slot]!,
    share,
    totalEntriesPerSec: total,
  });
  const wanted = Math.min(averaged, instant);
  const next = assigner.decide(slot, current, wanted, now);
  if (next !== current) {
    chains.setLane(slot, next);
    post({ type: 'lane-change', slot, from: current, to: next, entriesPerSec });
  }
}

function rebalance(now: number): void {
  const busy = new Float64Array(LANE_COUNT);
  const slots = counters.slotsInUse();
  for (let w = 0; w < slots; w++) {
    const micros = counters.busyMicros(w);
    busy[counters.laneOf(w)]! += seqDistance(micros, prevBusy[w]!);
    prevBusy[w] = micros;
  }
  const elapsedMicros = (now - busySince) * 1000;
  busySince = now;
  const utilisation = laneSets.map((cores, lane) => busy[lane]! / (elapsedMicros * Math.min(cores.length, settings.layout.threads[lane]!)));
  const moved = rebalanceCores(laneSets, utilisation, DEFAULT_REBALANCE);
  if (moved === null) return;
  laneSets = moved;
  moved.forEach((cores, lane) => laneCores.set(lane, cores));
  post({ type: 'cores', lanes: moved, utilisation });
}

/** Picks up a lane table written into the store while the gateway runs. */
function reloadLaneTable(): void {
  let table: unknown;
  try {
    table = stored.get(LANE_TABLE_KEY);
  } catch (error) {
    post({ type: 'lane-table-rejected', message: `cannot read the lane table from the store: ${String(error)}` });
    return;
  }
  const json = JSON.stringify(table);
  if (table === null || json === laneTableJson) return;
  laneTableJson = json;
  try {
    laneTable = validateLaneTable(table, 'lane table');
  } catch (error) {
    post({ type: 'lane-table-rejected', message: error instanceof ConfigError ? error.problems.join('; ') : String(error) });
    return;
  }
  post({ type: 'lane-table', table: laneTable });
}

const timer = setInterval(tick, settings.tickMs);
const reloadTimer = setInterval(reloadLaneTable, settings.laneTablePollMs);
parentPort?.on('message', (message: { type: string }) => {
  if (message.type === 'stop') {
    clearInterval(timer);
    clearInterval(reloadTimer);
    parentPort?.close();
  }
});

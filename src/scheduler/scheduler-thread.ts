// The scheduler thread: every tick it turns the workers' counters into rates,
// asks the lane table where each chain belongs, and writes the answers into
// the shared chain table. Every few ticks it compares each lane's placed
// demand with its capacity (placement.ts) and moves a core or a chain when a
// lane is over its headroom. It talks to the front door only through shared
// memory, plus a message for rare events (a chain or a core moves, capacity
// changes, one balance summary per period), never per entry.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { ChainTable, LANE_COUNT, LANE_NAMES, LaneCores, LoadCounters, seqDistance } from '../ring/index.js';
import { THREAD_NAMES, hashing, system } from '../native/index.js';
import { StoredSettings, LANE_TABLE_KEY } from '../ledger/index.js';
import { ConfigError } from '../validation/index.js';
import { LaneAssigner, lookupLane, validateLaneTable } from './lane-table.js';
import { RateEstimator } from './rates.js';
import { DEFAULT_REBALANCE, rebalanceCores } from './rebalance.js';
import { LaneCapacityModel, calibrateLane, loadOf, type LaneCapacity } from './capacity.js';
import { laneLoads, overloadedLane, planChainMove, planCore, type PlacedChain } from './placement.js';
import type { LaneBalance, MoveReason, SchedulerCommand, SchedulerEvent, SchedulerWorkerData } from './scheduler-messages.js';

const data = workerData as SchedulerWorkerData;
const { settings } = data;
const { headroom } = settings.balancer;
/** A chain placed away from its table lane goes back once home has room with this margin below the headroom. */
const RETURN_MARGIN = 0.75;
const chains = new ChainTable(data.chainTable, data.maxChains);
const counters = new LoadCounters(data.counters, data.maxChains, data.workerSlots);
const laneCores = new LaneCores(data.laneCores);
const rates = new RateEstimator(data.maxChains, data.workerSlots, settings.tauMs);
const assigner = new LaneAssigner(data.maxChains, settings.demoteAfterMs);
let laneSets = settings.layout.lanes.map((cores) => [...cores]);
const stored = StoredSettings.open(data.dataDir);
let laneTable = settings.laneTable;
let laneTableJson = JSON.stringify(laneTable);
/** Operator pins: the lane, or -1. */
const pins = new Int32Array(data.maxChains).fill(-1);
for (const [slot, lane] of data.pins) pins[slot] = lane;
/** Where placement put a chain against its table lane (-1: nowhere), and the table lane it left. */
const placedIn = new Int32Array(data.maxChains).fill(-1);
const placedFrom = new Int32Array(data.maxChains).fill(-1);
const prevBusy = new Float64Array(data.workerSlots);
let busySince = performance.now();
let last = performance.now();
let ticks = 0;
let overloadedBefore = -1;

function post(event: SchedulerEvent): void {
  parentPort?.postMessage(event);
}

/** Threads of a lane that can run at once: no more than its cores. */
function parallelOf(lane: number): number {
  return Math.max(1, Math.min(laneSets[lane]!.length, settings.layout.threads[lane]!));
}

/**
 * Hashes the calibration shapes on each lane's cores (this thread pins itself
 * there for the measurement); lanes with the same cores and threads share one run.
 */
function calibrate(lanes: readonly number[], budgetMs: number): LaneCapacity[] {
  const started = performance.now();
  const done = new Map<string, LaneCapacity>();
  const out: LaneCapacity[] = [];
  for (const lane of lanes) {
    const declared = declaredCapacity(lane);
    if (declared !== undefined) {
      out.push(declared);
      continue;
    }
    const key = `${laneSets[lane]!.join(',')}×${parallelOf(lane)}`;
    let capacity = done.get(key);
    if (capacity === undefined) {
      system.pinThread(laneSets[lane]!);
      capacity = calibrateLane(hashing, parallelOf(lane), budgetMs);
      done.set(key, capacity);
    }
    out.push(capacity);
  }
  system.pinThread(settings.layout.frontdoor);
  lastCalibrationMs = performance.now() - started;
  return out;
}
let lastCalibrationMs = 0;

function declaredCapacity(lane: number): LaneCapacity | undefined {
  return settings.balancer.declaredCapacity[LANE_NAMES[lane]!];
}

system.nameThread(THREAD_NAMES.scheduler);
const allLanes = Array.from({ length: LANE_COUNT }, (_, lane) => lane);
// Unmeasured first round: the first lane measured would otherwise pay for the JIT warming up (measured: 2× low).
calibrateLane(hashing, 1, Math.min(20, settings.balancer.calibrationMs / 4));
const models = calibrate(allLanes, settings.balancer.calibrationMs).map((c, lane) => new LaneCapacityModel(c, declaredCapacity(lane) !== undefined));
post({ type: 'capacity', reason: 'calibration', lanes: models.map((m) => m.current), ms: Math.round(lastCalibrationMs) });

function tick(): void {
  const now = performance.now();
  const count = chains.count;
  rates.sample(counters, count, now - last);
  last = now;
  const total = rates.totalEntriesPerSec(count);
  for (let slot = 0; slot < count; slot++) assignLane(slot, total, now);
  ticks++;
  if (ticks % settings.rebalanceEveryTicks === 0) balance(now, count);
}

function move(slot: number, from: number, to: number, reason: MoveReason, loads?: Extract<SchedulerEvent, { type: 'lane-change' }>['loads']): void {
  chains.setLane(slot, to);
  post({ type: 'lane-change', slot, from, to, reason, entriesPerSec: rates.entriesPerSec[slot]!, bytesPerSec: rates.bytesPerSec[slot]!, loads });
}

function assignLane(slot: number, total: number, now: number): void {
  const entriesPerSec = rates.entriesPerSec[slot]!;
  const bytesPerSec = rates.bytesPerSec[slot]!;
  const share = total > 0 ? entriesPerSec / total : 0;
  chains.setRates(slot, entriesPerSec, bytesPerSec, share);
  const current = chains.lane(slot);
  const pinned = pins[slot]!;
  if (pinned >= 0) {
    if (current !== pinned) move(slot, current, pinned, 'pin');
    return;
  }
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
  // The hysteresis runs on the table lane, wherever placement put the chain.
  const tableLane = placedIn[slot]! >= 0 ? placedFrom[slot]! : current;
  const next = assigner.decide(slot, tableLane, wanted, now);
  if (placedIn[slot]! >= 0) {
    // Placed elsewhere for capacity: it stays there while the table still says the lane it left.
    if (next === placedFrom[slot]) return;
    placedIn[slot] = -1;
  }
  if (next !== current) move(slot, current, next, 'table');
}

/** The table lane of a chain: where the table put it, even if placement moved it. */
function tableLaneOf(slot: number): number {
  return placedIn[slot]! >= 0 ? placedFrom[slot]! : chains.lane(slot);
}

function placedChains(count: number): PlacedChain[] {
  const out: PlacedChain[] = [];
  for (let slot = 0; slot < count; slot++) {
    out.push({
      slot,
      lane: chains.lane(slot),
      tableLane: tableLaneOf(slot),
      pinned: pins[slot]! >= 0,
      demand: { entriesPerSec: rates.entriesPerSec[slot]!, bytesPerSec: rates.bytesPerSec[slot]! },
    });
  }
  return out;
}

/** Busy time per lane since the last call, turned into utilisation and fed to the capacity models. */
function measureBusy(now: number): number[] {
  const busy = new Float64Array(LANE_COUNT);
  const slots = counters.slotsInUse();
  for (let w = 0; w < slots; w++) {
    const micros = counters.busyMicros(w);
    busy[counters.laneOf(w)]! += seqDistance(micros, prevBusy[w]!);
    prevBusy[w] = micros;
  }
  const elapsedMicros = (now - busySince) * 1000;
  busySince = now;
  const hashed = rates.takeLaneTotals();
  const seconds = elapsedMicros / 1e6;
  models.forEach((model, lane) => {
    if (seconds > 0)
      model.refine(
        { entriesPerSec: hashed.entries[lane]! / seconds, bytesPerSec: hashed.bytes[lane]! / seconds },
        busy[lane]! / elapsedMicros,
        parallelOf(lane),
      );
  });
  return laneSets.map((_, lane) => busy[lane]! / (elapsedMicros * parallelOf(lane)));
}

function setCores(moved: number[][]): void {
  const changed = allLanes.filter((lane) => moved[lane]!.join(',') !== laneSets[lane]!.join(','));
  laneSets = moved;
  moved.forEach((cores, lane) => laneCores.set(lane, cores));
  // A lane's capacity is its cores': measured again on the new sets, briefly.
  const fresh = calibrate(changed, settings.balancer.calibrationMs / 2);
  changed.forEach((lane, i) => {
    models[lane]!.calibrated = fresh[i]!;
  });
  post({ type: 'capacity', reason: 'cores moved', lanes: models.map((m) => m.current), ms: Math.round(lastCalibrationMs) });
}

function balance(now: number, count: number): void {
  const utilisation = measureBusy(now);
  const capacities = models.map((m) => m.current);
  const placed = placedChains(count);
  let loads = laneLoads(capacities, placed);
  returnPlaced(capacities, placed, loads);
  const over = overloadedLane(loads, headroom);
  if (over >= 0) relieve(over, capacities, placed, loads, utilisation);
  else if (settings.rebalance) {
    const moved = rebalanceCores(laneSets, utilisation, DEFAULT_REBALANCE);
    if (moved !== null) {
      setCores(moved);
      post({ type: 'cores', lanes: moved, utilisation, reason: 'utilisation' });
    }
  }
  if (over < 0) overloadedBefore = -1;
  loads = laneLoads(
    models.map((m) => m.current),
    placedChains(count),
  );
  postBalance(count, loads);
}

/** A lane over its headroom: a core if one can move, else the chain whose move relieves it most. */
function relieve(over: number, capacities: LaneCapacity[], placed: PlacedChain[], loads: number[], utilisation: number[]): void {
  if (settings.rebalance) {
    const core = planCore(laneSets, loads, over, headroom);
    if (core !== null) {
      setCores(core.lanes);
      post({ type: 'cores', lanes: core.lanes, utilisation, reason: 'capacity', loads });
      return;
    }
  }
  const chainMove = planChainMove(capacities, placed, over, headroom);
  if (chainMove === null) {
    // Said once per episode, not every period.
    if (overloadedBefore !== over) post({ type: 'overloaded', lane: over, load: loads[over]!, headroom });
    overloadedBefore = over;
    return;
  }
  overloadedBefore = -1;
  const { slot, from, to, relief, fromLoad, fromLoadAfter, toLoad, toLoadAfter } = chainMove;
  if (placedIn[slot]! < 0) placedFrom[slot] = from;
  placedIn[slot] = to;
  move(slot, from, to, 'placement', { relief, fromLoad, fromLoadAfter, toLoad, toLoadAfter, headroom });
}

/** Chains placed away from their table lane go home once it has room for them with a margin. */
function returnPlaced(capacities: LaneCapacity[], placed: PlacedChain[], loads: number[]): void {
  for (const chain of placed) {
    const home = placedFrom[chain.slot]!;
    if (placedIn[chain.slot]! < 0 || chain.pinned) continue;
    const after = loads[home]! + loadOf(chain.demand, capacities[home]!);
    if (after > headroom * RETURN_MARGIN) continue;
    placedIn[chain.slot] = -1;
    loads[home] = after;
    loads[chain.lane]! -= loadOf(chain.demand, capacities[chain.lane]!);
    move(chain.slot, chain.lane, home, 'returned', {
      relief: 0,
      fromLoad: loads[chain.lane]!,
      fromLoadAfter: loads[chain.lane]!,
      toLoad: after - loadOf(chain.demand, capacities[home]!),
      toLoadAfter: after,
      headroom,
    });
  }
}

function postBalance(count: number, loads: number[]): void {
  const lanes: LaneBalance[] = models.map((model, lane) => ({
    capacity: model.current,
    demand: { entriesPerSec: 0, bytesPerSec: 0 },
    load: loads[lane]!,
    correction: model.correction,
    chains: 0,
  }));
  for (let slot = 0; slot < count; slot++) {
    const lane = lanes[chains.lane(slot)]!;
    lane.demand.entriesPerSec += rates.entriesPerSec[slot]!;
    lane.demand.bytesPerSec += rates.bytesPerSec[slot]!;
    lane.chains++;
  }
  post({ type: 'balance', lanes, headroom });
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

function command(message: SchedulerCommand): void {
  if (message.type === 'stop') {
    clearInterval(timer);
    clearInterval(reloadTimer);
    parentPort?.close();
  } else if (message.type === 'pin') {
    pins[message.slot] = message.lane ?? -1;
    // Applied at once, not at the next tick: the operator reads the answer right after.
    if (message.lane !== null && chains.lane(message.slot) !== message.lane) move(message.slot, chains.lane(message.slot), message.lane, 'pin');
    if (message.lane === null) placedIn[message.slot] = -1;
  } else if (message.type === 'reload-table') {
    reloadLaneTable();
  }
}

const timer = setInterval(tick, settings.tickMs);
const reloadTimer = setInterval(reloadLaneTable, settings.laneTablePollMs);
parentPort?.on('message', command);
postBalance(
  chains.count,
  laneLoads(
    models.map((m) => m.current),
    placedChains(chains.count),
  ),
);

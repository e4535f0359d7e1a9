// Which cores the front door (with the scheduler) and each lane get.
//
// The front door is one thread and every frame passes through it, so it gets
// core 0 to itself whenever the machine can afford it. Heavy gets its own
// core as soon as there are two, because a flood must not take the cores that
// light chains' latency depends on. Below four cores the lighter lanes share
// with the front door (2 cores) or with each other (3 cores); from four up the
// cores after the front door's are split about half to heavy, then half of the
// rest to medium, and the remainder to light (sharing medium's on four).
//
// The sealer's work (copying entries out, Merkle roots, the store write)
// grows with all traffic together, and on a small machine no core can be
// spared for it: below eight cores it is left to the OS to run wherever there
// is room (measured on 2 cores: pinned beside the front door it became the
// bottleneck while the heavy core sat mostly idle). From eight cores up it
// gets core 1 to itself and the lanes share the rest.
import { LANE_COUNT } from '../ring/index.js';

export interface CoreLayout {
  cpuCount: number;
  /** Front door and scheduler threads. */
  frontdoor: number[];
  /**
   * The cores the front door may run on while no chain is in the heavy lane
   * (front-door-cores.ts). Where the front door has no core to itself (two
   * cores), pinned to core 0 it drew the clients it woke onto core 0 too and
   * they took turns there while core 1 idled: a quiet gateway's p99 was 1.5×
   * what it was free to move (bench/history/2026-12-03.md, "A quiet gateway"). Pinned
   * again as soon as a chain is heavy, for isolation: free under a flood, the
   * light chains' p99 grew 1.6×.
   */
  frontdoorQuiet: number[];
  sealer: number[];
  /** Indexed by lane: heavy, medium, light. */
  lanes: number[][];
  /** Worker threads per lane. */
  threads: number[];
  /**
   * Nice value per lane, and the sealer's. Heavy lanes yield the CPU to the
   * front door and the lighter lanes whenever they compete for it (raising a
   * thread's nice value needs no privileges). The sealer does not: starved, it
   * let the unsealed backlog fill and turned the flood into `busy` sooner
   * (measured on 2 cores: 514 k durable entries/s at nice 5, 710 k at nice 0).
   */
  nice: number[];
  sealerNice: number;
  /**
   * The nice value of the threads Node runs beside the gateway's own (V8's
   * helpers, libuv's pool; src/native/helper-threads.ts): they yield to every
   * thread of the gateway, the front door first.
   */
  helperNice: number;
}

export const DEFAULT_NICE = { lanes: [5, 0, 0], sealer: 0, helpers: 10 };

export function defaultCoreLayout(cpuCount: number): CoreLayout {
  if (!Number.isInteger(cpuCount) || cpuCount < 1) throw new RangeError(`cpu count must be a positive integer, got ${cpuCount}`);
  const all = range(0, cpuCount);
  let lanes: number[][];
  if (cpuCount === 1) lanes = [[0], [0], [0]];
  // On two cores the lighter lanes may run on either: when the front door keeps
  // core 0 busy they take core 1 from heavy, which yields to them (nice).
  else if (cpuCount === 2) lanes = [[1], [0, 1], [0, 1]];
  else if (cpuCount === 3) lanes = [[1], [2], [2]];
  else lanes = splitLanes(cpuCount >= 8 ? 2 : 1, cpuCount);
  const sealer = cpuCount >= 8 ? [1] : all;
  // The floating lighter lanes of two cores get one worker each: light traffic needs no more.
  const threads = cpuCount === 2 ? [1, 1, 1] : undefined;
  const frontdoorQuiet = cpuCount === 2 ? all : [0];
  return withThreads(
    {
      cpuCount,
      frontdoor: [0],
      frontdoorQuiet,
      sealer,
      lanes,
      threads: [],
      nice: DEFAULT_NICE.lanes,
      sealerNice: DEFAULT_NICE.sealer,
      helperNice: DEFAULT_NICE.helpers,
    },
    threads,
  );
}

/** Cores [first, end) split about half to heavy, half the rest to medium, the remainder to light. */
function splitLanes(first: number, end: number): number[][] {
  const rest = end - first;
  const heavy = Math.ceil(rest / 2);
  const medium = Math.ceil((rest - heavy) / 2);
  const mediumCores = range(first + heavy, first + heavy + medium);
  const lightCores = range(first + heavy + medium, end);
  // With three cores to split nothing is left for light: it shares medium's core.
  return [range(first, first + heavy), mediumCores, lightCores.length > 0 ? lightCores : mediumCores];
}

/** A layout from config: cores named per lane; threads default to one per core. */
export function customCoreLayout(
  cpuCount: number,
  frontdoor: number[],
  lanes: number[][],
  threads?: number[],
  sealer?: number[],
  frontdoorQuiet: number[] = frontdoor,
): CoreLayout {
  if (lanes.length !== LANE_COUNT) throw new RangeError(`core layout: give cores for all ${LANE_COUNT} lanes`);
  const sealerCores = sealer ?? defaultCoreLayout(cpuCount).sealer;
  for (const core of [...frontdoor, ...frontdoorQuiet, ...sealerCores, ...lanes.flat()]) {
    if (!Number.isInteger(core) || core < 0 || core >= cpuCount) {
      throw new RangeError(`core layout: core ${core} does not exist on this ${cpuCount}-core machine`);
    }
  }
  lanes.forEach((cores, i) => {
    if (cores.length === 0) throw new RangeError(`core layout: lane ${i} has no cores`);
  });
  const layout = withThreads({
    cpuCount,
    frontdoor,
    frontdoorQuiet,
    sealer: sealerCores,
    lanes,
    threads: [],
    nice: DEFAULT_NICE.lanes,
    sealerNice: DEFAULT_NICE.sealer,
    helperNice: DEFAULT_NICE.helpers,
  });
  if (threads !== undefined) {
    if (threads.length !== LANE_COUNT || threads.some((t) => !Number.isInteger(t) || t < 1)) {
      throw new RangeError('core layout: threads must give a positive count for each lane');
    }
    layout.threads = threads;
  }
  return layout;
}

export function describeLayout(layout: CoreLayout): string {
  const names = ['heavy', 'medium', 'light'];
  const nice = (n: number | undefined): string => (n ? ` nice ${n}` : '');
  const lanes = layout.lanes.map((cores, i) => `${names[i]} [${cores.join(',')}] ×${layout.threads[i]}${nice(layout.nice[i])}`);
  const quiet = sameCores(layout.frontdoorQuiet, layout.frontdoor) ? '' : ` ([${layout.frontdoorQuiet.join(',')}] while no chain is heavy)`;
  return `${layout.cpuCount} cores: front door [${layout.frontdoor.join(',')}]${quiet}, sealer [${layout.sealer.join(',')}]${nice(layout.sealerNice)}, ${lanes.join(', ')}; Node's helper threads${nice(layout.helperNice)}`;
}

/** One worker per core a lane may use, unless `threads` says otherwise. */
export function sameCores(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((core) => b.includes(core));
}

function withThreads(layout: CoreLayout, threads?: number[]): CoreLayout {
  layout.threads = threads ?? layout.lanes.map((cores) => Math.max(1, cores.length));
  return layout;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

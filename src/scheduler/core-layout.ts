// Which cores the front door (with the scheduler) and each lane get.
//
// The front door is one thread and every frame passes through it, so it gets
// core 0 to itself whenever the machine can afford it. Heavy gets its own
// core as soon as there are two, because a flood must not take the cores that
// light chains' latency depends on. Below four cores the lighter lanes share
// with the front door (2 cores) or with each other (3 cores); from four up the
// cores after the front door's are split about half to heavy, then half of the
// rest to medium, and the remainder to light (sharing medium's on four).
import { LANE_COUNT } from '../ring/index.js';

export interface CoreLayout {
  cpuCount: number;
  /** Front door, scheduler and sealer threads. */
  frontdoor: number[];
  /** Indexed by lane: heavy, medium, light. */
  lanes: number[][];
  /** Worker threads per lane. */
  threads: number[];
}

export function defaultCoreLayout(cpuCount: number): CoreLayout {
  if (!Number.isInteger(cpuCount) || cpuCount < 1) throw new RangeError(`cpu count must be a positive integer, got ${cpuCount}`);
  const all = range(0, cpuCount);
  let lanes: number[][];
  if (cpuCount === 1) lanes = [[0], [0], [0]];
  else if (cpuCount === 2) lanes = [[1], [0], [0]];
  else if (cpuCount === 3) lanes = [[1], [2], [2]];
  else {
    const rest = cpuCount - 1;
    const heavy = Math.ceil(rest / 2);
    const medium = Math.ceil((rest - heavy) / 2);
    const mediumCores = range(1 + heavy, 1 + heavy + medium);
    const lightCores = range(1 + heavy + medium, cpuCount);
    // On four cores nothing is left for light: it shares medium's core.
    lanes = [range(1, 1 + heavy), mediumCores, lightCores.length > 0 ? lightCores : mediumCores];
  }
  return withThreads({ cpuCount, frontdoor: all.slice(0, 1), lanes, threads: [] });
}

/** A layout from config: cores named per lane; threads default to one per core. */
export function customCoreLayout(cpuCount: number, frontdoor: number[], lanes: number[][], threads?: number[]): CoreLayout {
  if (lanes.length !== LANE_COUNT) throw new RangeError(`core layout: give cores for all ${LANE_COUNT} lanes`);
  for (const core of [...frontdoor, ...lanes.flat()]) {
    if (!Number.isInteger(core) || core < 0 || core >= cpuCount) {
      throw new RangeError(`core layout: core ${core} does not exist on this ${cpuCount}-core machine`);
    }
  }
  lanes.forEach((cores, i) => {
    if (cores.length === 0) throw new RangeError(`core layout: lane ${i} has no cores`);
  });
  const layout = withThreads({ cpuCount, frontdoor, lanes, threads: [] });
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
  const lanes = layout.lanes.map((cores, i) => `${names[i]} [${cores.join(',')}] ×${layout.threads[i]}`);
  return `${layout.cpuCount} cores: front door [${layout.frontdoor.join(',')}], ${lanes.join(', ')}`;
}

function withThreads(layout: CoreLayout): CoreLayout {
  layout.threads = layout.lanes.map((cores) => Math.max(1, cores.length));
  return layout;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

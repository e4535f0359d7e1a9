// What each of the gateway's threads calls itself (system.nameThread), so `top -H`,
// `ps -L`, perf and /proc/PID/task/TID/comm tell them apart, and the bench can split the
// gateway's CPU by thread. Linux keeps 15 bytes of a name. Threads the gateway does not
// start itself (lmdb's writer, libuv's pool, V8's helpers) keep the process's name, "node".

export const THREAD_NAMES = {
  /** The main thread: uWebSockets.js, admission, replies. */
  frontDoor: 'cl-frontdoor',
  sealer: 'cl-sealer',
  scheduler: 'cl-scheduler',
  /** ledger.readerThreads: blocks and proofs for HTTP. */
  reader: 'cl-reader',
  anchor: 'cl-anchor',
} as const;

const LANE_THREAD_PREFIX = 'cl-lane-';

/** A lane worker's name: `cl-lane-heavy`, `cl-lane-medium`, `cl-lane-light`. */
export function laneThreadName(lane: string): string {
  return `${LANE_THREAD_PREFIX}${lane}`;
}

/** The gateway's threads grouped as the bench reports their CPU: `other` is every thread it does not name. */
export const THREAD_GROUPS = ['front door', 'lanes', 'sealer', 'scheduler', 'readers', 'anchor', 'other'] as const;
export type ThreadGroup = (typeof THREAD_GROUPS)[number];

/** Which group a thread of the gateway belongs to, by its name. */
export function threadGroup(name: string): ThreadGroup {
  if (name === THREAD_NAMES.frontDoor) return 'front door';
  if (name === THREAD_NAMES.sealer) return 'sealer';
  if (name === THREAD_NAMES.scheduler) return 'scheduler';
  if (name === THREAD_NAMES.reader) return 'readers';
  if (name === THREAD_NAMES.anchor) return 'anchor';
  if (name.startsWith(LANE_THREAD_PREFIX)) return 'lanes';
  return 'other';
}

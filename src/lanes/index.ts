// The lanes: a piscina pool of worker threads per lane (heavy, medium, light),
// each pinned to its lane's cores, hashing ranges of its ring in place; the
// front door hands over ranges, never entries (lane-thread.ts, hash-range.ts).
export { LanePool, type LanePoolOptions } from './pool.js';
export type { LaneTask, LaneWorkerData } from './lane-messages.js';

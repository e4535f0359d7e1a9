export { LanePool, type LanePoolOptions } from './pool.js';
export type { LaneTask, LaneWorkerData } from './types.js';

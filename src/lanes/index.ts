export { LanePool, type LanePoolOptions } from './pool.js';
export type { LaneTask, LaneWorkerData } from './lane-messages.js';

/** Everything a lane worker needs, shared once at start (SharedArrayBuffers are shared, not copied). */
export interface LaneWorkerData {
  lane: number;
  ring: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  laneCores: SharedArrayBuffer;
  maxChains: number;
  workerSlots: number;
  /** The workers' nice value (0 = leave as is). */
  nice: number;
  /** Tests only: a worker exits on its Nth task (0 = never). */
  crashAfterTasks: number;
}

/** A range of the lane's ring, in ring positions. */
export interface LaneTask {
  from: number;
  to: number;
}

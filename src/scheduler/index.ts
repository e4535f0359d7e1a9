// The scheduler: each chain's rates measured without locks, the lane table
// looked up (promote fast, demote slowly), lanes' capacity calibrated and
// demand placed under the headroom, cores moved between lanes by use — on a
// thread of its own (scheduler-thread.ts), driven by the front door's handle.
export { defaultCoreLayout, customCoreLayout, describeLayout, sameCores, DEFAULT_NICE, type CoreLayout } from './core-layout.js';
export {
  DEFAULT_LANE_TABLE,
  LaneTableSchema,
  LaneThresholdsSchema,
  lookupLane,
  validateLaneTable,
  checkLaneTable,
  LaneAssigner,
  type LaneTable,
  type LaneThresholds,
  type ChainLoad,
} from './lane-table.js';
export { RateEstimator } from './rates.js';
export { rebalanceCores, DEFAULT_REBALANCE } from './rebalance.js';
export { CALIBRATION_SHAPES, LaneCapacityModel, calibrateLane, loadOf, measureShape, type Demand, type LaneCapacity } from './capacity.js';
export { laneLoads, overloadedLane, planChainMove, planCore, type ChainMove, type CoreMove, type PlacedChain } from './placement.js';
export { LaneDecisions, LANE_EVENTS_KEY, LANE_PINS_KEY, type LaneDecision } from './decisions.js';
export type { BalancerSettings, LaneBalance, MoveReason, SchedulerSettings, SchedulerEvent } from './scheduler-messages.js';
export { Scheduler } from './scheduler.js';

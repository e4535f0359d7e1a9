// Shared memory between the threads, each structure's layout written once
// (layout.ts) with who writes which slot: the lane rings, the chain table
// (chain → lane and rates), the load counters, the lanes' core sets, and the
// frame walk that finds entries in place.
export { RingView, RingProducer, forEachRecord } from './lane-ring.js';
export {
  CACHE_LINE_BYTES,
  LINE_CELLS,
  wholeLines,
  seqAdd,
  seqDistance,
  RING_CONTROL_BYTES,
  RING_HEAD_CELL,
  RING_HASHED_CELL,
  RING_RELEASED_CELL,
  RECORD_FRAME,
  RECORD_PAD,
  RECORD_HEADER_BYTES,
  SPAN_BYTES,
  align8,
  recordBytesFor,
} from './layout.js';
export { FrameReader, type FrameLimits, type FrameErrorCode } from './frame-reader.js';
export { ChainTable, LANE_NAMES, LANE_COUNT, HEAVY, MEDIUM, LIGHT, laneIndex, type LaneName } from './chain-table.js';
export { LoadCounters } from './counters.js';
export { LaneCores } from './lane-cores.js';

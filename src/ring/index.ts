export {
  RingView, RingProducer, forEachRecord, recordBytesFor, align8,
  RECORD_FRAME, RECORD_PAD, RECORD_HEADER_BYTES, SPAN_BYTES, HASH_BYTES, RING_CONTROL_BYTES,
} from './lane-ring.js';
export { FrameReader, type FrameLimits, type FrameErrorCode } from './frame-reader.js';
export { ChainTable, LANE_NAMES, LANE_COUNT, HEAVY, MEDIUM, LIGHT, laneIndex, type LaneName } from './chain-table.js';
export { LoadCounters } from './counters.js';
export { LaneCores } from './lane-cores.js';

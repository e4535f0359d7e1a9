// What clients may hold and take, bounded: connections and requests in flight
// (per address and in all), Host and Origin checks, the front door's time
// shared by client address, file descriptors, and the bytes held for clients
// (frames in progress, replies unread). Everything from the network is hostile.
export { ConnectionGuard, REFUSAL_CAUSES, type GuardSettings, type GuardStats, type HttpRoutes, type RefusalCause } from './guard.js';
export {
  BARRED_REASON,
  SHED_REASON,
  AddressTurns,
  EventLoopTurns,
  loopTurnsOf,
  OPEN_UNITS,
  REQUEST_US_PER_UNIT,
  frameUnits,
  maxMinLevel,
  type AddressUse,
  type AddressTurnStats,
  type FrameCharge,
  type SharedStream,
} from './address-turns.js';
export { DescriptorWatch, connectionBounds, descriptorLimit, openDescriptors, type ConnectionBounds } from './descriptors.js';
export { ClientBuffers, type ClientBufferLimits, type OutboundHolder } from './client-buffers.js';
export { RECORD_MS, TURN_BOUNDS_S, TURN_COUNTS, TurnMeter, describeCounts, type LongTurn, type TurnCountName, type TurnTotals } from './turn-meter.js';

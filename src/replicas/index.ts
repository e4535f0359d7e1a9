// Standby replicas (docs/replicas.md): the owner's shipping stream to its
// standby (shipper), the standby's end of it (standby-session), their
// messages, and the gate that holds `committed` for the standby's
// acknowledgement. The store's half (reading a seal for shipping, storing a
// shipped one) is the ledger's; it plugs in as a SealSource and a SealSink.
// The fleet names the pairs (src/fleet/standby.ts); the gateway wires both.
export {
  MAX_SEALS_IN_FLIGHT,
  REPLICA_ERROR_CODES,
  ReplicaStreamError,
  decodeMessage,
  encodeMessage,
  encodeSealParts,
  type DurableMessage,
  type ErrorMessage,
  type HelloMessage,
  type ReplicaErrorCode,
  type ReplicaMessage,
  type SealMessage,
} from './messages.js';
export { Shipper, type SealSource, type ShipperOptions, type ShipperState, type StandbyTarget } from './shipper.js';
export { CLOSE_FAILED, CLOSE_REFUSED, StandbySession, type SealSink, type SessionSocket, type StandbySessionOptions } from './standby-session.js';
export { StandbyStreams, type StandbyStreamsOptions } from './standby-streams.js';
export { ReplicaGate, type ReplicaGateOptions, type ReplicaState, type ReplicaView } from './gate.js';
export { Takeovers, type TakeoverParts } from './takeover.js';
export { Follower, type FollowerOutcome, type FollowerParts } from './follower.js';

// Ingest: the WebSocket stream and admission. A frame is walked, checked,
// charged and given its seqs synchronously in the uWS callback, copied into its
// lane's ring, and answered in order once hashed; `committed` goes out once its
// block is sealed. The HTTP API (src/http) admits POSTed entries the same way.
export {
  Admission,
  Rejection,
  Repeat,
  StoredRepeat,
  Unclaimed,
  type AdmissionParts,
  type AdmissionStats,
  type CommitProbe,
  type FrameOwner,
  type PendingFrame,
  type FairShareGate,
} from './admission.js';
export { answerHashed, type LatencyObserver } from './accepted.js';
export { onSealerEvent, type CommitHold, type CommitParts, type CommitRelease, type SealedEvent } from './commits.js';
export { ChainRegistry, ChainState, type BlockWriter } from './chains.js';
export { addStreamRoute, movedStreams, revokeStreams, StreamConnection } from './stream.js';
export { MOVED_CLOSE, MOVED_REASON, type ChainOwnership, type ChainVerdict, type ClaimResult } from './ownership.js';
export { encodeAccepted, encodeCommitted, encodeError, encodeRepeat } from './replies.js';
export { FrameIdWindow, type FrameIdStats } from './frame-ids.js';
export { SealProgress } from './seal-progress.js';

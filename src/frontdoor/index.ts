export { Admission, Rejection, type PendingFrame, type FrameOwner, type AdmissionStats } from './admission.js';
export { ChainRegistry, ChainState, type BlockWriter } from './chains.js';
export { addStreamRoute, StreamConnection } from './stream.js';
export { addHttpRoutes, type HttpContext, type LedgerReads } from './http.js';
export { encodeAccepted, encodeCommitted, encodeError } from './replies.js';
export { loadUws } from './uws.js';
export { SealProgress, chainView, healthView, lanesView } from './views.js';
export { ConnectionGuard, REFUSAL_CAUSES, type GuardSettings, type GuardStats, type HttpRoutes, type RefusalCause } from './guard.js';
export { DescriptorWatch, connectionBounds, descriptorLimit, openDescriptors, type ConnectionBounds } from './descriptors.js';

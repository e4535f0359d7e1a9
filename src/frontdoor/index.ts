export { Admission, Rejection, type PendingFrame, type FrameOwner, type AdmissionStats } from './admission.js';
export { ChainRegistry, ChainState, type BlockWriter } from './chains.js';
export { addStreamRoute, revokeStreams, StreamConnection } from './stream.js';
export { addCreditRoutes, addOpenModeCreditRoutes, type CreditRouteContext } from './credit-routes.js';
export { addHttpRoutes, type HttpContext, type LedgerReads } from './http.js';
export { encodeAccepted, encodeCommitted, encodeError } from './replies.js';
export { loadUws } from './uws.js';
export { SealProgress, chainView, healthView, lanesView } from './views.js';
export { ClientBuffers, type ClientBufferLimits, type OutboundHolder } from './client-buffers.js';

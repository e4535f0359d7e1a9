// The HTTP API of protocol v1 (docs/protocol.md §6): entries in and out with
// their proofs, chains and lanes, accounts and credits, the operator's lane
// routes, anchors, health and readiness, and the views those answer.
export { METRICS_PATH, addHttpRoutes, sharedScrapes, type HttpContext, type MetricsText } from './api-routes.js';
export type { LedgerReads } from './ledger-read.js';
export { addCreditRoutes, addOpenModeCreditRoutes, type CreditRouteContext } from './credit-routes.js';
export { addLaneRoutes, type LaneRouteContext } from './lane-routes.js';
export { addAnchorRoutes, type AnchorRouteContext } from './anchor-routes.js';
export { READYZ_PATH, addReadinessRoute, notReadyBecause, type ReadinessState } from './readiness.js';
export { chainView, healthView, lanesView } from './views.js';
export type { ChainFilter } from './listings.js';
export { addHandoffRoutes, type HandoffRouteContext, type HandoffService } from './handoff-routes.js';
export { addReplicaRoute, type ReplicaRouteContext, type ReplicaStreams, type ReplicaStreamSession } from './replica-routes.js';
export { servedElsewhere } from './api-routes.js';
export { LatestHead, addDirectoryRoutes, proofHead, type CosignatureReceiver, type DirectoryRouteContext, type ProofHead } from './directory-routes.js';

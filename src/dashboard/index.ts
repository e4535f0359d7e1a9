// The dashboard and explorer (docs/protocol.md §12): the page's files, served
// from the package, and its live feed over a WebSocket.
export { CHAIN_HISTORY, DASHBOARD } from './bounds.js';
export { CHAIN_COLUMNS, ChainHistories, type ChainSeries } from './chain-history.js';
export { CommitSampler } from './commit-sampler.js';
export { DashboardFeed, type DashboardSample, type FleetDashboardView } from './feed.js';
export { StaticFiles, STATIC_LIMITS } from './static-files.js';

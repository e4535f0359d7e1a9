// The dashboard and explorer (docs/protocol.md §12): the page's files, served
// from the package, and its live feed over a WebSocket.
export { CommitSampler, DashboardFeed, DASHBOARD, type DashboardEvent, type DashboardSample, type FleetDashboardView } from './feed.js';
export { StaticFiles, STATIC_LIMITS } from './static-files.js';

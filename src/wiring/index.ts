// How the folders are put together into a running gateway: the start-up
// phases in order (store, the fleet when there is one, shared memory, streams, threads, intake, the port),
// each returning what it built and pushing how to stop it; the routes; and
// the views of the running parts. Only the composition root (gateway.ts) uses it.
export { StopStack } from './stop-stack.js';
export { openStore, type StoreParts } from './store.js';
export { allocateShared, type SharedParts } from './shared.js';
export { startThreads, type ThreadParts } from './threads.js';
export { openClients, openIntake, type ClientParts, type IntakeParts } from './intake.js';
export { addRoutes } from './routes.js';
export { createApp, listen, type Listening } from './listen.js';
export { metricSources, type RunningParts } from './views.js';
export { connectFleet, joinFleet, type FleetParts } from './fleet.js';
export { registerReplicaMetrics, startReplicas, type ReplicaPhase, type ReplicaStore } from './replicas.js';
export type { ReplicaParts } from './replica-parts.js';

// GET /readyz (docs/protocol.md, "Readiness"): may a load balancer send this
// gateway traffic? /healthz says whether the process is sound; /readyz says
// whether every part a frame passes through is up right now.
import { sendJson } from '../uws/index.js';
import type { HttpRoutes } from '../defence/index.js';

export interface ReadinessState {
  /** The gateway has begun to shut down: traffic should go elsewhere. */
  stopping: boolean;
  storeOpen: boolean;
  sealerAlive: boolean;
  /** Lanes with no live worker thread, by name. */
  lanesDown: readonly string[];
  /** Why seals fail right now (admission refuses `busy` meanwhile), or null. */
  storeTrouble: string | null;
}

/** The first reason the gateway is not ready, or null when it is. */
export function notReadyBecause(state: ReadinessState): string | null {
  if (state.stopping) return 'shutting down';
  if (!state.storeOpen) return 'the store is not open';
  if (!state.sealerAlive) return 'the sealer thread is not running';
  if (state.lanesDown.length > 0) return `lanes without a worker thread: ${state.lanesDown.join(', ')}`;
  if (state.storeTrouble !== null) return state.storeTrouble;
  return null;
}

export const READYZ_PATH = '/readyz';

export function addReadinessRoute(app: HttpRoutes, state: () => ReadinessState): void {
  app.get(READYZ_PATH, (res) => {
    const reason = notReadyBecause(state());
    if (reason === null) sendJson(res, '200 OK', { ready: true });
    else sendJson(res, '503 Service Unavailable', { ready: false, reason });
  });
}

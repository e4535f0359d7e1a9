// `GET /v1/anchors/windows`: the Ethereum anchor windows with their
// transactions (docs/protocol.md "Anchors"), answered by the anchor thread as JSON text.
import { parseIndex, sendError, sendText } from '../uws/index.js';
import type { HttpRoutes } from '../defence/index.js';

const WINDOW_PAGE = { defaultLimit: 100, maxLimit: 1000 };

export interface AnchorRouteContext {
  /** `{"windows": […], "costs": {…}}`: windows whose first directory height is `from` or more, oldest first, and what anchoring cost. */
  windows(from: number, limit: number): Promise<string | null>;
}

export function addAnchorRoutes(app: HttpRoutes, ctx: AnchorRouteContext | null): void {
  app.get('/v1/anchors/windows', (res, req) => {
    const query = new URLSearchParams(req.getQuery() ?? '');
    const from = parseIndex(query.get('from') ?? '0');
    const limit = parseIndex(query.get('limit') ?? String(WINDOW_PAGE.defaultLimit));
    if (from === null) return sendError(res, 'bad_request', `from must be a non-negative integer, got ${JSON.stringify(query.get('from'))}`);
    if (limit === null) return sendError(res, 'bad_request', `limit must be a non-negative integer, got ${JSON.stringify(query.get('limit'))}`);
    if (ctx === null) return sendError(res, 'not_found', 'this gateway does not anchor to Ethereum (anchors.ethereum.rpcUrl is not set)');
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    ctx.windows(from, Math.min(limit, WINDOW_PAGE.maxLimit)).then(
      (json) => {
        if (!aborted) sendText(res, 'application/json', json ?? '{"windows":[]}');
      },
      (error: unknown) => {
        if (!aborted) sendError(res, 'internal', error instanceof Error ? error.message : String(error));
      },
    );
  });
}

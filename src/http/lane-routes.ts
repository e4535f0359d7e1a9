// The operator's routes of the balancer (docs/protocol.md "Lanes: operator
// routes"): the lane table read and replaced, chains pinned to a lane and
// unpinned, and the balancer's recent decisions. The admin key guards them; in
// open mode (no admin key) only a client on this machine (loopback) may use them.
import { LANE_NAMES } from '../ring/index.js';
import type { Credits } from '../credits/index.js';
import { checkLaneTable, type LaneDecision, type LaneTable } from '../scheduler/index.js';
import type { Logger } from '../log/index.js';
import type { ChainRegistry, ChainState } from '../frontdoor/index.js';
import type { ClientBuffers, HttpRoutes } from '../defence/index.js';
import { parseIndex, readBody, sendError, sendJson, type HttpRequest, type HttpResponse } from '../uws/index.js';
import { chainOr404 } from './chain-path.js';
import { operatorOr403 } from './operator.js';

/** Lane tables and pin bodies are small JSON objects. */
const MAX_BODY_BYTES = 64 * 1024;
const EVENTS_PAGE = { defaultLimit: 100, maxLimit: 1000 };

export interface LaneRouteContext {
  log: Logger;
  chains: ChainRegistry;
  buffers: ClientBuffers;
  /** Authenticated mode; null: open mode (loopback clients only). */
  credits: Credits | null;
  laneTable(): LaneTable;
  /** Stores a validated table and tells the scheduler; resolves once durable. */
  setLaneTable(table: LaneTable): Promise<void>;
  /** The chain's pinned lane, or null. */
  pinOf(chain: ChainState): number | null;
  /** Pins (lane) or unpins (null) a chain; resolves once durable. */
  pin(chain: ChainState, lane: number | null): Promise<void>;
  events(since: number, limit: number): LaneDecision[];
}

type Routes = Pick<HttpRoutes, 'get' | 'put' | 'del'>;

export function addLaneRoutes(app: Routes, ctx: LaneRouteContext): void {
  app.get('/v1/lanes/table', (res, req) => {
    if (operator(ctx, res, req)) sendJson(res, '200 OK', ctx.laneTable());
  });
  app.put('/v1/lanes/table', (res, req) => {
    if (!operator(ctx, res, req)) return;
    withJson(ctx, res, 'PUT /v1/lanes/table', async (body) => {
      const checked = checkLaneTable(body, 'lane table');
      if ('problems' in checked) return sendError(res, 'bad_request', checked.problems.join('; '));
      await ctx.setLaneTable(checked.table);
      return checked.table;
    });
  });
  app.get('/v1/lanes/events', (res, req) => {
    if (!operator(ctx, res, req)) return;
    const query = new URLSearchParams(req.getQuery() ?? '');
    const since = parseIndex(query.get('since') ?? '0');
    const limit = parseIndex(query.get('limit') ?? String(EVENTS_PAGE.defaultLimit));
    if (since === null) return sendError(res, 'bad_request', `since must be a non-negative integer, got ${JSON.stringify(query.get('since'))}`);
    if (limit === null) return sendError(res, 'bad_request', `limit must be a non-negative integer, got ${JSON.stringify(query.get('limit'))}`);
    sendJson(res, '200 OK', { events: ctx.events(since, Math.min(limit, EVENTS_PAGE.maxLimit)) });
  });
  app.put('/v1/chains/:name/lane', (res, req) => {
    if (!operator(ctx, res, req)) return;
    const chain = chainOr404(ctx.chains, res, req.getParameter(0));
    if (chain === null) return;
    withJson(ctx, res, `PUT /v1/chains/${chain.name}/lane`, async (body) => {
      const lane = laneOf(body);
      if (lane === null)
        return sendError(res, 'bad_request', `the body must be {"lane": one of ${LANE_NAMES.map((n) => `"${n}"`).join(', ')}}, got ${JSON.stringify(body)}`);
      await ctx.pin(chain, lane);
      return { chain: chain.name, lane: LANE_NAMES[lane], pinned: true };
    });
  });
  app.del('/v1/chains/:name/lane', (res, req) => {
    if (!operator(ctx, res, req)) return;
    const chain = chainOr404(ctx.chains, res, req.getParameter(0));
    if (chain === null) return;
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const was = ctx.pinOf(chain);
    ctx.pin(chain, null).then(
      () => {
        if (!aborted) sendJson(res, '200 OK', { chain: chain.name, pinned: false, was: was === null ? null : LANE_NAMES[was] });
      },
      (error: unknown) => internal(ctx, res, `DELETE /v1/chains/${chain.name}/lane`, error, aborted),
    );
  });
}

function operator(ctx: LaneRouteContext, res: HttpResponse, req: HttpRequest): boolean {
  return operatorOr403(ctx.credits, res, req, 'the lane routes (lanes, pins and the lane table)');
}

function laneOf(body: unknown): number | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const keys = Object.keys(body);
  const lane = (body as { lane?: unknown }).lane;
  if (keys.length !== 1 || typeof lane !== 'string') return null;
  const index = (LANE_NAMES as readonly string[]).indexOf(lane);
  return index < 0 ? null : index;
}

/** Reads a JSON body, runs `handle`, and answers its result with 200 (unless it answered itself). */
function withJson(ctx: LaneRouteContext, res: HttpResponse, where: string, handle: (body: unknown) => Promise<unknown>): void {
  let aborted = false;
  const run = async (): Promise<void> => {
    const raw = await readBody(res, MAX_BODY_BYTES, ctx.buffers, () => {
      aborted = true;
    });
    if (raw === null) return;
    res.onAborted(() => {
      aborted = true;
    });
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      return sendError(res, 'bad_request', `the body is not JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    const answer = await handle(body);
    if (!aborted && answer !== undefined) sendJson(res, '200 OK', answer);
  };
  run().catch((error: unknown) => internal(ctx, res, where, error, aborted));
}

function internal(ctx: LaneRouteContext, res: HttpResponse, where: string, error: unknown, aborted: boolean): void {
  ctx.log.error({ event: 'internal-error', where, err: error }, `internal error in ${where}`);
  if (!aborted) sendError(res, 'internal', 'internal error; see the gateway log');
}

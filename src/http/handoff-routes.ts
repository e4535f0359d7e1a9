// The routes of a handoff between gateways of a fleet (DESIGN.md "Fleet",
// docs/protocol.md "Fleet"), the operator's (admin key): on the owner,
// `POST …/handoff {to}` (stop admitting, seal, answer the head) and
// `POST …/handoff/abort`; on the new gateway, `POST …/adopt {from, head}`,
// which pulls the chain's blocks from the owner's `GET …/export`. Only a
// gateway in a fleet has them; what they do is the fleet's (src/wiring/handoff.ts).
import { CHAIN_NAME_RULE, parseChainName } from '../protocol/index.js';
import { isRefusal, type Credits, type Refusal } from '../credits/index.js';
import type { ClientBuffers, HttpRoutes } from '../defence/index.js';
import type { Logger } from '../log/index.js';
import { parseIndex, readBody, sendBytes, sendError, sendJson, type HttpRequest, type HttpResponse } from '../uws/index.js';
import { operatorOr403 } from './operator.js';

/** The bodies are small JSON objects (a head carries a chain's balances: a few per account). */
const MAX_BODY_BYTES = 1024 * 1024;
const WHAT = 'the handoff routes';

export interface HandoffService {
  /** Stops admitting `chain`, seals what was accepted, and answers its head. */
  handoff(chain: string, body: unknown): Promise<unknown>;
  abort(chain: string): Promise<unknown>;
  /** Pulls the chain's blocks from its owner and stores them (`prepare`: only what is sealed, no head). */
  adopt(chain: string, body: unknown): Promise<unknown>;
  /** A page of the chain's blocks from `from` on, msgpack (docs/protocol.md "Fleet"). */
  exportPage(chain: string, from: number): Promise<Uint8Array | Refusal>;
}

export interface HandoffRouteContext {
  log: Logger;
  buffers: ClientBuffers;
  credits: Credits | null;
  service: HandoffService;
}

type Routes = Pick<HttpRoutes, 'get' | 'post'>;

export function addHandoffRoutes(app: Routes, ctx: HandoffRouteContext): void {
  app.post('/v1/chains/:name/handoff', (res, req) => withJson(ctx, res, req, 'handoff', (chain, body) => ctx.service.handoff(chain, body)));
  app.post('/v1/chains/:name/handoff/abort', (res, req) => withJson(ctx, res, req, 'handoff/abort', (chain) => ctx.service.abort(chain)));
  app.post('/v1/chains/:name/adopt', (res, req) => withJson(ctx, res, req, 'adopt', (chain, body) => ctx.service.adopt(chain, body)));
  app.get('/v1/chains/:name/export', (res, req) => {
    const chain = chainOf(ctx, res, req);
    if (chain === null) return;
    const from = parseIndex(new URLSearchParams(req.getQuery() ?? '').get('from') ?? '0');
    if (from === null) return sendError(res, 'bad_request', 'from must be a non-negative integer (a block height)');
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    ctx.service.exportPage(chain, from).then(
      (page) => {
        if (aborted) return;
        if (isRefusal(page)) return sendError(res, page.code, page.message);
        sendBytes(res, '200 OK', 'application/msgpack', Buffer.from(page.buffer, page.byteOffset, page.byteLength), []);
      },
      (error: unknown) => internal(ctx, res, `GET /v1/chains/${chain}/export`, error, aborted),
    );
  });
}

/** The operator's, and a chain name in the path; null after answering why not. */
function chainOf(ctx: HandoffRouteContext, res: HttpResponse, req: HttpRequest): string | null {
  if (!operatorOr403(ctx.credits, res, req, WHAT)) return null;
  const name = parseChainName(req.getParameter(0) ?? '');
  if (name === null) sendError(res, 'bad_request', `bad chain name in the path: ${CHAIN_NAME_RULE}`);
  return name;
}

/** Reads a JSON body (an empty one is `{}`), runs `handle`, and answers its result or refusal. */
function withJson(
  ctx: HandoffRouteContext,
  res: HttpResponse,
  req: HttpRequest,
  route: string,
  handle: (chain: string, body: unknown) => Promise<unknown>,
): void {
  const chain = chainOf(ctx, res, req);
  if (chain === null) return;
  const where = `POST /v1/chains/${chain}/${route}`;
  let aborted = false;
  const run = async (): Promise<void> => {
    const raw = await readBody(res, MAX_BODY_BYTES, ctx.buffers, () => {
      aborted = true;
    });
    if (raw === null) return;
    res.onAborted(() => {
      aborted = true;
    });
    let body: unknown = {};
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (error) {
        return sendError(res, 'bad_request', `the body is not JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const answer = await handle(chain, body);
    if (aborted) return;
    if (isRefusal(answer)) sendError(res, answer.code, answer.message, undefined, answer.location ?? null);
    else sendJson(res, '200 OK', answer);
  };
  run().catch((error: unknown) => internal(ctx, res, where, error, aborted));
}

function internal(ctx: HandoffRouteContext, res: HttpResponse, where: string, error: unknown, aborted: boolean): void {
  ctx.log.error({ event: 'internal-error', where, err: error }, `internal error in ${where}`);
  if (!aborted) sendError(res, 'internal', `${where} failed: ${error instanceof Error ? error.message : String(error)}`);
}
